"""The limits each stage is compared with, measured on the same broker and database in the same run:
raw aiokafka produce-and-consume of the same messages, and raw asyncpg COPY of the same rows."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.generator import Submission
from tempen_shared.db import create_pool
from tempen_shared.kafka import ensure_topics

COPY_CHUNK = 10_000


async def kafka_round_trip(bootstrap: str, topic: str, messages: Sequence[Submission]) -> dict[str, Any]:
    """Produce every message (acks=all, as the outbox relays do) while one consumer reads them back.

    Returns the produce rate, the rate of the whole round trip (first send to last record read),
    and the rate of a second consumer that reads the full topic from the start on its own.
    """
    await ensure_topics(bootstrap, {topic: 4})
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
    )
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    total = len(messages)
    read = 0

    async def consume() -> float:
        nonlocal read
        while read < total:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            read += sum(len(records) for records in batches.values())
        return time.perf_counter()

    try:
        await consumer.getmany(timeout_ms=200)  # join and get the (empty) partitions before timing
        started = time.perf_counter()
        reader = asyncio.create_task(consume())
        pending = []
        for message in messages:
            pending.append(await producer.send(topic, value=message.body, key=message.key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        produced = time.perf_counter()
        done = await asyncio.wait_for(reader, timeout=600)
    finally:
        await producer.stop()
        await consumer.stop()
    consume_only = await _read_all(bootstrap, topic, total)
    return {
        "messages": total,
        "bytes": sum(len(m.body) for m in messages),
        "produce_per_s": round(total / (produced - started)),
        "round_trip_per_s": round(total / (done - started)),
        "round_trip_s": round(done - started, 2),
        "consume_only_per_s": round(consume_only),
    }


async def _read_all(bootstrap: str, topic: str, total: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
    )
    await consumer.start()
    try:
        started = time.perf_counter()
        read = 0
        while read < total:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            read += sum(len(records) for records in batches.values())
        return total / (time.perf_counter() - started)
    finally:
        await consumer.stop()


def submission_rows(messages: Sequence[Submission]) -> list[tuple[Any, ...]]:
    """The rows ingest stores for these submissions (its `submissions` table's columns)."""
    rows = []
    for message in messages:
        doc = orjson.loads(message.body)
        rows.append(
            (
                doc["tenant"],
                doc["submission_id"],
                1,
                hashlib.sha256(message.body).hexdigest(),
                doc["instrument"],
                doc["unit"],
                datetime.fromisoformat(doc["submitted_at"]),
                "p-" + hashlib.sha256(doc["respondent"].encode()).hexdigest()[:32],
                doc["answers"],
            )
        )
    return rows


_SCRATCH = """
DROP TABLE IF EXISTS bench_scratch.submissions;
CREATE SCHEMA IF NOT EXISTS bench_scratch;
CREATE TABLE bench_scratch.submissions (
    tenant text NOT NULL, submission_id text NOT NULL, revision integer NOT NULL, fingerprint text NOT NULL,
    instrument text NOT NULL, unit text NOT NULL, submitted_at timestamptz NOT NULL, respondent text,
    answers jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, submission_id)
);
"""


async def copy_rows(database_url: str, messages: Sequence[Submission]) -> dict[str, Any]:
    """COPY the rows ingest would store into a scratch table with the same primary key, one
    transaction per 10,000 rows (ingest's largest batch); the rate is rows per second."""
    rows = submission_rows(messages)
    pool = await create_pool(database_url, max_size=2)
    try:
        async with pool.acquire() as conn:
            await conn.execute(_SCRATCH)
            started = time.perf_counter()
            for i in range(0, len(rows), COPY_CHUNK):
                async with conn.transaction():
                    await conn.copy_records_to_table(
                        "submissions",
                        schema_name="bench_scratch",
                        columns=(
                            "tenant",
                            "submission_id",
                            "revision",
                            "fingerprint",
                            "instrument",
                            "unit",
                            "submitted_at",
                            "respondent",
                            "answers",
                        ),
                        records=rows[i : i + COPY_CHUNK],
                    )
            elapsed = time.perf_counter() - started
            await conn.execute("DROP SCHEMA bench_scratch CASCADE")
    finally:
        await pool.close()
    return {"rows": len(rows), "rows_per_s": round(len(rows) / elapsed), "seconds": round(elapsed, 2)}


async def database_size(database_url: str) -> int:
    conn: asyncpg.Connection = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    finally:
        await conn.close()
