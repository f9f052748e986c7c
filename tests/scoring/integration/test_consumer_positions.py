"""Scoring's consumer positions live in PostgreSQL, saved in each batch's transaction and fenced by an epoch
(issue 14): a batch that committed is never applied again after a crash, and a consumer whose partition
another has claimed since has its batch refused whole. Real broker, real PostgreSQL, a real process crash."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tempen_scoring.adapters.postgres import PostgresScoringStore
from tempen_scoring.app import create_app
from tempen_scoring.config import ScoringSettings
from tempen_shared.db import create_pool
from tempen_shared.events import SubmissionAccepted, submission_event_id
from tempen_shared.kafka import ensure_topics
from tempen_shared.positions import Claim
from tempen_shared.tenancy.loader import load_catalog
from tempen_shared.topics import SUBMISSIONS, all_topic_names
from tests.conftest import Infra
from tests.scoring.integration.crashing_scoring import CRASHED
from tests.support import child_environ, committed_offsets, eventually, free_port, metric, serving

pytestmark = pytest.mark.integration

WHEN = datetime(2026, 9, 10, 9, 0, tzinfo=UTC)  # period 2026-09, closed whatever today is
REPOSITORY = Path(__file__).resolve().parents[3]
GROUP = "scoring"  # ScoringSettings' default group id


def consumer_group(topic: str) -> str:
    """Scoring's consumer group for this submissions topic: groups carry the topic prefix, as topics do."""
    return topic.removesuffix(SUBMISSIONS.name) + GROUP


def accepted(sid: str) -> bytes:
    return (
        SubmissionAccepted(
            event_id=submission_event_id("testkommun", sid, 1),
            occurred_at=WHEN,
            tenant="testkommun",
            instrument="test-puls",
            unit="grupp-a1",
            submission_id=sid,
            revision=1,
            submitted_at=WHEN + timedelta(minutes=1),
            answers={"q1": 3, "q2": 4, "q3": 2},
        )
        .model_dump_json()
        .encode()
    )


