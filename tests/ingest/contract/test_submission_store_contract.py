"""What every SubmissionStore does: one behaviour spec, held by the in-memory fake and by PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tempen_ingest.adapters.postgres import SCHEMA, PostgresSubmissionStore
from tempen_ingest.ports import Comment, Delivery, Outcome, PreparedSubmission, ReplayedDeliveryError, SubmissionStore
from tempen_shared.db import create_pool, migrate
from tempen_shared.events import CanonicalSubmission
from tests.ingest.fakes import InMemorySubmissionStore

STAMP = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LATER = datetime.now(UTC) + timedelta(days=1)
EARLIER = datetime.now(UTC) - timedelta(days=1)


def prepared(
    sid: str, *, respondent: str | None = "p-anna", answers: dict[str, int] | None = None
) -> PreparedSubmission:
    values = answers or {"q1": 4}
    submission = CanonicalSubmission(
        tenant="testkommun",
        instrument="test-puls",
        unit="grupp-a1",
        submission_id=sid,
        submitted_at=STAMP,
        answers=values,
    )
    return PreparedSubmission(submission, respondent, f"fp-{sorted(values.items())}-{respondent}", f"testkommun:{sid}")


def outcomes(stored: list[Any]) -> list[tuple[Outcome, int]]:
    return [(s.outcome, s.revision) for s in stored]


class SubmissionStoreContract:
    """Not collected itself (no Test prefix); subclasses supply `store`."""

    @pytest.fixture
    def store(self) -> SubmissionStore:
        raise NotImplementedError

    async def test_same_content_is_a_duplicate_and_new_content_a_correction(self, store: SubmissionStore) -> None:
        first = await store.store([prepared("a")])
        again = await store.store([prepared("a")])
        changed = await store.store([prepared("a", answers={"q1": 1})])
        assert outcomes(first + again + changed) == [
            (Outcome.ACCEPTED, 1),
            (Outcome.DUPLICATE, 1),
            (Outcome.CORRECTED, 2),
        ]

    async def test_a_replayed_delivery_is_refused_and_stores_nothing(self, store: SubmissionStore) -> None:
        delivery = Delivery("testkommun", "formbricks", "msg_1")
        await store.store([prepared("b")], delivery=delivery)
        with pytest.raises(ReplayedDeliveryError):
            await store.store([prepared("b", answers={"q1": 2}), prepared("c")], delivery=delivery)
        later = await store.store([prepared("c"), prepared("b")])
        assert outcomes(later) == [(Outcome.ACCEPTED, 1), (Outcome.DUPLICATE, 1)]

    async def test_the_same_delivery_id_from_another_platform_is_not_a_replay(self, store: SubmissionStore) -> None:
        await store.store([prepared("d")], delivery=Delivery("testkommun", "formbricks", "same"))
        stored = await store.store([prepared("e")], delivery=Delivery("testkommun", "kobo", "same"))
        assert outcomes(stored) == [(Outcome.ACCEPTED, 1)]

    async def test_erasure_retracts_each_submission_of_the_respondent_once(self, store: SubmissionStore) -> None:
        await store.store([prepared("f"), prepared("g", answers={"q1": 5}), prepared("h", respondent="p-bo")])
        await store.store([prepared("g", answers={"q1": 3})], comments=[Comment("testkommun", "g", "fri", "text")])
        retracted = await store.erase_respondent(tenant="testkommun", respondent="p-anna")
        again = await store.erase_respondent(tenant="testkommun", respondent="p-anna")
        other_tenant = await store.erase_respondent(tenant="annan", respondent="p-bo")
        assert [(r.submission_id, r.unit, r.revision) for r in retracted] == [
            ("f", "grupp-a1", 2),
            ("g", "grupp-a1", 3),
        ]
        assert again == other_tenant == []

    async def test_an_erased_submission_is_never_stored_again(self, store: SubmissionStore) -> None:
        await store.store([prepared("i")])
        await store.erase_respondent(tenant="testkommun", respondent="p-anna")
        redelivered = await store.store([prepared("i"), prepared("i", answers={"q1": 1})])
        assert outcomes(redelivered) == [(Outcome.ERASED, 2), (Outcome.ERASED, 2)]

    async def test_purged_answers_still_recognise_a_redelivery(self, store: SubmissionStore) -> None:
        await store.store([prepared("j")], delivery=Delivery("testkommun", "typeform", "ev-1"))
        kept = await store.purge(answers_before=EARLIER, comments_before=EARLIER, deliveries_before=EARLIER)
        purged = await store.purge(answers_before=LATER, comments_before=LATER, deliveries_before=LATER)
        after = await store.store([prepared("j")], delivery=Delivery("testkommun", "typeform", "ev-1"))
        assert (kept.answers, kept.deliveries) == (0, 0)
        assert (purged.answers, purged.deliveries) == (1, 1)
        assert outcomes(after) == [(Outcome.DUPLICATE, 1)]


class TestInMemorySubmissionStore(SubmissionStoreContract):
    @pytest.fixture
    def store(self) -> SubmissionStore:
        return InMemorySubmissionStore()


@pytest.mark.integration
class TestPostgresSubmissionStore(SubmissionStoreContract):
    @pytest.fixture
    async def store(self, database_url: str) -> AsyncIterator[SubmissionStore]:
        pool = await create_pool(database_url, max_size=4)
        try:
            await migrate(pool, schema=SCHEMA, package="tempen_ingest")
            yield PostgresSubmissionStore(pool, topic=lambda name: f"contract.{name}", on_commit=lambda: None)
        finally:
            await pool.close()
