"""Alerts' composition root: consumer, sweeper (periods that close with no new score), notifier."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from faststream import ContextRepo
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry, make_asgi_app

from tempen_alerts.adapters.notifier import MailFolderSender, Notifier, Outgoing, Sender, SmtpSender
from tempen_alerts.adapters.postgres import SCHEMA, PostgresAlertsStore
from tempen_alerts.config import AlertsSettings
from tempen_alerts.entrypoints.http import routes
from tempen_alerts.entrypoints.kafka import build_router
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.service import AlertsService
from tempen_shared.db import TRANSIENT_DB_ERRORS, StoreUnavailableError
from tempen_shared.events import DeadLetter
from tempen_shared.http import ServiceApp, http_app, liveness, readiness
from tempen_shared.outbox import dead_letter_messages
from tempen_shared.runtime import service_resources
from tempen_shared.tenancy.loader import Catalog, load_catalog
from tempen_shared.topics import ALERTS

logger = logging.getLogger(__name__)


class _Holder:
    store: PostgresAlertsStore | None = None

    def get(self) -> PostgresAlertsStore:
        if self.store is None:
            raise RuntimeError("alerts is still starting")
        return self.store


def make_sender(settings: AlertsSettings) -> Sender:
    if settings.smtp_host:
        return SmtpSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            timeout_s=settings.smtp_timeout_s,
        )
    return MailFolderSender(settings.mail_folder)


def create_app(settings: AlertsSettings | None = None, *, catalog: Catalog | None = None) -> ServiceApp:
    settings = settings or AlertsSettings()  # read from the environment at startup
    catalog = catalog or load_catalog(settings.config_dir)
    registry = CollectorRegistry()
    metrics = AlertsMetrics(registry)
    holder = _Holder()
    sender = make_sender(settings)
    service = AlertsService(
        catalog=catalog, topic=settings.topic, public_url=settings.public_url, channel=sender.channel
    )
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        middlewares=(KafkaPrometheusMiddleware(registry=registry, app_name="alerts"),),
        client_id="tempen-alerts",
    )
    broker.include_router(
        build_router(settings, group_id=settings.group_id, store=holder.get, service=service, metrics=metrics)
    )

    @asynccontextmanager
    async def lifespan(context: ContextRepo) -> AsyncIterator[None]:  # noqa: ARG001 - FastStream passes it
        async with service_resources(settings, schema=SCHEMA, package="tempen_alerts", metrics=metrics) as res:
            store = PostgresAlertsStore(res.pool, on_commit=res.relay.notify)  # rebound below, once the notifier exists

            async def failed(message: Outgoing, reason: str) -> None:
                letter = DeadLetter(
                    source_topic=settings.topic(ALERTS.name),
                    partition=-1,
                    offset=-1,
                    key=message.tenant,
                    value=f'{{"notification_id": "{message.notification_id}"}}',
                    reason="notification_failed",
                    detail=reason[:500],
                    consumer="alerts-notifier",
                    dead_lettered_at=datetime.now(UTC),
                )
                async with store.transaction() as repo:
                    await repo.publish(dead_letter_messages([letter]))

            notifier = Notifier(
                res.pool,
                sender,
                metrics,
                from_address=lambda t: (
                    str(catalog.tenants[t].config.notifications.from_address)
                    if t in catalog.tenants
                    else "tempen@localhost"
                ),
                max_attempts=settings.notify_max_attempts,
                backoff_s=settings.notify_backoff_s,
                on_failed=failed,
            )

            def committed() -> None:
                res.relay.notify()
                notifier.notify()

            store = PostgresAlertsStore(res.pool, on_commit=committed)
            holder.store = store
            if isinstance(sender, MailFolderSender):
                logger.info("no SMTP server configured: e-mails are written to %s", sender.folder.resolve())
            tasks = [
                asyncio.create_task(notifier.run(), name="alerts-notifier"),
                asyncio.create_task(_sweep(store, service, metrics, settings.sweep_interval_s), name="alerts-sweeper"),
            ]
            try:
                yield
            finally:
                notifier.stop()
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                holder.store = None

    async def database_ready() -> bool:
        return holder.store is not None and await holder.store.ping()

    async def broker_ready() -> bool:
        return await broker.ping(timeout=2.0)

    return ServiceApp(
        broker,
        lifespan=lifespan,
        asgi_routes=[
            ("/healthz", liveness()),
            ("/readyz", readiness({"broker": broker_ready, "database": database_ready})),
            ("/metrics", make_asgi_app(registry)),
        ],
        http=http_app(routes(holder.get, service, metrics)),
    )


async def _sweep(store: PostgresAlertsStore, service: AlertsService, metrics: AlertsMetrics, interval_s: float) -> None:
    """Judge series whose periods closed since the last score arrived, and time-based escalations."""
    while True:
        try:
            now = datetime.now(UTC)
            async with store.transaction() as repo:
                due = await repo.series_due(now=now)
            for key in due:
                async with store.transaction() as repo:
                    judged = await service.judge(repo, key, now=now)
                for state in judged.transitions:
                    metrics.transitions.labels(state).inc()
            counts = {"open": 0, "acknowledged": 0, "escalated": 0}
            for row in await store.pool.fetch(
                f"SELECT state, count(*) AS n FROM {SCHEMA}.alerts WHERE state <> 'resolved' GROUP BY state"
            ):
                counts[row["state"]] = row["n"]
            for state, n in counts.items():
                metrics.open_alerts.labels(state).set(n)
        except (StoreUnavailableError, *TRANSIENT_DB_ERRORS) as exc:  # type: ignore[misc]
            logger.warning("sweeper paused: %r", exc)
        await asyncio.sleep(interval_s)
