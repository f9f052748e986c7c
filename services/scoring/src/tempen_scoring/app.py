"""Scoring's composition root."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from faststream import ContextRepo
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from tempen_scoring.adapters.postgres import SCHEMA, PostgresScoringStore
from tempen_scoring.config import ScoringSettings
from tempen_scoring.entrypoints.http import routes
from tempen_scoring.entrypoints.kafka import build_router
from tempen_scoring.metrics import ScoringMetrics
from tempen_shared.auth import AccessControl
from tempen_shared.http import ServiceApp, http_app, operational_routes
from tempen_shared.runtime import service_resources
from tempen_shared.tenancy.loader import Catalog, load_catalog


class _Holder:
    store: PostgresScoringStore | None = None
    pool: asyncpg.Pool | None = None

    def get_store(self) -> PostgresScoringStore:
        if self.store is None:
            raise RuntimeError("scoring is still starting")
        return self.store

    def get_pool(self) -> asyncpg.Pool:
        if self.pool is None:
            raise RuntimeError("scoring is still starting")
        return self.pool


def create_app(settings: ScoringSettings | None = None, *, catalog: Catalog | None = None) -> ServiceApp:
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

    @asynccontextmanager
    async def lifespan(context: ContextRepo) -> AsyncIterator[None]:  # noqa: ARG001 - FastStream passes it
        async with (
            service_resources(settings, schema=SCHEMA, package="tempen_scoring", metrics=metrics) as res,
            access.serving(res.pool),
        ):
            holder.pool = res.pool
            holder.store = PostgresScoringStore(
                res.pool,
                catalog=catalog,
                topic=settings.topic,
                on_commit=res.relay.notify,
                slice_cache=settings.slice_cache,
            )
            yield
            holder.store = None
            holder.pool = None

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
            checks={"broker": broker_ready, "database": database_ready}, metrics=metrics, registry=registry
        ),
        http=http_app(routes(holder.get_pool, catalog, metrics), access=access),
    )
