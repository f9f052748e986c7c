"""Alerts' consumer positions live in PostgreSQL, saved in the transaction of each batch of score events with
the judgements, transitions, notifications and dead letters it makes, and fenced by an epoch (issue 14): a
batch that committed is never applied again after a crash, and a consumer whose partition another has
claimed since has its batch refused whole. Real broker, real PostgreSQL, real SMTP, a real process crash."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tempen_alerts.adapters.postgres import PostgresAlertsStore
from tempen_shared.db import create_pool
from tempen_shared.events import UnitScored
from tempen_shared.kafka import ensure_topics
from tempen_shared.positions import Claim
from tempen_shared.topics import SCORES, all_topic_names, partition_key
from tests.alerts.integration.crashing_alerts import CRASHED
from tests.alerts.integration.support import FIXTURE_CONFIG, GRUPP_A1, GRUPP_B1, UNIT, SmtpSink, running_alerts
from tests.alerts.integration.support import unit_scores as scores_of
from tests.conftest import Infra
from tests.support import child_environ, committed_offsets, eventually, free_port, metric

pytestmark = pytest.mark.integration

REPOSITORY = Path(__file__).resolve().parents[3]
GROUP = "alerts"  # AlertsSettings' default group id
MALFORMED = b"{not a score event"  # dead-lettered: its dead letter is written in its batch's transaction
# A consumer a test can watch batch by batch, and crash and fence quickly.
CONSUMER = {
    "TEMPEN_KAFKA_MAX_BATCH": "4",  # the first batch is a third of what waits
    "TEMPEN_RETRY_BACKOFF_S": "0.2",
}


def months(unit: str = UNIT, *, year: int = 2025) -> list[UnitScored]:
    """A year of closed months of one unit (ledarskap only), each one a score event."""
    values = GRUPP_A1 if unit == UNIT else GRUPP_B1
    return [
        s
        for n, v in enumerate(values, start=1)
        for s in scores_of(year, n, float(v), unit=unit, dimensions=("ledarskap",))
    ]


async def publish(infra: Infra, topic: str, records: Sequence[UnitScored | bytes], *, spread: bool = False) -> None:
    """As scoring's relay writes them: keyed tenant:unit, with computed_at; `spread`: one partition after another,
    so that two consumers of the group both have work."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
    await producer.start()
    try:
        for n, record in enumerate(records):
            value = record if isinstance(record, bytes) else record.model_dump_json().encode()
            await producer.send_and_wait(
                topic,
                value=value,
                key=partition_key("testkommun", UNIT if isinstance(record, bytes) else record.unit),
                headers=[("computed_at", datetime.now(UTC).isoformat().encode())],
                partition=n % SCORES.partitions if spread else None,
            )
    finally:
        await producer.stop()


def alerts(infra: Infra, database_url: str, topic_prefix: str, sink: SmtpSink) -> AbstractAsyncContextManager[str]:
    """Alerts' whole app in this process, consuming as the crashing process does; yields its base URL."""
    return running_alerts(
        bootstrap_servers=infra.bootstrap_servers,
        database_url=database_url,
        topic_prefix=topic_prefix,
        smtp_port=sink.port,
        TEMPEN_KAFKA_MAX_BATCH=CONSUMER["TEMPEN_KAFKA_MAX_BATCH"],
        TEMPEN_RETRY_BACKOFF_S=CONSUMER["TEMPEN_RETRY_BACKOFF_S"],
    )


DECIDED = "tempen_alert_decision_latency_seconds_count"  # score events whose batch committed, in this process
FENCED = "tempen_alerts_fenced_batches_total"


