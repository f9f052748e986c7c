"""Score events leave through the publication step: the newest version of each changed score, once,
in the same transaction that marks it published; rows a batch is still writing wait for the next round."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
import pytest

from tempen_scoring.adapters.postgres import SCHEMA, PostgresScoringStore
from tempen_scoring.publication import publish_round
from tempen_scoring.rescoring import IncomingContribution
from tempen_scoring.service import contributions_of
from tempen_shared import correlation
from tempen_shared.db import create_pool, migrate
from tempen_shared.events import SubmissionAccepted, submission_event_id
from tempen_shared.orgcopy import ORG_COPY
from tempen_shared.tenancy.loader import load_catalog
from tempen_shared.topics import SCORES, partition_key
from tests.conftest import FIXTURE_CONFIG

pytestmark = pytest.mark.integration

WHEN = datetime(2026, 9, 10, 9, 0, tzinfo=UTC)
CATALOG = load_catalog(FIXTURE_CONFIG)


def _topic(name: str) -> str:
    return f"test.{name}"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresScoringStore]:
    pool = await create_pool(database_url)
    try:
        await migrate(pool, schema=SCHEMA, package="tempen_scoring")
        await migrate(pool, schema=SCHEMA, package=ORG_COPY)
        yield PostgresScoringStore(pool, catalog=CATALOG, topic=_topic, on_commit=lambda: None)
    finally:
        await pool.close()


def _batch(first: int, count: int, value: int) -> list[IncomingContribution]:
    out: list[IncomingContribution] = []
    for n in range(first, first + count):
        event = SubmissionAccepted(
            event_id=submission_event_id("testkommun", f"s{n}", 1),
            occurred_at=WHEN,
            tenant="testkommun",
            instrument="test-puls",
            unit="grupp-a1",
            submission_id=f"s{n}",
            revision=1,
            submitted_at=WHEN,
            answers={"q1": value, "q2": value, "q3": value},
        )
        out.extend(contributions_of(event, CATALOG))
    return out


async def _events(store: PostgresScoringStore) -> list[tuple[dict[str, object], dict[str, str]]]:
    rows = await store._pool.fetch(
        f"SELECT payload, headers FROM {SCHEMA}.outbox WHERE topic = $1 ORDER BY id", _topic(SCORES.name)
    )
    return [(orjson.loads(r["payload"]), r["headers"]) for r in rows]


async def test_three_batches_then_one_round_publish_each_score_once_at_its_newest(store: PostgresScoringStore) -> None:
    resolve = {partition_key("testkommun", "grupp-a1"): "testkommun:s12"}
    for first, value in ((0, 2), (5, 4), (10, 5)):
        with correlation.stamping(_topic(SCORES.name), resolve.get):
            await store.apply(_batch(first, 5, value), [])
    assert await _events(store) == [], "a batch writes rows; it publishes nothing itself"

    published = await publish_round(store, on_published=lambda n: None)
    events = await _events(store)

    unit_rows = await store._pool.fetch(
        f"SELECT dimension, sequence, index FROM {SCHEMA}.scores WHERE unit = 'grupp-a1' AND scope = 'unit'"
    )
    unit_events = [e for e, _ in events if e["unit"] == "grupp-a1" and e["scope"] == "unit"]
    assert published == len(events)
    assert len({(e["unit"], e["scope"]) for e, _ in events}) == len(events), "one event per group"
    assert len(unit_events) == 1
    assert {r["dimension"]: (r["sequence"], r["index"]) for r in unit_rows} == {
        d: (unit_events[0]["sequence"], f["index"]) for d, f in unit_events[0]["dimensions"].items()
    }, "every dimension of the group in its one event"
    assert unit_events[0]["sequence"] >= 2, "the newest version, not the first"
    assert {h.get("correlation_id") for e, h in events if e["unit"] == "grupp-a1"} == {"testkommun:s12"}
    assert await publish_round(store, on_published=lambda n: None) == 0, "nothing twice"


async def test_a_row_a_batch_is_writing_is_published_in_the_next_round(store: PostgresScoringStore) -> None:
    await store.apply(_batch(0, 5, 3), [])
    async with store._pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SELECT 1 FROM {SCHEMA}.score_groups WHERE unit = 'grupp-a1' AND scope = 'unit' FOR UPDATE")
        first = await publish_round(store, on_published=lambda n: None)
        pending = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.score_groups WHERE sequence > published_sequence")
    second = await publish_round(store, on_published=lambda n: None)

    assert pending > 0, "the locked rows were skipped, not waited for"
    assert first > 0
    assert second > 0
    events = await _events(store)
    assert len({(e["unit"], e["scope"]) for e, _ in events}) == len(events) == first + second