async def publish(infra: Infra, topic: str, sids: list[str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    try:
        for sid in sids:
            await producer.send_and_wait(topic, accepted(sid), key=b"testkommun:grupp-a1")
    finally:
        await producer.stop()


def environment(infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "DATABASE_URL": database_url,
        "TEMPEN_CONFIG_DIR": str(fixture_config),
        "TEMPEN_TOPIC_PREFIX": topic_prefix,
        "TEMPEN_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS": "300",
        "TEMPEN_KAFKA_MAX_BATCH": "4",  # the first batch is a third of what waits
        "TEMPEN_RETRY_BACKOFF_S": "0.2",
    }


async def scored(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM scoring.ledger"))


async def respondents(conn: asyncpg.Connection) -> int:
    return int(
        await conn.fetchval(
            "SELECT respondents FROM scoring.unit_totals WHERE unit = 'grupp-a1' AND model = 'test-model'"
        )
    )


async def stored(conn: asyncpg.Connection) -> list[int]:
    """The next offsets stored, of the partitions that have one."""
    rows = await conn.fetch("SELECT next_offset FROM scoring.consumer_positions WHERE next_offset IS NOT NULL")
    return [r["next_offset"] for r in rows]


async def kafka_committed(infra: Infra, topic: str) -> dict[int, int]:
    """The offsets Kafka holds for the consumer's group on the topic's partitions, where it holds one."""
    return await committed_offsets(infra.bootstrap_servers, topic, consumer_group(topic))


async def test_a_batch_committed_just_before_a_crash_is_not_applied_again_and_nothing_is_lost(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    await ensure_topics(infra.bootstrap_servers, {f"{topic_prefix}{n}": p for n, p in all_topic_names().items()})
    topic = f"{topic_prefix}{SUBMISSIONS.name}"
    await publish(infra, topic, [f"s{i}" for i in range(12)])
    env = environment(infra, database_url, topic_prefix, fixture_config)

    # Scoring dies right after the transaction of its first batch commits, before Kafka's commit.
    crashing = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.scoring.integration.crashing_scoring",
        cwd=REPOSITORY,
        env=child_environ(**env, TEMPEN_SCORING_PORT=str(free_port()), TEMPEN_LOG_LEVEL="WARNING"),
    )
    assert await asyncio.wait_for(crashing.wait(), timeout=120) == CRASHED
    conn = await asyncpg.connect(database_url)
    try:
        first = await scored(conn)
        assert 0 < first <= 4, "the first batch committed, and only it"
        assert await kafka_committed(infra, topic) == {}, "the crash came before Kafka's commit"
        assert await stored(conn) == [first], "the batch's position committed with it"

        settings = ScoringSettings(**env)
        async with serving(create_app(settings)) as base, httpx.AsyncClient(base_url=base) as http:
            await eventually(lambda: _reaches(conn, 12), timeout_s=60)
            ignored = await metric(http, 'tempen_scored_submissions_total{outcome="ignored"}')
            applied = await metric(http, 'tempen_scored_submissions_total{outcome="applied"}')
            fenced = await metric(http, "tempen_scoring_fenced_batches_total")
        # On restart scoring sought to the stored offset: the committed batch was not delivered again
        # (no duplicates ignored), and every other submission was applied once.
        assert (ignored, applied, fenced) == (0, 12 - first, 0)
        assert await respondents(conn) == 12
        assert await stored(conn) == [12]
    finally:
        await conn.close()


async def test_a_batch_of_a_consumer_whose_partition_was_claimed_since_is_refused_whole_and_left_to_the_new_owner(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    await ensure_topics(infra.bootstrap_servers, {f"{topic_prefix}{n}": p for n, p in all_topic_names().items()})
    topic = f"{topic_prefix}{SUBMISSIONS.name}"
    await publish(infra, topic, [f"a{i}" for i in range(6)])
    settings = ScoringSettings(**environment(infra, database_url, topic_prefix, fixture_config))
    pool = await create_pool(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        async with serving(create_app(settings)) as base, httpx.AsyncClient(base_url=base) as http:
            await eventually(lambda: _reaches(conn, 6), timeout_s=60)
            # The topic has several partitions; every submission is on grupp-a1's, the only one with a position.
            [held] = await conn.fetch(
                "SELECT partition, epoch, next_offset FROM scoring.consumer_positions WHERE next_offset IS NOT NULL"
            )
            assert held["next_offset"] == 6
            await eventually(lambda: _committed_at(infra, topic, held["partition"], 6))
            # Another consumer claims the partition, as one the group assigned it to in a rebalance this
            # one has not heard of yet (it lost its session, say) would.
            newer = PostgresScoringStore(
                pool, catalog=load_catalog(fixture_config), topic=settings.topic, on_commit=lambda: None
            )
            cluster = await conn.fetchval("SELECT cluster FROM scoring.consumer_positions LIMIT 1")
            claimed = await newer.claim(consumer_group(topic), [(topic, held["partition"])], cluster=cluster)
            assert claimed == {(topic, held["partition"]): Claim(held["epoch"] + 1, 6)}

            await publish(infra, topic, [f"b{i}" for i in range(6)])
            await eventually(lambda: _at_least(http, "tempen_scoring_fenced_batches_total", 2), timeout_s=30)
            # Refused whole, again and again, without a dead letter, a commit or a crash.
            assert await scored(conn) == 6
            assert await conn.fetchval("SELECT count(*) FROM scoring.outbox WHERE topic LIKE '%.dlq'") == 0
            assert await conn.fetchrow(
                "SELECT epoch, next_offset FROM scoring.consumer_positions WHERE partition = $1", held["partition"]
            ) == (
                held["epoch"] + 1,
                6,
            )
            assert (await kafka_committed(infra, topic))[held["partition"]] == 6, "not committed past the last applied"
            assert (await http.get("/healthz")).status_code == 200

        # The partition's next owner starts from the stored offset: the refused batch once, nothing twice.
        async with serving(create_app(settings)) as base, httpx.AsyncClient(base_url=base) as http:
            await eventually(lambda: _reaches(conn, 12), timeout_s=60)
            ignored = await metric(http, 'tempen_scored_submissions_total{outcome="ignored"}')
            applied = await metric(http, 'tempen_scored_submissions_total{outcome="applied"}')
        assert (ignored, applied) == (0, 6)
        assert await respondents(conn) == 12
        last = await conn.fetchrow(
            "SELECT epoch, next_offset FROM scoring.consumer_positions WHERE partition = $1", held["partition"]
        )
        assert last["epoch"] > held["epoch"] + 1, "claimed again by the next owner"
        assert last["next_offset"] == 12
    finally:
        await conn.close()
        await pool.close()


async def publish_spread(infra: Infra, topic: str, sids: list[str]) -> None:
    """One submission per partition in turn, so that two consumers of the group both have work."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    try:
        for n, sid in enumerate(sids):
            await producer.send_and_wait(
                topic, accepted(sid), key=b"testkommun:grupp-a1", partition=n % SUBMISSIONS.partitions
            )
    finally:
        await producer.stop()


async def test_two_consumers_of_one_group_through_rebalances_apply_every_submission_once(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    await ensure_topics(infra.bootstrap_servers, {f"{topic_prefix}{n}": p for n, p in all_topic_names().items()})
    topic = f"{topic_prefix}{SUBMISSIONS.name}"
    settings = ScoringSettings(**environment(infra, database_url, topic_prefix, fixture_config))
    conn = await asyncpg.connect(database_url)
    outcomes: list[float] = []

    async def outcome(http: httpx.AsyncClient) -> None:
        outcomes.append(await metric(http, 'tempen_scored_submissions_total{outcome="ignored"}'))

    try:
        async with serving(create_app(settings)) as first, httpx.AsyncClient(base_url=first) as first_http:
            await publish_spread(infra, topic, [f"a{i}" for i in range(16)])
            await eventually(lambda: _reaches(conn, 16), timeout_s=60)
            # A second member joins: the group rebalances while submissions keep coming.
            async with serving(create_app(settings)) as second, httpx.AsyncClient(base_url=second) as second_http:
                await publish_spread(infra, topic, [f"b{i}" for i in range(16)])
                await eventually(lambda: _reaches(conn, 32), timeout_s=60)
                await outcome(second_http)
            # And leaves again: its partitions go back to the first.
            await publish_spread(infra, topic, [f"c{i}" for i in range(16)])
            await eventually(lambda: _reaches(conn, 48), timeout_s=60)
            await outcome(first_http)
        assert outcomes == [0, 0], "no batch was applied twice, whoever had the partition"
        assert await respondents(conn) == 48
        rows = await conn.fetch("SELECT partition, next_offset FROM scoring.consumer_positions ORDER BY partition")
        assert [(r["partition"], r["next_offset"]) for r in rows] == [
            (p, 48 // SUBMISSIONS.partitions) for p in range(SUBMISSIONS.partitions)
        ]
    finally:
        await conn.close()


async def _reaches(conn: asyncpg.Connection, total: int) -> bool:
    return await scored(conn) >= total


async def _committed_at(infra: Infra, topic: str, partition: int, offset: int) -> bool:
    return (await kafka_committed(infra, topic)).get(partition) == offset


async def _at_least(http: httpx.AsyncClient, line: str, value: float) -> bool:
    return await metric(http, line) >= value
