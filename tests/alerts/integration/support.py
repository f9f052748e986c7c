"""Helpers for alerts' integration tests: a scriptable SMTP server, a settable clock, scores, a store, the
service and the catalogs it is built on."""

from __future__ import annotations

import asyncio
import email
import threading
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any
from uuid import uuid4

import asyncpg

from tempen_alerts.adapters.notifier import EMAIL_CHANNELS, Notifier, SmtpSender
from tempen_alerts.adapters.postgres import SCHEMA, PostgresAlertsStore
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.ports import AlertsStore
from tempen_alerts.service import AlertsService, PortalLinks
from tempen_shared.access.store import create_token, migrate_access
from tempen_shared.clock import Clock
from tempen_shared.db import create_pool, migrate
from tempen_shared.events import DimensionScore, UnitScored
from tempen_shared.tenancy.loader import Catalog, load_catalog
from tempen_shared.tenancy.models import Notifications
from tests.support import free_port

FIXTURE_CONFIG = Path(__file__).parents[2] / "fixtures" / "config"
TENANT = "testkommun"
UNIT = "grupp-a1"
DIMENSIONS = ("ledarskap", "motivation", "total")  # tests/fixtures/config/models/test-model.yaml
NEXT_LEVEL = "bo@testkommun.example"  # grupp-a1's own manager also heads enhet-a, so level 1 is the förvaltning's
LEVEL_TWO = "kim@testkommun.example"
UNIT_MANAGER = "cecilia@testkommun.example"


def fixture_catalog() -> Catalog:
    return load_catalog(FIXTURE_CONFIG)


def with_tenant_settings(
    catalog: Catalog | None = None,
    *,
    notifications: Mapping[str, Any] | None = None,
    alert_policy: Mapping[str, Any] | None = None,
) -> Catalog:
    """The fixture catalog (or `catalog`) with the test tenant's notifications or alert policy changed."""
    catalog = catalog or fixture_catalog()
    tenant = catalog.tenants[TENANT]
    config = tenant.config.model_copy(
        update={
            "notifications": tenant.config.notifications.model_copy(update=dict(notifications or {})),
            "alert_policy": tenant.config.alert_policy.model_copy(update=dict(alert_policy or {})),
        }
    )
    return replace(catalog, tenants={**catalog.tenants, TENANT: replace(tenant, config=config)})


DEFAULT_QUIET_DAYS = Notifications().quiet_history_days  # 45


def quiet_history_catalog() -> Catalog:
    """The fixture tenant (which notifies about every period, for the other tests) with the default policy."""
    return with_tenant_settings(notifications={"quiet_history_days": DEFAULT_QUIET_DAYS})


def alerts_service(clock: Clock, *, catalog: Catalog | None = None, portal: PortalLinks | None = None) -> AlertsService:
    """The service as the app builds it, on the fixture tenants (or `catalog`) and the test's clock."""
    return AlertsService(
        catalog=catalog or fixture_catalog(),
        topic=lambda name: f"test.{name}",
        public_url="https://alerts.test",
        channel="email",
        clock=clock,
        portal=portal,
    )


