"""Alerts' composition root: consumer, sweeper (periods that close with no new score), notifiers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta

from faststream import ContextRepo
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from tempen_alerts.adapters.notifier import (
    EMAIL_CHANNELS,
    WEBHOOK_CHANNELS,
    MailFolderSender,
    Notifier,
    Sender,
    SmtpSender,
    WebhookSender,
    WebhookTarget,
)
from tempen_alerts.adapters.postgres import SCHEMA, PostgresAlertReader, PostgresAlertsStore, PostgresLinkStore
from tempen_alerts.adapters.scoring_api import HttpScoringScores
from tempen_alerts.config import AlertsSettings
from tempen_alerts.entrypoints.http import backtest_routes, routes
from tempen_alerts.entrypoints.kafka import build_router
from tempen_alerts.entrypoints.links import routes as link_routes
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.service import AlertsService, PortalLinks
from tempen_alerts.sweeper import run_sweeper
from tempen_shared.auth import AccessControl
from tempen_shared.clock import Clock, utc_now
from tempen_shared.http import ServiceApp, http_app, operational_routes
from tempen_shared.orgcopy import ORG_COPY, OrgHistories, consume_org
from tempen_shared.runtime import service_resources
from tempen_shared.secrets import MissingSecretError, resolve
from tempen_shared.supervision import BackgroundTasks
from tempen_shared.tenancy.loader import Catalog, load_catalog
from tempen_shared.tenancy.org import OrgTree
from tempen_shared.topics import ALERTS

logger = logging.getLogger(__name__)


class _Holder:
    store: PostgresAlertsStore | None = None
    histories: OrgHistories | None = None

    def get(self) -> PostgresAlertsStore:
        if self.store is None:
            raise RuntimeError("alerts is still starting")
        return self.store


def make_sender(settings: AlertsSettings, catalog: Catalog) -> Sender:
    def from_address(tenant: str) -> str:
        known = catalog.tenants.get(tenant)
        return str(known.config.notifications.from_address) if known else "tempen@localhost"

    if settings.smtp_host:
        return SmtpSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            timeout_s=settings.smtp_timeout_s,
            from_address=from_address,
        )
    return MailFolderSender(settings.mail_folder, from_address=from_address)


def webhook_target(catalog: Catalog) -> Callable[[str], WebhookTarget | None]:
    def target(tenant: str) -> WebhookTarget | None:
        known = catalog.tenants.get(tenant)
        config = known.config.notifications if known else None
        if config is None or config.webhook_url is None:
            return None
        return WebhookTarget(config.webhook_url, resolve(config.webhook_secret) if config.webhook_secret else None)

    return target


def create_app(
    settings: AlertsSettings | None = None, *, catalog: Catalog | None = None, clock: Clock = utc_now
) -> ServiceApp:
    settings = settings or AlertsSettings()  # read from the environment at startup
    catalog = catalog or load_catalog(settings.config_dir)
    registry = CollectorRegistry()
    metrics = AlertsMetrics(registry)
    holder = _Holder()
    access = AccessControl()
    sender = make_sender(settings, catalog)
    bases = {tenant_id: tenant.org for tenant_id, tenant in catalog.tenants.items()}

    async def org_at(tenant: str, day: date) -> OrgTree:
        if holder.histories is None:
            return bases[tenant]
        return await holder.histories.at(tenant, day)

    portal = None
    if settings.portal_url:
        if settings.link_secret is None:  # refused: e-mails whose links cannot be checked would be worse
            raise MissingSecretError("TEMPEN_PORTAL_URL is set but TEMPEN_LINK_SECRET is not: e-mail links need it")
        portal = PortalLinks(settings.portal_url, settings.link_secret.get_secret_value().encode())
    service = AlertsService(
        catalog=catalog,
        topic=settings.topic,
        public_url=settings.public_url,
        channel=sender.channel,
        clock=clock,
        org_at=org_at,
        portal=portal,
        history_settle=timedelta(seconds=settings.history_settle_s),
    )
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        middlewares=(KafkaPrometheusMiddleware(registry=registry, app_name="alerts"),),
        client_id="tempen-alerts",
        logger=logging.getLogger("tempen.alerts.broker"),
    )
    broker.include_router(
        build_router(settings, group_id=settings.group_id, store=holder.get, service=service, metrics=metrics)
    )
    org_router = KafkaRouter()
    consume_org(
        org_router,
        settings=settings,
        group_id=f"{settings.group_id}-org",
        metrics=metrics,
        pool=lambda: holder.get().pool,
        schema=SCHEMA,
        on_change=lambda: holder.histories.invalidate() if holder.histories else None,
    )
    broker.include_router(org_router)

    background = BackgroundTasks(metrics)

    @asynccontextmanager
    async def lifespan(context: ContextRepo) -> AsyncIterator[None]:  # noqa: ARG001 - FastStream passes it
        async with (
            service_resources(
                settings,
                schema=SCHEMA,
                package="tempen_alerts",
                metrics=metrics,
                also_migrate=(ORG_COPY,),
                tasks=background,
            ) as res,
            access.serving(res.pool),
        ):
            # Delivery uses the wall clock, not `clock`: receivers check webhook-timestamp against their own time.
            webhooks = WebhookSender(target=webhook_target(catalog), timeout_s=settings.webhook_timeout_s)
            notifiers = [
                Notifier(
                    res.pool,
                    channel_sender,
                    metrics,
                    channels=channels,
                    max_attempts=settings.notify_max_attempts,
                    backoff_s=settings.notify_backoff_s,
                    dead_letter_topic=settings.topic(ALERTS.name),
                    on_commit=res.relay.notify,
                    lease_s=settings.notify_lease_s,
                )
                for channel_sender, channels in ((sender, EMAIL_CHANNELS), (webhooks, WEBHOOK_CHANNELS))
            ]

            def committed() -> None:
                res.relay.notify()
                for notifier in notifiers:
                    notifier.notify()

            store = PostgresAlertsStore(res.pool, on_commit=committed)
            holder.store = store
            holder.histories = OrgHistories(res.pool, SCHEMA, bases)
            if isinstance(sender, MailFolderSender):
                logger.info("no SMTP server configured: e-mails are written to %s", sender.folder.resolve())
            for notifier in notifiers:
                background.start(f"notifier-{notifier.channel}", notifier.run, on_stop=notifier.stop)
            background.start(
                "sweeper", lambda: run_sweeper(store, service, metrics, interval_s=settings.sweep_interval_s)
            )
            try:
                yield
            finally:
                await background.stop("sweeper")
                # Let a delivery in hand finish: cancelling it mid-send would leave its row in doubt.
                await background.stop(*(f"notifier-{n.channel}" for n in notifiers), timeout_s=settings.notify_drain_s)
                await webhooks.aclose()
                holder.store = None

    async def database_ready() -> bool:
        return holder.store is not None and await holder.store.ping()

    async def broker_ready() -> bool:
        # Ready only once every subscriber has joined its group: until then nothing is consumed.
        return broker.running and await broker.ping(timeout=2.0)

    reader = PostgresAlertReader(lambda: holder.get().pool)
    return ServiceApp(
        broker,
        logger=logging.getLogger("tempen.alerts.app"),
        lifespan=lifespan,
        asgi_routes=operational_routes(
            checks={"broker": broker_ready, "database": database_ready, "background_tasks": background.check},
            metrics=metrics,
            registry=registry,
        ),
        http=http_app(
            [
                *routes(holder.get, reader, service, metrics),
                *backtest_routes(
                    service,
                    metrics,
                    copy=reader,
                    scoring=HttpScoringScores(settings.scoring_url, timeout_s=settings.scoring_timeout_s),
                    scoring_url=settings.scoring_url,
                ),
                *link_routes(PostgresLinkStore(lambda: holder.get().pool), catalog, clock, metrics),
            ],
            access=access,
        ),
    )
