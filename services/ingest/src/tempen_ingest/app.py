"""Ingest's composition root: the one place that builds and wires everything."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from faststream import ContextRepo
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from tempen_ingest.adapters.fetches import PostgresFetchQueue
from tempen_ingest.adapters.org import PostgresOrgStore
from tempen_ingest.adapters.platform_api import HttpResponseSource
from tempen_ingest.adapters.postgres import SCHEMA, PostgresSubmissionStore, SubmissionsRelaySource
from tempen_ingest.config import IngestSettings
from tempen_ingest.entrypoints.http import routes
from tempen_ingest.entrypoints.kafka import build_router
from tempen_ingest.entrypoints.org_http import org_routes
from tempen_ingest.fetching import ResponseFetcher
from tempen_ingest.mappings import load_mappings
from tempen_ingest.metrics import IngestMetrics
from tempen_ingest.retention import run_retention
from tempen_ingest.service import IngestService
from tempen_shared.auth import AccessControl
from tempen_shared.clock import utc_now
from tempen_shared.http import ServiceApp, http_app, operational_routes
from tempen_shared.runtime import service_resources
from tempen_shared.secrets import pseudonym_keys, resolve
from tempen_shared.supervision import BackgroundTasks
from tempen_shared.tenancy.loader import Catalog, load_catalog
from tempen_shared.topics import INTAKE


class _Holder:
    service: IngestService | None = None
    org_store: PostgresOrgStore | None = None
    # Units of every imported org version, so a unit added by an import is accepted at once.
    imported_units: dict[str, set[str]]

    def __init__(self) -> None:
        self.imported_units = {}

    def get(self) -> IngestService:
        if self.service is None:
            raise RuntimeError("ingest is still starting")
        return self.service

    def get_org_store(self) -> PostgresOrgStore:
        if self.org_store is None:
            raise RuntimeError("ingest is still starting")
        return self.org_store

    async def refresh_units(self) -> None:
        self.imported_units = await self.get_org_store().known_units()

    def known_units(self, tenant: str) -> set[str]:
        return self.imported_units.get(tenant, set())


def create_app(settings: IngestSettings | None = None, *, catalog: Catalog | None = None) -> ServiceApp:
    settings = settings or IngestSettings()  # read from the environment at startup
    catalog = catalog or load_catalog(settings.config_dir)
    keys = pseudonym_keys(catalog, fallback=settings.pseudonym_key, allow_fallback=settings.allow_development_key)
    mappings = load_mappings(settings.config_dir, catalog)  # config/mappings/<tenant>/*.yaml
    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    holder = _Holder()
    access = AccessControl()
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        middlewares=(KafkaPrometheusMiddleware(registry=registry, app_name="ingest"),),
        client_id="tempen-ingest",
        logger=logging.getLogger("tempen.ingest.broker"),
    )
    broker.include_router(build_router(settings, group_id=settings.group_id, service=holder.get, metrics=metrics))

    background = BackgroundTasks(metrics)

    @asynccontextmanager
    async def lifespan(context: ContextRepo) -> AsyncIterator[None]:  # noqa: ARG001 - FastStream passes it
        async with (
            service_resources(
                settings,
                schema=SCHEMA,
                package="tempen_ingest",
                metrics=metrics,
                tasks=background,
                relay_sources=lambda pool: [SubmissionsRelaySource(pool, topic=settings.topic)],
            ) as res,
            access.serving(res.pool),
        ):
            store = PostgresSubmissionStore(res.pool, topic=settings.topic, on_commit=res.relay.notify)
            fetches = PostgresFetchQueue(res.pool, on_enqueue=lambda: fetcher.notify())
            source = HttpResponseSource(timeout_s=settings.fetch_timeout_s)
            fetcher = ResponseFetcher(
                holder.get,
                fetches,
                source,
                metrics,
                dead_letter_topic=settings.topic(INTAKE.name),
                max_attempts=settings.fetch_max_attempts,
                backoff_s=settings.fetch_backoff_s,
                max_backoff_s=settings.fetch_max_backoff_s,
                lease_s=settings.fetch_lease_s,
                idle_s=settings.fetch_idle_s,
            )
            holder.org_store = PostgresOrgStore(res.pool, topic=settings.topic, on_commit=res.relay.notify)
            await holder.refresh_units()
            holder.service = IngestService(
                catalog=catalog,
                store=store,
                pseudonym_keys=keys,
                clock=utc_now,
                max_clock_skew=timedelta(seconds=settings.max_clock_skew_s),
                mappings=mappings.mappings,
                resolve_secret=resolve,  # at each delivery, so a rotated secret file counts at once
                known_units=holder.known_units,
                fetches=fetches,
            )
            background.start(
                "retention",
                lambda: run_retention(
                    holder.get,
                    answers_after=timedelta(days=settings.retention_days),
                    comments_after=timedelta(days=settings.comment_retention_days),
                    interval_s=settings.retention_interval_s,
                ),
            )
            background.start("response_fetcher", fetcher.run, on_stop=fetcher.stop)
            try:
                yield
            finally:
                await background.stop("response_fetcher", "retention")
                await source.aclose()
                holder.service = None

    async def database_ready() -> bool:
        return holder.service is not None and await holder.service.ping()

    async def broker_ready() -> bool:
        # Ready only once every subscriber has joined its group: until then nothing is consumed.
        return broker.running and await broker.ping(timeout=2.0)

    return ServiceApp(
        broker,
        logger=logging.getLogger("tempen.ingest.app"),
        lifespan=lifespan,
        asgi_routes=operational_routes(
            checks={"broker": broker_ready, "database": database_ready, "background_tasks": background.check},
            metrics=metrics,
            registry=registry,
        ),
        http=http_app(
            [
                *routes(
                    holder.get,
                    metrics,
                    max_items=settings.max_batch_items,
                    max_webhook_bytes=settings.max_webhook_bytes,
                ),
                *org_routes(holder.get_org_store, catalog, after_store=holder.refresh_units),
            ],
            access=access,
        ),
    )