class SettableClock:
    """The service's clock in a test: it says what the test last set, and moves only when told."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def month(year: int, number: int) -> tuple[str, datetime, datetime]:
    start = datetime(year, number, 1, tzinfo=UTC)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return f"{year}-{number:02d}", start, end


def unit_scores(
    year: int,
    number: int,
    index: float,
    *,
    unit: str = UNIT,
    respondents: int = 8,
    standard_error: float | None = 2.0,
    tenant_index: float | None = None,
    sequence: int = 1,
    dimensions: Iterable[str] = DIMENSIONS,
) -> list[UnitScored]:
    """What scoring publishes for one unit and month: one event with every dimension of the fixture model."""
    period, start, end = month(year, number)
    return [
        UnitScored(
            event_id=uuid4(),
            occurred_at=end,
            tenant=TENANT,
            unit=unit,
            scope="unit",
            model="test-model",
            model_version="1",
            instrument="test-puls",
            period=period,
            period_start=start,
            period_end=end,
            respondents=respondents,
            sequence=sequence,
            dimensions={
                dimension: DimensionScore(index=index, standard_error=standard_error, tenant_index=tenant_index)
                for dimension in dimensions
            },
        )
    ]


# A year of history imported quietly (docs/alerts.md, "Importing history quietly"): every month is of 2025, and
# the import runs in March 2026, long after December 2025 closed.
IMPORTED_AT = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
# grupp-a1 drops in May, opens on June, escalates to level 2 (the top of its chain) on August, and stays low
# but 5 points better than August, so it stays at level 2 rather than going on to HR.
GRUPP_A1 = [75, 76, 74, 75, 40, 41, 42, 41, 46, 47, 46, 47]
# grupp-b1 opens on February and recovers in March: closed long before the import, so nobody hears of it.
GRUPP_B1 = [40, 41, 80, 78, 79, 77, 78, 80, 79, 78, 77, 79]


async def import_2025(store: AlertsStore) -> None:
    """The year of GRUPP_A1 and GRUPP_B1 (ledarskap), stored as a backfill brings it in."""
    async with store.transaction() as repo:
        for number, (a1, b1) in enumerate(zip(GRUPP_A1, GRUPP_B1, strict=True), start=1):
            await repo.upsert_scores(
                [
                    *unit_scores(2025, number, a1, dimensions=("ledarskap",)),
                    *unit_scores(2025, number, b1, unit="grupp-b1", dimensions=("ledarskap",)),
                ]
            )


async def two_challenged_months(store: AlertsStore) -> None:
    """January and February 2026 low on every dimension of grupp-a1: an alert opens on each once judged."""
    async with store.transaction() as repo:
        await repo.upsert_scores([*unit_scores(2026, 1, 40.0), *unit_scores(2026, 2, 41.0)])


@asynccontextmanager
async def alerts_store(database_url: str) -> AsyncIterator[PostgresAlertsStore]:
    """Alerts' real store on a fresh database, its schema migrated as the service does at start-up."""
    pool = await create_pool(database_url)
    try:
        await migrate(pool, schema=SCHEMA, package="tempen_alerts")
        yield PostgresAlertsStore(pool, on_commit=lambda: None)
    finally:
        await pool.close()


async def admin_token(database_url: str) -> str:
    """A bearer token for the services' APIs in this test's database."""
    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate_access(pool)
        token, _ = await create_token(pool, tenant=None, name=f"test {uuid4().hex[:6]}", scopes=())
        return token
    finally:
        await pool.close()


async def notification_states(conn: asyncpg.Connection | asyncpg.Pool) -> dict[str, int]:
    rows = await conn.fetch("SELECT state, count(*) AS n FROM alerts.notifications GROUP BY state")
    return {row["state"]: int(row["n"]) for row in rows}


@dataclass
class Attempt:
    stage: str  # "RCPT" or "DATA"
    address: str
    reply: str


