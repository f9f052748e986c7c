"""Scoring's composition root."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import asyncpg
from faststream import ContextRepo
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from tempen_scoring.adapters.postgres import (
    SCHEMA,
    PostgresScoreReader,
    PostgresScoringStore,
    ScoreGroupsRelaySource,
)
from tempen_scoring.config import ScoringSettings
from tempen_scoring.entrypoints import report
from tempen_scoring.entrypoints.http import routes
from tempen_scoring.entrypoints.kafka import build_router
from tempen_scoring.metrics import ScoringMetrics
from tempen_scoring.realign import run_realigner
from tempen_scoring.ticker import run_ticker
from tempen_shared.auth import AccessControl
from tempen_shared.clock import Clock, utc_now
from tempen_shared.db import OUTAGE_ERRORS
from tempen_shared.http import ServiceApp, http_app, operational_routes
from tempen_shared.orgcopy import ORG_COPY, OrgHistories, consume_org
from tempen_shared.runtime import service_resources
from tempen_shared.supervision import BackgroundTasks
from tempen_shared.tenancy.loader import Catalog, load_catalog
from tempen_shared.tenancy.org import OrgHistory, OrgTree


class _Holder:
    store: PostgresScoringStore | None = None
    pool: asyncpg.Pool | None = None
    histories: OrgHistories | None = None

    def get_store(self) -> PostgresScoringStore:
        if self.store is None:
            raise RuntimeError("scoring is still starting")
        return self.store

    def get_pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("scoring is still starting")
        return self.pool


def create_app(
    settings: ScoringSettings | None = None, *, catalog: Catalog | None = None, clock: Clock = utc_now
) -> ServiceApp:
    settings = settings or ScoringSettings()  # read from the environment at startup
    catalog = catalog or load_catalog(settings.config_dir)
    registry = CollectorRegistry()
    metrics = ScoringMetrics(registry)
    holder = _Holder()
    access = AccessControl()
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        middlewares=(KafkaPrometheusMiddleware(registry=registry, app_name="scoring"),),
        client_id="tempen-scoring",
        logger=logging.getLogger("tempen.scoring.broker"),
    )
    broker.include_router(
        build_router(settings, group_id=settings.group_id, catalog=catalog, store=holder.get_store, metrics=metrics)
    )
    bases = {tenant_id: tenant.org for tenant_id, tenant in catalog.tenants.items()}
    org_changed = asyncio.Event()
    scores_written = asyncio.Event()

    async def org_at(tenant: str, day: date) -> OrgTree:
        if holder.histories is None:
            return bases[tenant]
        return await holder.histories.at(tenant, day)

    def on_org_change() -> None:
        if holder.histories is not None:
            holder.histories.invalidate()
        org_changed.set()

    # Scoring's own copy of the org versions, so each period rolls up against the tree as it was.
    org_router = KafkaRouter()
    consume_org(
        org_router,
        settings=settings,
        group_id=f"{settings.group_id}-org",
        metrics=metrics,
        pool=holder.get_pool,
        schema=SCHEMA,
        on_change=on_org_change,
    )
    broker.include_router(org_router)

    background = BackgroundTasks(metrics)

    @asynccontextmanager
    async def lifespan(context: ContextRepo) -> AsyncIterator[None]:  # noqa: ARG001 - FastStream passes it
        async with (
            service_resources(
                settings,
                schema=SCHEMA,
                package="tempen_scoring",
                metrics=metrics,
                also_migrate=(ORG_COPY,),
                tasks=background,
                relay_sources=lambda pool: [
                    ScoreGroupsRelaySource(pool, topic=settings.topic, on_published=metrics.scores_published.inc)
                ],
            ) as res,
            access.serving(res.pool),
        ):
            holder.pool = res.pool
            holder.histories = OrgHistories(res.pool, SCHEMA, bases)
            holder.store = PostgresScoringStore(
                res.pool,
                catalog=catalog,
                topic=settings.topic,
                on_commit=res.relay.notify,
                slice_cache=settings.slice_cache,
                org_at=org_at,
                on_written=scores_written.set,
                score_interval_s=settings.score_interval_s,
                backlog_score_interval_s=settings.backlog_score_interval_s,
                unscored_grace_s=2 * settings.backlog_score_interval_s + 1,
            )
            org_changed.set()  # at start: versions may have arrived while scoring was down
            scores_written.set()  # and a tick may be waiting
            store = holder.store
            background.start(
                "realigner", lambda: run_realigner(store, org_changed, interval_s=settings.realign_interval_s)
            )
            # Looks again a few times per interval while a tick is not due, so it is late by little.
            background.start(
                "score-ticker",
                lambda: run_ticker(store, scores_written, interval_s=max(settings.score_interval_s / 4, 0.05)),
            )
            try:
                yield
            finally:
                await background.stop("realigner", "score-ticker")
                with contextlib.suppress(*OUTAGE_ERRORS):
                    await store.score_pending(force=True)  # what the last batches left for the next tick
                holder.store = None
                holder.histories = None
                holder.pool = None

    async def org_history(tenant: str) -> OrgHistory:
        if holder.histories is None:
            return OrgHistory.of([(date.min, bases[tenant])])
        return await holder.histories.of(tenant)

    async def database_ready() -> bool:
        return holder.store is not None and await holder.store.ping()

    async def broker_ready() -> bool:
        # Ready only once every subscriber has joined its group: until then nothing is consumed.
        return broker.running and await broker.ping(timeout=2.0)

    return ServiceApp(
        broker,
        logger=logging.getLogger("tempen.scoring.app"),
        lifespan=lifespan,
        asgi_routes=operational_routes(
            checks={"broker": broker_ready, "database": database_ready, "background_tasks": background.check},
            metrics=metrics,
            registry=registry,
        ),
        http=http_app(
            routes(PostgresScoreReader(holder.get_pool), catalog, metrics, org_history=org_history, clock=clock)
            + report.routes(
                PostgresScoreReader(holder.get_pool), catalog, metrics, org_history=org_history, clock=clock
            ),
            access=access,
        ),
    )
