"""The transactional outbox: every message a service publishes is first a row in its own database,
written in the same transaction as the state it announces, and then relayed to Kafka.

Nothing is lost: a row is marked published only after the broker acknowledged it, and rows
acknowledged by a broker that has since lost its memory (a new cluster id) are published again.
Nothing is doubled downstream: every message carries a stable event id that consumers deduplicate on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel

from tempen_shared import correlation
from tempen_shared.db import TRANSIENT_DB_ERRORS, Connection
from tempen_shared.events import DeadLetter
from tempen_shared.kafka import ensure_topics, fetch_cluster_id

logger = logging.getLogger(__name__)

_PARTITIONER = DefaultPartitioner()  # what AIOKafkaProducer uses unless given another


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    topic: str
    key: bytes
    payload: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, topic: str, key: bytes, event: BaseModel, headers: Mapping[str, str] | None = None) -> OutboxMessage:
        return cls(topic, key, event.model_dump_json().encode(), dict(headers or {}))

    @classmethod
    def of_json(cls, topic: str, key: bytes, payload: Any, headers: Mapping[str, str] | None = None) -> OutboxMessage:
        return cls(topic, key, orjson.dumps(payload), dict(headers or {}))


async def enqueue(conn: Connection, schema: str, messages: Sequence[OutboxMessage]) -> None:
    """Add messages to the outbox inside the caller's transaction.

    Inside `correlation.stamping`, messages to the stamped topic that carry no correlation id get one.
    """
    if not messages:
        return
    await conn.copy_records_to_table(
        "outbox",
        schema_name=schema,
        columns=("topic", "key", "payload", "headers"),
        records=[(m.topic, m.key, m.payload, dict(correlation.stamped(m.topic, m.key, m.headers))) for m in messages],
    )


@dataclass
class OutboxStats:
    backlog: int = 0
    oldest_age_s: float = 0.0
    published_total: int = 0
    republished_total: int = 0
    epoch: str = ""


@dataclass(frozen=True, slots=True)
class PendingBatch:
    """Messages a source has waiting, oldest first, and how to record them as published."""

    messages: Sequence[OutboxMessage]
    rows: int  # rows read (a source may read rows it has nothing to publish for)
    mark_published: Callable[[], Awaitable[None]]


class RelaySource(Protocol):
    """Where a relay finds what to publish: the outbox table, or a table that is its own outbox."""

    async def take(self, epoch: str, limit: int) -> PendingBatch:
        """Up to `limit` rows not yet published to the broker `epoch`, in the order they committed."""
        ...

    async def on_new_epoch(self, epoch: str) -> int:
        """The broker `epoch` is new to this source; returns how many rows it will publish again."""
        ...

    async def backlog(self, epoch: str) -> tuple[int, float]:
        """Rows not yet published to the broker `epoch` ("" before the relay first reached one), and
        the age in seconds of the oldest of them (0 when none wait)."""
        ...


class OutboxTable:
    """The `<schema>.outbox` table: rows written by `enqueue`, marked published row by row."""

    def __init__(self, pool: asyncpg.Pool, *, schema: str, retention_hours: int = 168) -> None:
        self._pool = pool
        self._schema = schema
        self._retention_hours = retention_hours
        self._last_prune = 0.0

    async def take(self, epoch: str, limit: int) -> PendingBatch:
        schema = self._schema
        now = time.monotonic()
        if now - self._last_prune > 300:
            self._last_prune = now
            await self._pool.execute(
                f"DELETE FROM {schema}.outbox WHERE published_at < now() - make_interval(hours => $1)",
                self._retention_hours,
            )
        rows = await self._pool.fetch(
            f"SELECT id, topic, key, payload, headers FROM {schema}.outbox"
            " WHERE published_at IS NULL ORDER BY id LIMIT $1",
            limit,
        )
        ids = [row["id"] for row in rows]

        async def mark_published() -> None:
            await self._pool.execute(
                f"UPDATE {schema}.outbox SET published_at = now(), broker_epoch = $2 WHERE id = ANY($1::bigint[])",
                ids,
                epoch,
            )

        messages = [OutboxMessage(r["topic"], r["key"], r["payload"], r["headers"]) for r in rows]
        return PendingBatch(messages, len(rows), mark_published)

    async def on_new_epoch(self, epoch: str) -> int:
        status = await self._pool.execute(
            f"UPDATE {self._schema}.outbox SET published_at = NULL"
            " WHERE published_at IS NOT NULL AND broker_epoch IS DISTINCT FROM $1",
            epoch,
        )
        return int(status.split()[-1])

    async def backlog(self, epoch: str) -> tuple[int, float]:  # noqa: ARG002 - a row is published or not
        row = await self._pool.fetchrow(
            f"SELECT count(*) AS backlog, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age"
            f" FROM {self._schema}.outbox WHERE published_at IS NULL"
        )
        return (int(row["backlog"]), float(row["age"])) if row is not None else (0, 0.0)


class PositionedTable:
    """A table that is its own outbox (ingest's submissions, scoring's score groups): every write of a
    row draws the next value of a `position` column under a lock held to commit, so position order is
    commit order, and the relay reads rows past its position for the broker, kept per cluster id in
    `<schema>.relay_positions`. A broker new to the table gets every row again (consumers deduplicate
    by event id). A subclass turns rows into messages; a row with nothing to publish still moves the
    position on."""

    def __init__(
        self, pool: asyncpg.Pool, *, schema: str, table: str, position: str, columns: str, stamped_at: str
    ) -> None:
        """`columns`: what `messages` reads of a row; `stamped_at`: when a row was written, for the age
        of the backlog."""
        self._pool = pool
        positions = f"{schema}.relay_positions"
        rows = f"{schema}.{table}"
        self._position_column = position
        self._position_sql = f"SELECT position FROM {positions} WHERE epoch = $1"
        self._last_position_sql = f"SELECT position FROM {positions} ORDER BY updated_at DESC LIMIT 1"
        self._advance_sql = (
            f"INSERT INTO {positions} (epoch, position) VALUES ($1, $2) ON CONFLICT (epoch) DO UPDATE"
            f" SET position = greatest({positions}.position, EXCLUDED.position), updated_at = now()"
        )
        self._take_sql = f"SELECT {position}, {columns} FROM {rows} WHERE {position} > $1 ORDER BY {position} LIMIT $2"
        self._backlog_sql = (
            f"SELECT count(*) AS backlog, coalesce(extract(epoch FROM now() - (SELECT {stamped_at} FROM {rows}"
            f" WHERE {position} > $1 ORDER BY {position} LIMIT 1)), 0) AS age FROM {rows} WHERE {position} > $1"
        )

    def messages(self, rows: Sequence[asyncpg.Record]) -> list[OutboxMessage]:
        """The messages of rows read in position order; a row may have none."""
        raise NotImplementedError

    def published(self, count: int) -> None:
        """Called with the number of messages once their position is stored."""

    async def _position(self, epoch: str) -> int:
        return int(await self._pool.fetchval(self._position_sql, epoch) or 0)

    async def take(self, epoch: str, limit: int) -> PendingBatch:
        rows = await self._pool.fetch(self._take_sql, await self._position(epoch), limit)
        messages = self.messages(rows)
        last = rows[-1][self._position_column] if rows else 0

        async def mark_published() -> None:
            await self._pool.execute(self._advance_sql, epoch, last)
            if messages:
                self.published(len(messages))

        return PendingBatch(messages, len(rows), mark_published)

    async def on_new_epoch(self, epoch: str) -> int:
        waiting, _age = await self.backlog(epoch)
        return waiting

    async def backlog(self, epoch: str) -> tuple[int, float]:
        # Before the relay's first round the broker is not known yet: the position last advanced.
        if epoch:
            position = await self._position(epoch)
        else:
            position = int(await self._pool.fetchval(self._last_position_sql) or 0)
        row = await self._pool.fetchrow(self._backlog_sql, position)
        return (int(row["backlog"]), float(row["age"])) if row is not None else (0, 0.0)


class OutboxRelay:
    """Publishes a service's outbox rows, and those of any further `sources`, in commit order per
    source. One relay per service is active at a time (a PostgreSQL advisory lock), which keeps
    per-key order when a service runs several replicas."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        schema: str,
        bootstrap_servers: str,
        topics: Mapping[str, int],
        replication_factor: int = 1,
        batch_size: int = 2000,
        poll_interval_s: float = 0.25,
        retention_hours: int = 168,
        linger_ms: int = 5,
        on_published: Callable[[int], None] | None = None,
        sources: Sequence[RelaySource] = (),
    ) -> None:
        self._pool = pool
        self._linger_ms = linger_ms
        self._schema = schema
        self._bootstrap = bootstrap_servers
        self._topics = dict(topics)
        self._replication_factor = replication_factor
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._on_published = on_published
        self._sources: list[RelaySource] = [OutboxTable(pool, schema=schema, retention_hours=retention_hours)]
        self._sources.extend(sources)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.stats = OutboxStats()
        self._layouts: dict[str, list[int]] = {}  # topic -> its partitions, as the producer lists them
        self._partitions: dict[tuple[str, bytes], int] = {}  # (topic, key) -> partition
        self._lock_id = int.from_bytes(
            hashlib.sha256(f"tempen-outbox-{schema}".encode()).digest()[:8], "big", signed=True
        )

    def notify(self) -> None:
        """Wake the relay now (a transaction just committed rows) instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.2
        while not self._stopping.is_set():
            try:
                await self._lead()
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except (KafkaError, *TRANSIENT_DB_ERRORS) as exc:
                logger.warning("outbox relay for %s paused: %r; retrying in %.1fs", self._schema, exc, backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def _lead(self) -> None:
        async with self._pool.acquire() as lock_conn:
            while not await lock_conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_id):
                if self._stopping.is_set():
                    return
                await self._sleep(1.0)
            try:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    acks="all",
                    linger_ms=self._linger_ms,
                    max_batch_size=1 << 20,
                    request_timeout_ms=15_000,
                )
                await producer.start()
                try:
                    await self._relay(producer)
                finally:
                    await producer.stop()
            finally:
                with contextlib.suppress(*TRANSIENT_DB_ERRORS):
                    await lock_conn.execute("SELECT pg_advisory_unlock($1)", self._lock_id)

    async def _relay(self, producer: AIOKafkaProducer) -> None:
        while not self._stopping.is_set():
            epoch = await fetch_cluster_id(producer.client)
            if epoch != self.stats.epoch:
                await self._on_new_epoch(epoch)
            self._refresh_layouts(producer)
            more_waiting = False
            for source in self._sources:
                batch = await source.take(epoch, self._batch_size)
                if batch.messages:
                    await self._publish(producer, batch.messages)
                if batch.rows:
                    await batch.mark_published()
                    self.stats.published_total += len(batch.messages)
                    if self._on_published and batch.messages:
                        self._on_published(len(batch.messages))
                more_waiting = more_waiting or batch.rows >= self._batch_size
            if not more_waiting:
                await self._sleep(self._poll_interval_s)

    def _refresh_layouts(self, producer: AIOKafkaProducer) -> None:
        # A topic whose partitions changed maps keys anew, as the producer's own partitioner would.
        for topic, partitions in list(self._layouts.items()):
            if list(producer.client.cluster.partitions_for_topic(topic) or ()) != partitions:
                del self._layouts[topic]
                self._partitions = {k: v for k, v in self._partitions.items() if k[0] != topic}

    async def _publish(self, producer: AIOKafkaProducer, messages: Sequence[OutboxMessage]) -> None:
        """Send `messages` and wait until the broker acknowledged every one.

        Messages are grouped into one record batch per partition, in their order within each
        partition, which is the order per key the relay promises. The partition is the one
        `producer.send` would pick (the default partitioner: murmur2 of the key over the topic's
        partitions), worked out once per key and topic layout instead of once per message.
        """
        batches: dict[tuple[str, int], list[OutboxMessage]] = {}
        for message in messages:
            topic, key = message.topic, message.key
            partitions = self._layouts.get(topic)
            if partitions is None:
                partitions = self._layouts[topic] = list(await producer.partitions_for(topic))
            partition = self._partitions.get((topic, key))
            if partition is None:
                if len(self._partitions) >= 100_000:
                    self._partitions.clear()
                partition = self._partitions[(topic, key)] = _PARTITIONER(key, partitions, partitions)
            batches.setdefault((topic, partition), []).append(message)
        futures = []
        for (topic, partition), members in batches.items():
            batch = producer.create_batch()
            for message in members:
                headers = [(k, str(v).encode()) for k, v in message.headers.items()]
                if batch.append(key=message.key, value=message.payload, timestamp=None, headers=headers) is None:
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(key=message.key, value=message.payload, timestamp=None, headers=headers)
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        await asyncio.gather(*futures)

    async def _on_new_epoch(self, epoch: str) -> None:
        # A broker we have not published to before: make sure our topics exist, and publish again
        # whatever an earlier broker acknowledged, because a memory-only broker that restarted has
        # lost it. Consumers deduplicate by event id, so re-publishing is always safe.
        await ensure_topics(self._bootstrap, self._topics, replication_factor=self._replication_factor)
        count = 0
        for source in self._sources:
            count += await source.on_new_epoch(epoch)
        if count:
            logger.warning("broker %s is new to %s: re-publishing %d rows", epoch, self._schema, count)
            self.stats.republished_total += count
        self.stats.epoch = epoch

    async def refresh_stats(self) -> OutboxStats:
        backlog, oldest = 0, 0.0
        for source in self._sources:
            waiting, age = await source.backlog(self.stats.epoch)
            backlog += waiting
            oldest = max(oldest, age)
        self.stats.backlog, self.stats.oldest_age_s = backlog, oldest
        return self.stats


def dead_letter_messages(dead_letters: Sequence[DeadLetter]) -> list[OutboxMessage]:
    """Outbox messages for dead letters: to `<source topic>.dlq`, keyed like the original record, with
    the original record's correlation id in their headers too."""
    return [
        OutboxMessage.of(f"{d.source_topic}.dlq", (d.key or "").encode(), d, _dead_letter_headers(d))
        for d in dead_letters
    ]


def _dead_letter_headers(letter: DeadLetter) -> dict[str, str]:
    headers = {"reason": letter.reason}
    if letter.correlation_id:
        headers[correlation.HEADER] = letter.correlation_id
    return headers