@dataclass
class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) whose replies a test scripts.

    - `refuse_rcpt[address]`: replies for RCPT TO of that address, used up one per attempt, then 250;
    - `always_refuse_rcpt[address]` / `always_refuse_data[address]`: a reply for every attempt;
    - `refuse_data`: replies for the next DATA commands, used up one each, then 250;
    - `gate`: while clear, DATA waits (a slow or hanging server); `in_data` is set once one is waiting;
    - `delay_s`: every DATA takes this long;
    - `smtputf8`: whether EHLO offers SMTPUTF8 (aiosmtpd's default is not to);
    - `envelopes`: (MAIL FROM, RCPT TOs, MAIL options) of each accepted message, as the server read them.
    """

    refuse_rcpt: dict[str, list[str]] = field(default_factory=dict)
    always_refuse_rcpt: dict[str, str] = field(default_factory=dict)
    always_refuse_data: dict[str, str] = field(default_factory=dict)
    refuse_data: list[str] = field(default_factory=list)
    delay_s: float = 0.0
    gate: threading.Event = field(default_factory=threading.Event)
    in_data: threading.Event = field(default_factory=threading.Event)
    smtputf8: bool = False
    messages: list[Any] = field(default_factory=list)
    envelopes: list[tuple[str, list[str], list[str]]] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.gate.set()
        sink = self

        class Handler:
            async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook names
                self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
            ) -> str:
                queued = sink.refuse_rcpt.get(address.lower())
                reply = sink.always_refuse_rcpt.get(address.lower()) or (queued.pop(0) if queued else None)
                if reply:
                    sink.attempts.append(Attempt("RCPT", address, reply))
                    return reply
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                address = envelope.rcpt_tos[0].lower()
                sink.in_data.set()
                while not sink.gate.is_set():
                    await asyncio.sleep(0.01)
                if sink.delay_s:
                    await asyncio.sleep(sink.delay_s)
                reply = sink.always_refuse_data.get(address) or (sink.refuse_data.pop(0) if sink.refuse_data else None)
                if reply:
                    sink.attempts.append(Attempt("DATA", address, reply))
                    return reply
                sink.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
                sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), list(envelope.mail_options)))
                sink.attempts.append(Attempt("DATA", address, "250"))
                return "250 Message accepted for delivery"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=self.smtputf8)

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self._controller.stop()

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


@asynccontextmanager
async def running_alerts(
    *,
    bootstrap_servers: str,
    database_url: str,
    topic_prefix: str,
    smtp_port: int,
    catalog: Catalog | None = None,
    **overrides: Any,
) -> AsyncIterator[str]:
    """Alerts' whole app in this process (consumer, sweeper, notifiers, outbox relay, HTTP) on a real
    loopback port, on the real broker and PostgreSQL; yields its base URL."""
    from tempen_alerts.app import create_app
    from tempen_alerts.config import AlertsSettings
    from tempen_shared.kafka import ensure_topics
    from tempen_shared.topics import all_topic_names
    from tests.support import serving

    await ensure_topics(bootstrap_servers, {f"{topic_prefix}{name}": n for name, n in all_topic_names().items()})
    options: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "smtp_timeout_s": 5.0,
        "notify_backoff_s": 0.05,
        "sweep_interval_s": 0.5,
        "public_url": "https://alerts.test",
        **overrides,
    }
    settings = AlertsSettings(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers,
        DATABASE_URL=database_url,
        TEMPEN_CONFIG_DIR=FIXTURE_CONFIG,
        TEMPEN_TOPIC_PREFIX=topic_prefix,
        TEMPEN_KAFKA_SESSION_TIMEOUT_MS=2000,
        TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS=300,
        **options,
    )
    async with serving(create_app(settings, catalog=catalog)) as base:
        yield base


async def publish_scores(bootstrap_servers: str, topic_prefix: str, scores: Iterable[UnitScored]) -> None:
    """Put scores on `tempen.scores` the way scoring's outbox relay does: keyed tenant:unit, JSON."""
    from aiokafka import AIOKafkaProducer

    from tempen_shared.topics import SCORES, partition_key

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        for score in scores:
            await producer.send_and_wait(
                f"{topic_prefix}{SCORES.name}",
                value=score.model_dump_json().encode(),
                key=partition_key(score.tenant, score.unit),
                headers=[("computed_at", datetime.now(UTC).isoformat().encode())],
            )
    finally:
        await producer.stop()


def smtp_notifier(store: PostgresAlertsStore, sink: SmtpSink, metrics: AlertsMetrics) -> Notifier:
    """The e-mail notifier as the service builds it, sending to `sink`, with short retries for tests."""
    return Notifier(
        store.pool,
        SmtpSender(
            host="127.0.0.1",
            port=sink.port,
            username=None,
            password=None,
            starttls=False,
            timeout_s=5,
            from_address=lambda _tenant: "tempen@testkommun.example",
        ),
        metrics,
        channels=EMAIL_CHANNELS,
        max_attempts=3,
        backoff_s=0.05,
        dead_letter_topic="test.tempen.alerts",
    )


async def deliver_all(notifier: Notifier, store: PostgresAlertsStore) -> bool:
    """Deliver what is due; whether nothing is left pending or sending (for `eventually`)."""
    await notifier.deliver_due()
    return bool(
        await store.pool.fetchval("SELECT count(*) = 0 FROM alerts.notifications WHERE state IN ('pending', 'sending')")
    )
