"""Plan reminders on the real store and the real SMTP server: when a plan's due date has passed and it is not
done, whoever the alert sits with gets one reminder quoting the plan with their personal link; a second sweep
sends nothing, a revised date gets its own, a crash before the commit queues nothing, and history nobody was
told of is reminded of by nobody. The clock is the test's: no date here depends on today."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from tempen_alerts.adapters.postgres import PostgresAlertReader, PostgresAlertsStore
from tempen_alerts.domain.plans import PlanChange
from tempen_alerts.entrypoints.http import routes
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.service import AlertsService, PortalLinks
from tempen_alerts.sweeper import sweep_once
from tempen_shared.links import read_link
from tests.alerts.integration.support import (
    IMPORTED_AT,
    LEVEL_TWO,
    NEXT_LEVEL,
    UNIT_MANAGER,
    SettableClock,
    SmtpSink,
    alerts_service,
    alerts_store,
    deliver_all,
    import_2025,
    quiet_history_catalog,
    smtp_notifier,
    two_challenged_months,
    with_tenant_settings,
)
from tests.support import eventually

pytestmark = pytest.mark.integration

TENANT = "testkommun"  # Europe/Stockholm
OPENED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # January and February 2026 were challenged
PLAN = "Prata i APT om arbetsbelastningen och boka medarbetarsamtal"
SECRET = b"the-secret-alerts-and-the-portal-share"
LINK = re.compile(r"https://portal\.test/l/(\S+)")
REMINDER = "Påminnelse om handlingsplanen"
PORTAL = PortalLinks("https://portal.test/", SECRET)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresAlertsStore]:
    async with alerts_store(database_url) as opened:
        yield opened


def service_at(clock: SettableClock) -> AlertsService:
    return alerts_service(clock, portal=PORTAL)


async def opened_alerts(store: PostgresAlertsStore, service: AlertsService) -> dict[str, str]:
    await two_challenged_months(store)
    assert await sweep_once(store, service, AlertsMetrics(CollectorRegistry())) == ["open"] * 3
    rows = await store.pool.fetch("SELECT dimension, alert_id FROM alerts.alerts")
    return {r["dimension"]: r["alert_id"] for r in rows}


def api(store: PostgresAlertsStore, service: AlertsService) -> httpx.AsyncClient:
    app = Starlette(
        routes=routes(
            lambda: store, PostgresAlertReader(lambda: store.pool), service, AlertsMetrics(CollectorRegistry())
        )
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://alerts.test")


async def reminders(store: PostgresAlertsStore) -> list[tuple[str, str, str]]:
    rows = await store.pool.fetch(
        """SELECT n.recipient, n.recipient_role, r.due_date::text AS due FROM alerts.notifications n
           JOIN alerts.plan_reminders r USING (reminder_id) ORDER BY n.created_at, r.due_date"""
    )
    return [(r["recipient"], r["recipient_role"], r["due"]) for r in rows]


async def delivered(store: PostgresAlertsStore, sink: SmtpSink, metrics: AlertsMetrics) -> None:
    notifier = smtp_notifier(store, sink, metrics)
    await eventually(lambda: deliver_all(notifier, store), timeout_s=20)


def texts(sink: SmtpSink, address: str) -> list[str]:
    return [
        m.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
        for m in sink.to(address)
        if REMINDER in str(m["Subject"])
    ]


async def test_a_plan_past_its_due_date_is_reminded_of_once_and_a_revised_date_gets_its_own(
    store: PostgresAlertsStore,
) -> None:
    clock = SettableClock(OPENED)
    service = service_at(clock)
    metrics = AlertsMetrics(CollectorRegistry())
    alerts = await opened_alerts(store, service)
    base = f"/v1/tenants/{TENANT}/alerts"
    async with api(store, service) as http:
        clock.advance(days=1)
        written = await http.post(
            f"{base}/{alerts['ledarskap']}/plan",
            json={
                "what": PLAN,
                "owner": "Bo Ek",
                "due_date": "2026-03-10",
                "status": "in_progress",
                "written_by": NEXT_LEVEL,
            },
        )
        done = await http.post(
            f"{base}/{alerts['motivation']}/plan",
            json={"what": PLAN, "owner": "Bo Ek", "due_date": "2026-03-10", "status": "done", "written_by": NEXT_LEVEL},
        )
        clock.advance(days=2)
        commented = await http.post(
            f"{base}/{alerts['ledarskap']}/plan/comments",
            json={"text": "Första APT hållen.", "written_by": UNIT_MANAGER},
        )
    assert (written.status_code, done.status_code, commented.status_code) == (200, 200, 201)
    with SmtpSink() as sink:
        await delivered(store, sink, metrics)  # the opening e-mails

        clock.now = datetime(2026, 3, 11, 5, 59, tzinfo=UTC)  # 06:59 in Stockholm, the morning after 10 March
        assert await sweep_once(store, service, metrics) == []
        assert await reminders(store) == []
        clock.now = datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
        await sweep_once(store, service, metrics)
        clock.advance(hours=1)
        await sweep_once(store, service, metrics)  # a second sweep, or another replica's
        assert await reminders(store) == [(NEXT_LEVEL, "plan_reminder", "2026-03-10")], "once, to whom it sits with"
        assert metrics.plan_reminders._value.get() == 1
        await delivered(store, sink, metrics)

        (text,) = texts(sink, NEXT_LEVEL)
        assert texts(sink, UNIT_MANAGER) == [], "the one it sits with, not everyone told"
        assert (
            "Handlingsplanen för Ledarskap i Grupp A1 skulle vara klar senast 2026-03-10, och den står fortfarande "
            "som pågår.\n"
        ) in text
        assert (
            "Handlingsplan:\n"
            f"  Vad som ska göras: {PLAN}\n"
            "  Ansvarig: Bo Ek\n"
            "  Klart senast: 2026-03-10\n"
            "  Läge: pågår\n"
            f"  Senast ändrad 2026-03-03 av {NEXT_LEVEL} (version 1)\n"
            f"  Senaste kommentar (2026-03-05, {UNIT_MANAGER}): Första APT hållen.\n"
        ) in text
        assert "  – sätt ett nytt datum om det behöver mer tid" in text
        found = LINK.search(text)
        assert found is not None
        link = read_link(SECRET, found.group(1), now=clock(), valid_for=timedelta(days=30))
        row = await store.pool.fetchrow(
            "SELECT notification_id, alert_id FROM alerts.notifications WHERE reminder_id IS NOT NULL"
        )
        assert row is not None
        assert (link.alert_id, link.notification_id) == (row["alert_id"], row["notification_id"]), "their own link"
        assert row["alert_id"] == alerts["ledarskap"]

        # More time is needed: a new date, and its own reminder the morning after it.
        async with store.transaction() as repo:
            await service.revise_plan(
                repo,
                tenant_id=TENANT,
                alert_id=alerts["ledarskap"],
                change=PlanChange(due=date(2026, 3, 13)),
                actor=NEXT_LEVEL,
            )
        clock.now = datetime(2026, 3, 13, 12, 0, tzinfo=UTC)
        await sweep_once(store, service, metrics)
        assert len(await reminders(store)) == 1
        clock.now = datetime(2026, 3, 14, 6, 0, tzinfo=UTC)
        await sweep_once(store, service, metrics)
        await sweep_once(store, service, metrics)
        await delivered(store, sink, metrics)
        assert [due for _, _, due in await reminders(store)] == ["2026-03-10", "2026-03-13"]
        assert len(texts(sink, NEXT_LEVEL)) == 2

        # Nobody acknowledged: the alert escalates to Kim, and the next date's reminder goes to Kim.
        clock.now = OPENED + timedelta(days=14)
        assert await sweep_once(store, service, metrics) == ["escalated"] * 3
        async with store.transaction() as repo:
            await service.revise_plan(
                repo,
                tenant_id=TENANT,
                alert_id=alerts["ledarskap"],
                change=PlanChange(due=date(2026, 3, 20)),
                actor=LEVEL_TWO,
            )
        clock.now = datetime(2026, 3, 21, 6, 0, tzinfo=UTC)
        await sweep_once(store, service, metrics)
        await delivered(store, sink, metrics)
        assert (await reminders(store))[-1] == (LEVEL_TWO, "plan_reminder", "2026-03-20")
        assert len(texts(sink, LEVEL_TWO)) == 1
        assert len(texts(sink, NEXT_LEVEL)) == 2, "the level it left is not reminded"

    # The reminder's audit row, and "who was told" in the API as the portal shows it.
    audit = await store.pool.fetch(
        """SELECT due_date::text AS due, revision, level, recipient, reminded_at FROM alerts.plan_reminders
           ORDER BY due_date"""
    )
    assert [(r["due"], r["revision"], r["level"], r["recipient"], r["reminded_at"]) for r in audit] == [
        ("2026-03-10", 1, 1, NEXT_LEVEL, datetime(2026, 3, 11, 6, 0, tzinfo=UTC)),
        ("2026-03-13", 2, 1, NEXT_LEVEL, datetime(2026, 3, 14, 6, 0, tzinfo=UTC)),
        ("2026-03-20", 3, 2, LEVEL_TWO, datetime(2026, 3, 21, 6, 0, tzinfo=UTC)),
    ]
    async with api(store, service) as http:
        shown = (await http.get(f"{base}/{alerts['ledarskap']}")).json()
    told = [(n["recipient"], n["recipient_role"], n["state"]) for n in shown["notifications"]]
    assert told.count((NEXT_LEVEL, "plan_reminder", "sent")) == 2
    assert told.count((LEVEL_TWO, "plan_reminder", "sent")) == 1


async def test_a_crash_before_the_commit_queues_no_reminder_and_the_next_sweep_queues_one(
    store: PostgresAlertsStore,
) -> None:
    clock = SettableClock(OPENED)
    service = service_at(clock)
    metrics = AlertsMetrics(CollectorRegistry())
    alerts = await opened_alerts(store, service)
    async with store.transaction() as repo:
        await service.revise_plan(
            repo,
            tenant_id=TENANT,
            alert_id=alerts["total"],
            change=PlanChange(what=PLAN, owner="Bo Ek", due=date(2026, 3, 10)),
            actor=NEXT_LEVEL,
        )
    clock.now = datetime(2026, 3, 11, 6, 0, tzinfo=UTC)
    async with store.transaction() as repo:
        due = await service.reminders_due(repo, now=clock())
    assert due == [(TENANT, alerts["total"])]

    async def remind_then_crash() -> None:
        async with store.transaction() as repo:
            assert await service.remind(repo, TENANT, alerts["total"], now=clock()) is True
            raise RuntimeError("crashed before the commit")

    before = await store.pool.fetchval("SELECT count(*) FROM alerts.notifications")
    with pytest.raises(RuntimeError, match="crashed"):
        await remind_then_crash()
    assert await store.pool.fetchval("SELECT count(*) FROM alerts.notifications") == before
    assert await store.pool.fetchval("SELECT count(*) FROM alerts.plan_reminders") == 0

    await sweep_once(store, service, metrics)
    queued = await store.pool.fetch(
        "SELECT notification_id, recipient FROM alerts.notifications WHERE reminder_id IS NOT NULL"
    )
    assert [r["recipient"] for r in queued] == [NEXT_LEVEL]
    async with store.transaction() as repo:  # a second sweeper that had read the same candidates
        assert await service.remind(repo, TENANT, alerts["total"], now=clock()) is False
    await sweep_once(store, service, metrics)
    assert (
        await store.pool.fetch(
            "SELECT notification_id, recipient FROM alerts.notifications WHERE reminder_id IS NOT NULL"
        )
        == queued
    )


async def test_history_nobody_was_told_of_is_reminded_of_by_nobody_and_a_tenant_may_turn_reminders_off(
    store: PostgresAlertsStore,
) -> None:
    # A year of 2025 imported quietly in March 2026: grupp-b1's alert opened and resolved in history, unheard of;
    # grupp-a1's is still open, and is told once the import has settled (docs/alerts.md, "Importing history quietly").
    clock = SettableClock(IMPORTED_AT)
    service = alerts_service(clock, catalog=quiet_history_catalog())
    metrics = AlertsMetrics(CollectorRegistry())
    await import_2025(store)
    await sweep_once(store, service, metrics)
    rows = await store.pool.fetch("SELECT unit, alert_id FROM alerts.alerts")
    alerts = {r["unit"]: r["alert_id"] for r in rows}
    for alert_id in alerts.values():
        async with store.transaction() as repo:
            await service.revise_plan(
                repo,
                tenant_id=TENANT,
                alert_id=alert_id,
                change=PlanChange(what=PLAN, owner="Bo Ek", due=date(2026, 3, 12)),
                actor="hr@testkommun.example",
            )
    clock.now = datetime(2026, 3, 13, 6, 0, tzinfo=UTC)

    off = with_tenant_settings(service.catalog, notifications={"plan_reminder_days": None})
    await sweep_once(store, alerts_service(clock, catalog=off, portal=PORTAL), metrics)
    assert await reminders(store) == [], "reminders turned off"

    await sweep_once(store, service, metrics)
    reminded = await store.pool.fetch("SELECT alert_id, recipient FROM alerts.plan_reminders")
    assert [(r["alert_id"], r["recipient"]) for r in reminded] == [(alerts["grupp-a1"], LEVEL_TWO)]
