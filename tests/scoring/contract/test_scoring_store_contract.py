"""What every ScoringStore and ScoreReader do: one behaviour spec, held by the in-memory fake and by
PostgreSQL. Expectations are hand-written from the fixture tenant (minimum group size 5; grupp-a1 under
enhet-a, forv and kommun)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from tempen_scoring.adapters.postgres import SCHEMA, PostgresScoreReader, PostgresScoringStore
from tempen_scoring.domain.rescoring import IncomingContribution, IncomingRetraction
from tempen_scoring.ports import ScoreReader, ScoringStore
from tempen_scoring.service import contributions_of
from tempen_shared.consumer import PartitionFencedError
from tempen_shared.db import create_pool, migrate
from tempen_shared.events import DeadLetter, SubmissionAccepted, submission_event_id
from tempen_shared.orgcopy import ORG_COPY
from tempen_shared.positions import Claim, Position
from tempen_shared.tenancy.loader import load_catalog
from tests.conftest import FIXTURE_CONFIG
from tests.scoring.fakes import InMemoryScoring

CATALOG = load_catalog(FIXTURE_CONFIG)
WHEN = datetime(2026, 9, 10, 9, 0, tzinfo=UTC)  # period 2026-09, closed whatever today is
TOPIC = "tempen.submissions"
CLUSTER = "kafka-1"


@dataclass(frozen=True)
class Subject:
    store: ScoringStore
    reader: ScoreReader
    dead_lettered: Callable[[], Awaitable[list[DeadLetter]]]


def submitted(sid: str, value: int, *, revision: int = 1, unit: str = "grupp-a1") -> list[IncomingContribution]:
    event = SubmissionAccepted(
        event_id=submission_event_id("testkommun", sid, revision),
        occurred_at=WHEN,
        tenant="testkommun",
        instrument="test-puls",
        unit=unit,
        submission_id=sid,
        revision=revision,
        submitted_at=WHEN,
        answers={"q1": value, "q2": value, "q3": value},
    )
    return contributions_of(event, CATALOG)


def five(prefix: str, value: int = 4) -> list[IncomingContribution | IncomingRetraction]:
    return [c for n in range(5) for c in submitted(f"{prefix}{n}", value)]


def dead_letter(offset: int) -> DeadLetter:
    return DeadLetter(
        source_topic="tempen.submissions",
        partition=0,
        offset=offset,
        key="testkommun:grupp-a1",
        value="{}",
        reason="invalid",
        detail="field tenant: missing",
        consumer="scoring",
        dead_lettered_at=WHEN,
    )


async def unit_rows(reader: ScoreReader, unit: str = "grupp-a1") -> list[tuple[Any, ...]]:
    rows = await reader.unit_series("testkommun", unit, model="test-model", scope="unit", dimension=None)
    return [(r["period"], r["dimension"], r["respondents"], r["publishable"], r["index"] is not None) for r in rows]


class ScoringStoreContract:
    """Not collected itself (no Test prefix); subclasses supply `subject`."""

    @pytest.fixture
    def subject(self) -> Subject:
        raise NotImplementedError

    async def test_five_new_submissions_publish_the_unit_and_everything_above_it(self, subject: Subject) -> None:
        # Three dimensions in five groups: grupp-a1's unit and subtree, and the subtrees above it.
        assert await subject.store.apply(five("a"), []) == (5, 0, 15)
        assert await unit_rows(subject.reader) == [
            ("2026-09", "ledarskap", 5, True, True),
            ("2026-09", "motivation", 5, True, True),
            ("2026-09", "total", 5, True, True),
        ]
        above = await subject.reader.subtree_figures("testkommun", "test-puls", "test-model", ["2026-09"], ["kommun"])
        assert sorted((r["dimension"], r["respondents"], r["publishable"]) for r in above) == [
            ("ledarskap", 5, True),
            ("motivation", 5, True),
            ("total", 5, True),
        ]
        assert await subject.reader.measured_periods("testkommun", "test-puls", ["2026-08", "2026-09"]) == {
            ("test-model", "2026-09")
        }

    async def test_a_redelivered_batch_is_ignored_and_writes_no_scores(self, subject: Subject) -> None:
        await subject.store.apply(five("b"), [])
        before = await unit_rows(subject.reader)
        assert await subject.store.apply(five("b"), []) == (0, 5, 0)
        assert await unit_rows(subject.reader) == before

    async def test_a_correction_replaces_the_submission_and_a_stale_revision_is_ignored(self, subject: Subject) -> None:
        await subject.store.apply(five("c", value=2), [])
        low = await subject.reader.unit_series(
            "testkommun", "grupp-a1", model="test-model", scope="unit", dimension="total"
        )
        assert await subject.store.apply(submitted("c0", 5, revision=2), []) == (1, 0, 15)
        assert await subject.store.apply(submitted("c0", 1, revision=1), []) == (0, 1, 0)
        high = await subject.reader.unit_series(
            "testkommun", "grupp-a1", model="test-model", scope="unit", dimension="total"
        )
        assert [r["respondents"] for r in high] == [5]
        assert high[0]["index"] > low[0]["index"]

    async def test_a_retraction_below_the_minimum_hides_the_figures_but_keeps_the_row(self, subject: Subject) -> None:
        await subject.store.apply(five("d"), [])
        # A retraction is neither applied (it adds no contribution) nor ignored; every group it reached moves.
        assert await subject.store.apply([IncomingRetraction("testkommun", "d0", 2)], []) == (0, 0, 15)
        assert await unit_rows(subject.reader) == [
            ("2026-09", "ledarskap", 4, False, False),
            ("2026-09", "motivation", 4, False, False),
            ("2026-09", "total", 4, False, False),
        ]
        statuses = await subject.reader.group_statuses("testkommun", "test-puls", ["2026-09"])
        assert {(s["unit"], s["scope"]): s["status"] for s in statuses}[("grupp-a1", "unit")] != "published"
        # Older revisions of a retracted submission never bring it back.
        assert await subject.store.apply(submitted("d0", 4, revision=1), []) == (0, 1, 0)

    async def test_withdrawn_rows_are_left_out_of_what_the_reader_returns(self, subject: Subject) -> None:
        await subject.store.apply(five("e"), [])
        await subject.store.apply([IncomingRetraction("testkommun", f"e{n}", 2) for n in range(5)], [])
        assert await unit_rows(subject.reader) == []
        above = await subject.reader.subtree_figures("testkommun", "test-puls", "test-model", ["2026-09"], ["kommun"])
        assert above == []

    async def test_dead_letters_are_kept_with_their_batch(self, subject: Subject) -> None:
        await subject.store.apply(five("f"), [dead_letter(7)])
        await subject.store.apply([], [dead_letter(8)])
        assert [(d.offset, d.reason) for d in await subject.dead_lettered()] == [(7, "invalid"), (8, "invalid")]

    async def test_another_unit_scores_only_itself(self, subject: Subject) -> None:
        await subject.store.apply(five("g"), [])
        await subject.store.apply([c for n in range(2) for c in submitted(f"h{n}", 3, unit="grupp-b1")], [])
        assert [r[2] for r in await unit_rows(subject.reader, "grupp-b1")] == [2, 2, 2]
        assert [r[2] for r in await unit_rows(subject.reader)] == [5, 5, 5]

    async def test_tenant_scores_give_figures_of_published_groups_only_for_the_units_and_periods_asked(
        self, subject: Subject
    ) -> None:
        await subject.store.apply(five("i"), [])
        await subject.store.apply([c for n in range(2) for c in submitted(f"j{n}", 3, unit="grupp-b1")], [])

        async def cells(periods: list[str], **query: Any) -> list[tuple[Any, ...]]:
            rows = await subject.reader.tenant_scores("testkommun", "test-puls", "test-model", periods, **query)
            return sorted(
                (r["unit"], r["scope"], r["period"], r["dimension"], r["publishable"], r["suppression_reason"],
                 r["index"] is not None, r["respondents"])
                for r in rows
            )  # fmt: skip

        # grupp-b1's two answers are below the minimum, and would show as grupp-a1's subtracted from the
        # seven above them both: both groups hidden, the seven published at forv and kommun.
        hidden = [
            (unit, "unit", "2026-09", d, False, reason, False, None)
            for unit, reason in (("grupp-a1", "differencing"), ("grupp-b1", "below_minimum"))
            for d in ("ledarskap", "motivation", "total")
        ]
        assert await cells(["2026-09"], scope="unit", units=["grupp-a1", "grupp-b1"]) == hidden, (
            "a hidden group gives no index and no respondents"
        )
        assert await cells(["2026-09"], scope="unit", units=["grupp-b1"]) == hidden[3:], "only the units asked for"
        published = [
            ("kommun", "subtree", "2026-09", d, True, None, True, 7) for d in ("ledarskap", "motivation", "total")
        ]
        assert await cells(["2026-09"], scope="subtree", units=["kommun"]) == published
        everyone = await cells(["2026-09"], scope=None, units=None)
        assert {(r[0], r[1]) for r in everyone} == {
            ("grupp-a1", "unit"), ("grupp-a1", "subtree"), ("grupp-b1", "unit"), ("grupp-b1", "subtree"),
            ("enhet-a", "subtree"), ("enhet-b", "subtree"), ("forv", "subtree"), ("kommun", "subtree"),
        }  # fmt: skip
        assert await cells(["2026-08"], scope=None, units=None) == [], "only the periods asked for"
        assert await cells(["2026-08", "2026-09"], scope="subtree", units=["kommun"]) == published

    # Consumer positions, fenced by an epoch (issue 14)

    async def test_a_claim_bumps_each_partitions_epoch_in_its_group_only(self, subject: Subject) -> None:
        first = await subject.store.claim("scoring", [(TOPIC, 0), (TOPIC, 1)], cluster=CLUSTER)
        assert first == {(TOPIC, 0): Claim(1, None), (TOPIC, 1): Claim(1, None)}, "nothing stored yet"
        assert await subject.store.claim("scoring", [(TOPIC, 1)], cluster=CLUSTER) == {(TOPIC, 1): Claim(2, None)}
        assert await subject.store.claim("another-group", [(TOPIC, 1)], cluster=CLUSTER) == {(TOPIC, 1): Claim(1, None)}
        assert await subject.store.claim("scoring", [(TOPIC, 0), (TOPIC, 1)], cluster=CLUSTER) == {
            (TOPIC, 0): Claim(2, None),
            (TOPIC, 1): Claim(3, None),
        }

    async def test_positions_advance_with_their_batch_and_the_next_claim_returns_them(self, subject: Subject) -> None:
        epoch = (await subject.store.claim("scoring", [(TOPIC, 0), (TOPIC, 1)], cluster=CLUSTER))[(TOPIC, 0)].epoch
        at = [Position("scoring", TOPIC, 0, epoch, 120), Position("scoring", TOPIC, 1, epoch, 7)]
        assert await subject.store.apply(five("p"), [dead_letter(119)], positions=at) == (5, 0, 15)
        assert await subject.store.apply([], [], positions=[Position("scoring", TOPIC, 0, epoch, 130)]) == (0, 0, 0)
        assert await subject.store.claim("scoring", [(TOPIC, 0), (TOPIC, 1)], cluster=CLUSTER) == {
            (TOPIC, 0): Claim(epoch + 1, 130),
            (TOPIC, 1): Claim(epoch + 1, 7),
        }

    async def test_a_batch_under_a_stale_epoch_is_refused_and_leaves_nothing(self, subject: Subject) -> None:
        older = (await subject.store.claim("scoring", [(TOPIC, 0), (TOPIC, 1)], cluster=CLUSTER))[(TOPIC, 0)].epoch
        await subject.store.apply([], [], positions=[Position("scoring", TOPIC, 0, older, 40)])
        newer = (await subject.store.claim("scoring", [(TOPIC, 0)], cluster=CLUSTER))[(TOPIC, 0)].epoch
        stale = [Position("scoring", TOPIC, 0, older, 50), Position("scoring", TOPIC, 1, older, 9)]
        with pytest.raises(PartitionFencedError) as refused:
            await subject.store.apply(five("q"), [dead_letter(49)], positions=stale)
        assert refused.value.partitions == ((TOPIC, 0),), "partition 1 is still the older owner's"
        assert await unit_rows(subject.reader) == []
        assert await subject.dead_lettered() == []
        # The new owner applies the same batch as new: no ledger row of it stayed.
        mine = [Position("scoring", TOPIC, 0, newer, 50)]
        assert await subject.store.apply(five("q"), [dead_letter(49)], positions=mine) == (5, 0, 15)
        assert (await subject.store.claim("scoring", [(TOPIC, 0)], cluster=CLUSTER))[(TOPIC, 0)] == Claim(newer + 1, 50)
        assert (await subject.store.claim("scoring", [(TOPIC, 1)], cluster=CLUSTER))[(TOPIC, 1)] == Claim(
            older + 1, None
        ), "nothing of the refused batch moved partition 1 either"

    async def test_an_offset_stored_on_another_kafka_cluster_is_not_returned(self, subject: Subject) -> None:
        epoch = (await subject.store.claim("scoring", [(TOPIC, 0)], cluster=CLUSTER))[(TOPIC, 0)].epoch
        await subject.store.apply([], [], positions=[Position("scoring", TOPIC, 0, epoch, 80)])
        assert await subject.store.claim("scoring", [(TOPIC, 0)], cluster="kafka-2") == {
            (TOPIC, 0): Claim(epoch + 1, None)
        }, "Kafka's committed offset on the new cluster stands"
        await subject.store.apply([], [], positions=[Position("scoring", TOPIC, 0, epoch + 1, 3)])
        assert await subject.store.claim("scoring", [(TOPIC, 0)], cluster="kafka-2") == {
            (TOPIC, 0): Claim(epoch + 2, 3)
        }

    async def test_a_position_of_a_partition_never_claimed_is_refused(self, subject: Subject) -> None:
        with pytest.raises(PartitionFencedError):
            await subject.store.apply(five("r"), [], positions=[Position("scoring", TOPIC, 3, 1, 10)])
        assert await unit_rows(subject.reader) == []


class TestInMemoryScoring(ScoringStoreContract):
    @pytest.fixture
    def subject(self) -> Subject:
        fake = InMemoryScoring(CATALOG)

        async def dead_lettered() -> list[DeadLetter]:
            return list(fake.dead_letters)

        return Subject(fake, fake, dead_lettered)


@pytest.mark.integration
class TestPostgresScoring(ScoringStoreContract):
    @pytest.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        pool = await create_pool(database_url, max_size=4)
        try:
            await migrate(pool, schema=SCHEMA, package="tempen_scoring")
            await migrate(pool, schema=SCHEMA, package=ORG_COPY)

            async def dead_lettered() -> list[DeadLetter]:
                rows = await pool.fetch(
                    f"SELECT topic, payload FROM {SCHEMA}.outbox WHERE topic LIKE '%.dlq' ORDER BY id"
                )
                return [DeadLetter.model_validate(orjson.loads(r["payload"])) for r in rows]

            store = PostgresScoringStore(
                pool, catalog=CATALOG, topic=lambda name: f"contract.{name}", on_commit=lambda: None
            )
            yield Subject(store, PostgresScoreReader(lambda: pool), dead_lettered)
        finally:
            await pool.close()