async def periods(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM alerts.period_scores"))


async def dead_letters(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM alerts.outbox WHERE topic LIKE '%.dlq'"))


async def stored(conn: asyncpg.Connection) -> list[int]:
    """The next offsets stored, of the partitions that have one."""
    rows = await conn.fetch("SELECT next_offset FROM alerts.consumer_positions WHERE next_offset IS NOT NULL")
    return [r["next_offset"] for r in rows]


async def kafka_committed(infra: Infra, topic: str) -> dict[int, int]:
    """The offsets Kafka holds for the consumer's group on the topic's partitions, where it holds one."""
    return await committed_offsets(
        infra.bootstrap_servers, topic, topic.removesuffix(SCORES.name) + GROUP
    )  # groups carry the topic prefix, as topics do


async def topics(infra: Infra, topic_prefix: str) -> str:
    await ensure_topics(infra.bootstrap_servers, {f"{topic_prefix}{n}": p for n, p in all_topic_names().items()})
    return f"{topic_prefix}{SCORES.name}"


async def test_a_batch_committed_just_before_a_crash_is_not_applied_again_and_nothing_is_lost(
    infra: Infra, database_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    topic = await topics(infra, topic_prefix)
    await publish(infra, topic, [MALFORMED, *months()])  # 13 records on grupp-a1's partition
    with SmtpSink() as sink:
        # Alerts dies right after the transaction of its first batch commits, before Kafka's commit.
        crashing = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.alerts.integration.crashing_alerts",
            cwd=REPOSITORY,
            env=child_environ(
                **CONSUMER,
                KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
                DATABASE_URL=database_url,
                TEMPEN_CONFIG_DIR=str(FIXTURE_CONFIG),
                TEMPEN_TOPIC_PREFIX=topic_prefix,
                TEMPEN_STATE_DIR=str(tmp_path),
                TEMPEN_KAFKA_SESSION_TIMEOUT_MS="2000",
                TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS="300",
                TEMPEN_ALERTS_PORT=str(free_port()),
                TEMPEN_ALERTS_SMTP_HOST="127.0.0.1",
                TEMPEN_ALERTS_SMTP_PORT=str(sink.port),
                TEMPEN_LOG_LEVEL="WARNING",
            ),
        )
        assert await asyncio.wait_for(crashing.wait(), timeout=120) == CRASHED
        conn = await asyncpg.connect(database_url)
        try:
            first = await periods(conn)
            assert 0 < first <= 3, (
                "the first batch committed (the malformed record and up to three months), and only it"
            )
            assert await dead_letters(conn) == 1
            assert await kafka_committed(infra, topic) == {}, "the crash came before Kafka's commit"
            assert await stored(conn) == [first + 1], "the batch's position committed with it"

            async with (
                alerts(infra, database_url, topic_prefix, sink) as base,
                httpx.AsyncClient(base_url=base) as http,
            ):
                await eventually(lambda: _stored_at(conn, [13]), timeout_s=60)
                decided = await metric(http, DECIDED)
                fenced = await metric(http, FENCED)
            # On restart alerts sought to the stored offset: the committed batch was not delivered again (its
            # dead letter not written twice, its score events not decided on again), and every other score
            # event was decided on once.
            assert await dead_letters(conn) == 1
            assert (decided, fenced) == (12 - first, 0)
            assert await periods(conn) == 12
            assert await conn.fetchval("SELECT count(*) FROM alerts.transitions") > 0, "the year opens an alert"
        finally:
            await conn.close()


async def test_a_batch_of_a_consumer_whose_partition_was_claimed_since_is_refused_whole_and_left_to_the_new_owner(
    infra: Infra, database_url: str, topic_prefix: str
) -> None:
    topic = await topics(infra, topic_prefix)
    year = months()
    await publish(infra, topic, year[:6])  # January to June: the alert opens on June
    pool = await create_pool(database_url)
    conn = await asyncpg.connect(database_url)
    try:
        with SmtpSink() as sink:
            async with (
                alerts(infra, database_url, topic_prefix, sink) as base,
                httpx.AsyncClient(base_url=base) as http,
            ):
                await eventually(lambda: _stored_at(conn, [6]), timeout_s=60)
                [held] = await conn.fetch(
                    "SELECT partition, epoch, next_offset FROM alerts.consumer_positions WHERE next_offset IS NOT NULL"
                )
                await eventually(lambda: _committed_at(infra, topic, held["partition"], 6))
                before = await _made(conn)
                assert before["transitions"] > 0, "June opens the alert"
                # Another consumer claims the partition, as one the group assigned it to in a rebalance this
                # one has not heard of yet (it lost its session, say) would.
                cluster = await conn.fetchval("SELECT cluster FROM alerts.consumer_positions LIMIT 1")
                claimed = await PostgresAlertsStore(pool, on_commit=lambda: None).claim(
                    topic.removesuffix(SCORES.name) + GROUP, [(topic, held["partition"])], cluster=cluster
                )
                assert claimed == {(topic, held["partition"]): Claim(held["epoch"] + 1, 6)}

                await publish(infra, topic, [MALFORMED, *year[6:]])  # July on: the alert escalates
                await eventually(lambda: _at_least(http, FENCED, 2), timeout_s=30)
                # Refused whole, again and again, without a dead letter, a commit or a crash.
                assert await _made(conn) == before
                assert await dead_letters(conn) == 0
                assert await _position(conn, held["partition"]) == (held["epoch"] + 1, 6)
                assert (await kafka_committed(infra, topic))[held["partition"]] == 6, "not committed past the last"
                assert await metric(http, DECIDED) == 6
                assert (await http.get("/healthz")).status_code == 200

            # The partition's next owner starts from the stored offset: the refused batch once, nothing twice.
            async with (
                alerts(infra, database_url, topic_prefix, sink) as base,
                httpx.AsyncClient(base_url=base) as http,
            ):
                await eventually(lambda: _stored_at(conn, [13]), timeout_s=60)
                decided = await metric(http, DECIDED)
        assert decided == 6
        assert await dead_letters(conn) == 1
        after = await _made(conn)
        assert after["periods"] == 12
        assert after["transitions"] > before["transitions"], "the refused months were judged by the next owner"
        epoch, next_offset = await _position(conn, held["partition"])
        assert epoch > held["epoch"] + 1, "claimed again by the next owner"
        assert next_offset == 13
    finally:
        await conn.close()
        await pool.close()


async def test_two_consumers_of_one_group_through_rebalances_decide_on_every_score_event_once(
    infra: Infra, database_url: str, topic_prefix: str
) -> None:
    topic = await topics(infra, topic_prefix)
    conn = await asyncpg.connect(database_url)
    events = [*months(), *months("grupp-b1"), *months(year=2024), *months("grupp-b1", year=2024)]  # 48
    decided: list[float] = []
    try:
        with SmtpSink() as sink:
            async with (
                alerts(infra, database_url, topic_prefix, sink) as first,
                httpx.AsyncClient(base_url=first) as first_http,
            ):
                await publish(infra, topic, events[:16], spread=True)
                await eventually(lambda: _periods_at_least(conn, 16), timeout_s=60)
                # A second member joins: the group rebalances while score events keep coming.
                async with (
                    alerts(infra, database_url, topic_prefix, sink) as second,
                    httpx.AsyncClient(base_url=second) as second_http,
                ):
                    await publish(infra, topic, events[16:32], spread=True)
                    await eventually(lambda: _periods_at_least(conn, 32), timeout_s=60)
                    decided.append(await metric(second_http, DECIDED))
                # And leaves again: its partitions go back to the first.
                await publish(infra, topic, events[32:], spread=True)
                await eventually(lambda: _stored_at(conn, [12] * SCORES.partitions), timeout_s=60)
                decided.append(await metric(first_http, DECIDED))
        assert sum(decided) == len(events), "every score event decided on once, whoever had its partition"
        assert await periods(conn) == len(events)
    finally:
        await conn.close()


async def _made(conn: asyncpg.Connection) -> dict[str, int]:
    """What batches of score events write: scores, transitions, notifications, events and dead letters."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM alerts.period_scores) AS periods,
                  (SELECT count(*) FROM alerts.transitions) AS transitions,
                  (SELECT count(*) FROM alerts.notifications) AS notifications,
                  (SELECT count(*) FROM alerts.outbox) AS outbox"""
    )
    assert row is not None
    return dict(row)


async def _position(conn: asyncpg.Connection, partition: int) -> tuple[int, int | None]:
    row = await conn.fetchrow(
        "SELECT epoch, next_offset FROM alerts.consumer_positions WHERE partition = $1", partition
    )
    assert row is not None
    return row["epoch"], row["next_offset"]


async def _stored_at(conn: asyncpg.Connection, offsets: list[int]) -> bool:
    return sorted(await stored(conn)) == offsets


async def _periods_at_least(conn: asyncpg.Connection, total: int) -> bool:
    return await periods(conn) >= total


async def _committed_at(infra: Infra, topic: str, partition: int, offset: int) -> bool:
    return (await kafka_committed(infra, topic)).get(partition) == offset


async def _at_least(http: httpx.AsyncClient, line: str, value: float) -> bool:
    return await metric(http, line) >= value
