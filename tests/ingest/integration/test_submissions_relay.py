"""The submissions table as ingest's outbox: stores draw sequence values in commit order, the relay
follows the sequence with one position per broker, and what it publishes is what was stored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest

from tempen_ingest.adapters.postgres import SCHEMA, PostgresSubmissionStore, SubmissionsRelaySource
from tempen_shared.db import create_pool, migrate
from tempen_shared.outbox import OutboxRelay
from tempen_shared.topics import SUBMISSIONS
from tests.conftest import Infra
from tests.ingest.contract.test_submission_store_contract import prepared
from tests.support import eventually, read_all

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=6)
    try:
        await migrate(pool, schema=SCHEMA, package="tempen_ingest")
        yield pool
    finally:
        await pool.close()


def store_on(pool: asyncpg.Pool, prefix: str = "relay") -> PostgresSubmissionStore:
    return PostgresSubmissionStore(pool, topic=lambda name: f"{prefix}{name}", on_commit=lambda: None)


async def take_all(source: SubmissionsRelaySource, epoch: str) -> list[dict[str, Any]]:
    """Everything the source has for `epoch`, marking it published batch by batch."""
    events: list[dict[str, Any]] = []
    while True:
        batch = await source.take(epoch, 3)
        if not batch.rows:
            return events
        events.extend(orjson.loads(m.payload) for m in batch.messages)
        await batch.mark_published()


async def test_each_stored_revision_is_taken_once_per_broker_and_all_again_by_a_new_one(pool: asyncpg.Pool) -> None:
    store = store_on(pool)
    source = SubmissionsRelaySource(pool, topic=lambda name: name)
    await store.store([prepared("r1"), prepared("r2"), prepared("r3", respondent="p-bo")])
    first = await take_all(source, "broker-1")
    await store.store([prepared("r1", answers={"q1": 2}), prepared("r2"), prepared("r4")])  # correction, duplicate
    second = await take_all(source, "broker-1")
    await store.erase_respondent(tenant="testkommun", respondent="p-bo")  # r3: its retraction is in the outbox
    fresh = await take_all(source, "broker-2")

    def summary(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
        return [(e["submission_id"], e["revision"]) for e in events]

    assert summary(first) == [("r1", 1), ("r2", 1), ("r3", 1)]
    # New rows are written before corrections within one store, so r4 precedes r1's correction.
    assert summary(second) == [("r4", 1), ("r1", 2)], "the duplicate is not published again"
    assert summary(fresh) == [("r2", 1), ("r4", 1), ("r1", 2)], "a new broker gets each stored submission once"
    assert await take_all(source, "broker-1") == [], "the first broker's position is kept"
    assert first[0]["answers"] == {"q1": 4}
    assert second[1]["answers"] == {"q1": 2}
    assert await source.backlog("broker-1") == (0, 0.0)


async def test_a_store_waits_for_an_earlier_one_to_commit_so_the_relay_never_skips_a_sequence_value(
    pool: asyncpg.Pool,
) -> None:
    """Store A holds the sequence lock while it waits for a row lock (held here by another
    transaction); store B, with a new submission, must wait for A. Were B allowed to draw and commit
    a higher value first, a relay reading then would move past A's lower value and never publish it."""
    store = store_on(pool)
    source = SubmissionsRelaySource(pool, topic=lambda name: name)
    await store.store([prepared("held")])
    await take_all(source, "broker")
    blocker = await pool.acquire()
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute(f"SELECT 1 FROM {SCHEMA}.submissions WHERE submission_id = 'held' FOR UPDATE")
        a = asyncio.create_task(store.store([prepared("held", answers={"q1": 1})]))
        await asyncio.sleep(0.3)
        b = asyncio.create_task(store.store([prepared("behind")]))
        await asyncio.sleep(0.5)
        taken_meanwhile = await take_all(source, "broker")
        assert not a.done()
        assert not b.done(), "B drew a sequence value while A, which drew first, was open"
        assert taken_meanwhile == []
        await transaction.rollback()
    finally:
        await pool.release(blocker)
    await asyncio.gather(a, b)
    events = await take_all(source, "broker")
    assert [(e["submission_id"], e["revision"]) for e in events] == [("held", 2), ("behind", 1)]


async def test_concurrent_stores_reach_the_broker_each_revision_exactly_once(
    infra: Infra, pool: asyncpg.Pool, topic_prefix: str
) -> None:
    """Twelve stores at once, with corrections, while the relay publishes to the real broker. A
    revision corrected before the relay read it need not be published (the relay reads the row as it
    is now), but the last one of each submission must, and nothing twice."""
    topic = f"{topic_prefix}{SUBMISSIONS.name}"
    store = store_on(pool, topic_prefix)
    source = SubmissionsRelaySource(pool, topic=lambda name: f"{topic_prefix}{name}")
    relay = OutboxRelay(
        pool,
        schema=SCHEMA,
        bootstrap_servers=infra.bootstrap_servers,
        topics={topic: SUBMISSIONS.partitions},
        batch_size=40,
        poll_interval_s=0.01,
        sources=[source],
    )
    running = asyncio.create_task(relay.run())
    try:

        async def client(number: int) -> None:
            for round_ in range(3):
                batch = [prepared(f"c{number}-{i}", answers={"q1": 1 + (i + round_) % 5}) for i in range(25)]
                await store.store(batch)

        await asyncio.gather(*(client(n) for n in range(12)))
        await eventually(lambda: _drained(source, relay.stats.epoch), timeout_s=60)
    finally:
        relay.stop()
        await running
    records = await read_all(infra.bootstrap_servers, topic)
    published = [(r["value"]["submission_id"], r["value"]["revision"]) for r in records]
    assert len(published) == len(set(published)), "a revision was published twice"
    last: dict[str, int] = {}
    for submission_id, revision in published:
        assert revision > last.get(submission_id, 0), f"{submission_id}: revisions out of order"
        last[submission_id] = revision
    assert last == {f"c{n}-{i}": 3 for n in range(12) for i in range(25)}
    headers = {k for r in records for k in r["headers"]}
    assert {"correlation_id", "ingested_at", "event_type"} <= headers, headers


async def _drained(source: SubmissionsRelaySource, epoch: str) -> bool:
    waiting, _age = await source.backlog(epoch)
    return waiting == 0
