"""The plain per-message implementation tempen is compared with: what a user would write first.

A FastStream subscriber that, for every message, INSERTs the submission and UPDATEs one running
total per dimension for the unit and each unit above it, committing each message, on the same
broker and database as the services. It has no anonymity rule, no corrections, no retractions, no
outbox and no alerts, so it does less than tempen; issue 14 asks tempen's end to end to be at least
20 times its rate. It is slow, so it runs on the first `count` messages and for at most `max_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker

from bench.generator import Submission
from tempen_shared.db import create_pool
from tempen_shared.kafka import ensure_topics
from tempen_shared.tenancy.loader import load_catalog

_SCHEMA = """
DROP SCHEMA IF EXISTS bench_plain CASCADE;
CREATE SCHEMA bench_plain;
CREATE TABLE bench_plain.submissions (
    tenant text NOT NULL, submission_id text NOT NULL, unit text NOT NULL, submitted_at text NOT NULL,
    answers jsonb NOT NULL, PRIMARY KEY (tenant, submission_id)
);
CREATE TABLE bench_plain.dimension_totals (
    tenant text NOT NULL, unit text NOT NULL, model text NOT NULL, dimension text NOT NULL, period text NOT NULL,
    respondents integer NOT NULL, total double precision NOT NULL,
    PRIMARY KEY (tenant, unit, model, dimension, period)
);
"""

_INSERT = (
    "INSERT INTO bench_plain.submissions VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, submission_id) DO NOTHING"
)
_ADD = """
INSERT INTO bench_plain.dimension_totals VALUES ($1, $2, $3, $4, $5, 1, $6)
ON CONFLICT (tenant, unit, model, dimension, period) DO UPDATE
    SET respondents = dimension_totals.respondents + 1, total = dimension_totals.total + EXCLUDED.total
"""


async def plain_per_message(
    bootstrap: str,
    database_url: str,
    topic: str,
    messages: Sequence[Submission],
    config_dir: Path,
    *,
    count: int = 3_000,
    max_s: float = 120.0,
) -> dict[str, Any]:
    """Messages per second through the plain implementation, from the first send to the last commit."""
    catalog = load_catalog(config_dir)
    sample = list(messages[:count])
    await ensure_topics(bootstrap, {topic: 4})
    pool = await create_pool(database_url, max_size=2)
    done = 0
    finished = asyncio.Event()
    broker = KafkaBroker(bootstrap, logger=logging.getLogger("bench.plain"))

    @broker.subscriber(topic, group_id="bench-plain", auto_offset_reset="earliest")
    async def handle(doc: dict[str, Any]) -> None:
        nonlocal done
        tenant = catalog.tenants[doc["tenant"]]
        instrument = tenant.instruments[doc["instrument"]]
        # A respondent's score per dimension: the mean of their answers on it, 0-100.
        per_dimension: dict[tuple[str, str], list[float]] = {}
        for item_id, value in doc["answers"].items():
            item = instrument.item(item_id)
            if item is None:
                continue
            scale = instrument.scale_of(item)
            if not scale.low <= value <= scale.high:
                continue  # "vet ej"
            position = (scale.high - value) if item.reverse else (value - scale.low)
            model = instrument.model_of(item)
            per_dimension.setdefault((model, item.dimension), []).append(100 * position / (scale.high - scale.low))
        units = [doc["unit"], *(a.id for a in tenant.org.ancestors(doc["unit"]))]
        period = doc["submitted_at"][:7]
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                _INSERT, doc["tenant"], doc["submission_id"], doc["unit"], doc["submitted_at"], doc["answers"]
            )
            for (model, dimension), scores in per_dimension.items():
                for unit in units:
                    await conn.execute(_ADD, doc["tenant"], unit, model, dimension, period, sum(scores) / len(scores))
        done += 1
        if done >= len(sample):
            finished.set()

    try:
        async with pool.acquire() as conn:
            await conn.execute(_SCHEMA)
        await broker.start()
        started = time.perf_counter()
        for message in sample:
            await broker.publish(message.body, topic, key=message.key)
        with contextlib.suppress(TimeoutError):  # slower than that: the rate of what it did
            await asyncio.wait_for(finished.wait(), timeout=max_s)
        elapsed = time.perf_counter() - started
    finally:
        await broker.stop()
        async with pool.acquire() as conn:
            await conn.execute("DROP SCHEMA IF EXISTS bench_plain CASCADE")
        await pool.close()
    if not done:
        raise RuntimeError(f"the plain per-message implementation handled none of {len(sample)} messages in {max_s} s")
    return {"messages": done, "of": len(sample), "seconds": round(elapsed, 2), "per_s": round(done / elapsed, 1)}
