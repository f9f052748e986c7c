"""Score events leave from the score groups themselves: the relay reads them in revision order from its
position for the broker, so each written group goes out once, at its newest figures, and a transaction
still writing groups holds back every later one until it commits (revision order is commit order)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import orjson
import pytest

from tempen_scoring.adapters.postgres import REVISION_LOCK, SCHEMA, PostgresScoringStore, ScoreGroupsRelaySource
from tempen_scoring.domain.rescoring import IncomingContribution
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


def _relay(store: PostgresScoringStore) -> ScoreGroupsRelaySource:
    return ScoreGroupsRelaySource(store._pool, topic=_topic)


async def _round(
    relay: ScoreGroupsRelaySource, epoch: str = "cluster-a"
) -> list[tuple[dict[str, object], dict[str, str]]]:
    """One relay round: what it would publish, then its position advanced."""
    batch = await relay.take(epoch, 5_000)
    await batch.mark_published()
    return [(orjson.loads(m.payload), dict(m.headers)) for m in batch.messages]


async def test_three_batches_then_one_round_publish_each_score_once_at_its_newest(store: PostgresScoringStore) -> None:
    resolve = {partition_key("testkommun", "grupp-a1"): "testkommun:s12"}
    for first, value in ((0, 2), (5, 4), (10, 5)):
        with correlation.stamping(_topic(SCORES.name), resolve.get):
            await store.apply(_batch(first, 5, value), [])
    assert await store._pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.outbox") == 0, "no outbox rows for scores"

    relay = _relay(store)
    events = await _round(relay)

    unit_rows = await store._pool.fetch(
        f"SELECT dimension, sequence, index FROM {SCHEMA}.scores WHERE unit = 'grupp-a1' AND scope = 'unit'"
    )
    unit_events = [e for e, _ in events if e["unit"] == "grupp-a1" and e["scope"] == "unit"]
    assert events
    assert len({(e["unit"], e["scope"]) for e, _ in events}) == len(events), "one event per group"
    assert len(unit_events) == 1
    assert {r["dimension"]: (r["sequence"], r["index"]) for r in unit_rows} == {
        d: (unit_events[0]["sequence"], f["index"]) for d, f in unit_events[0]["dimensions"].items()
    }, "every dimension of the group in its one event"
    assert unit_events[0]["sequence"] >= 2, "the newest version, not the first"
    assert {h.get("correlation_id") for e, h in events if e["unit"] == "grupp-a1"} == {"testkommun:s12"}
    assert await _round(relay) == [], "nothing twice"

    await store.apply(_batch(15, 5, 1), [])
    later = await _round(relay)
    assert ("grupp-a1", "unit") in {(e["unit"], e["scope"]) for e, _ in later}, "a group written again goes again"
    assert all(e["sequence"] > unit_events[0]["sequence"] for e, _ in later if e["unit"] == "grupp-a1")

    again = await _round(relay, "cluster-b")  # a broker scoring has not published to: every group anew
    assert {(e["unit"], e["scope"]) for e, _ in again} == {(e["unit"], e["scope"]) for e, _ in events}
    assert await relay.backlog("cluster-b") == (0, 0.0)


async def test_groups_written_while_an_earlier_writer_is_open_wait_for_its_commit(store: PostgresScoringStore) -> None:
    """Revisions are drawn under a lock held to commit: a writer that drew revisions and has not committed
    holds back every later writer, so the relay can never pass a revision that commits later."""
    await store.apply(_batch(0, 5, 3), [])
    relay = _relay(store)
    await _round(relay)
    async with store._pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", REVISION_LOCK)
        earlier = await conn.fetchval(f"SELECT nextval('{SCHEMA}.score_revision')")
        later = asyncio.ensure_future(store.apply(_batch(5, 5, 4), []))
        await asyncio.sleep(0.5)
        assert not later.done(), "the later writer waits for the earlier one's commit"
        assert (await relay.take("cluster-a", 100)).rows == 0, "nothing committed after the position yet"
    await later
    revisions = [r["revision"] for r in await store._pool.fetch(f"SELECT revision FROM {SCHEMA}.score_groups")]
    assert min(revisions) > earlier
    assert await _round(relay)
