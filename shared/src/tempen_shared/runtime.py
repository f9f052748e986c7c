"""The resources every service owns for its lifetime: a pool, its schema, and its outbox relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from tempen_shared.db import create_pool, migrate
from tempen_shared.metrics import CommonMetrics
from tempen_shared.outbox import OutboxRelay, RelaySource
from tempen_shared.settings import ServiceSettings
from tempen_shared.supervision import BackgroundTasks
from tempen_shared.topics import all_topic_names

logger = logging.getLogger(__name__)


@dataclass
class ServiceResources:
    pool: asyncpg.Pool
    relay: OutboxRelay
    tasks: BackgroundTasks  # the outbox relay runs here; a service adds its own loops


@asynccontextmanager
async def service_resources(
    settings: ServiceSettings,
    *,
    schema: str,
    package: str,
    metrics: CommonMetrics,
    topics: Mapping[str, int] | None = None,
    wait_for_database_s: float = 60.0,
    also_migrate: tuple[str, ...] = (),
    tasks: BackgroundTasks | None = None,
    relay_sources: Callable[[asyncpg.Pool], Sequence[RelaySource]] = lambda _pool: (),
) -> AsyncIterator[ServiceResources]:
    """Open the pool (waiting for the database to come up), migrate, and run the outbox relay.

    The relay and its statistics run supervised in `tasks` (give the service's own, whose `check` is
    in its `/readyz`); every task in it is stopped when the context ends. `relay_sources` are tables
    the relay publishes from besides the outbox (ingest's submissions are their own outbox).
    """
    tasks = tasks if tasks is not None else BackgroundTasks(metrics)
    pool = await _pool_when_ready(settings, wait_for_database_s)
    try:
        applied = await migrate(pool, schema=schema, package=package)
        for extra in also_migrate:  # shared tables a service keeps in its own schema, e.g. its org copy
            applied += await migrate(pool, schema=schema, package=extra)
        if applied:
            logger.info("applied migrations %s to schema %s", ", ".join(applied), schema)
        names = topics or {settings.topic(n): p for n, p in all_topic_names().items()}
        relay = OutboxRelay(
            pool,
            schema=schema,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            topics=names,
            replication_factor=settings.replication_factor,
            retention_hours=settings.outbox_retention_hours,
            linger_ms=settings.linger_ms,
            on_published=metrics.outbox_published.inc,
            sources=relay_sources(pool),
        )
        tasks.start("outbox-relay", relay.run, on_stop=relay.stop)
        tasks.start("outbox-stats", lambda: _refresh_outbox_metrics(relay, metrics))
        try:
            yield ServiceResources(pool=pool, relay=relay, tasks=tasks)
        finally:
            await tasks.stop(timeout_s=10)
    finally:
        await pool.close()


async def _pool_when_ready(settings: ServiceSettings, wait_s: float) -> asyncpg.Pool:
    deadline = asyncio.get_running_loop().time() + wait_s
    delay = 0.2
    while True:
        try:
            return await create_pool(settings.database_url.get_secret_value(), max_size=settings.pool_max_size)
        except (OSError, asyncpg.PostgresError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise
            logger.warning("database not reachable yet (%r); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def _refresh_outbox_metrics(relay: OutboxRelay, metrics: CommonMetrics, interval_s: float = 2.0) -> None:
    republished_seen = 0
    while True:
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            stats = await relay.refresh_stats()
            metrics.outbox_backlog.set(stats.backlog)
            metrics.outbox_oldest_age.set(stats.oldest_age_s)
            if stats.republished_total > republished_seen:
                metrics.outbox_republished.inc(stats.republished_total - republished_seen)
                republished_seen = stats.republished_total
        await asyncio.sleep(interval_s)
