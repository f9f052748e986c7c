"""The unacknowledged-for-D-days rule on the service level: the real store and SMTP, a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from tempen_alerts.adapters.notifier import EMAIL_CHANNELS, Notifier, SmtpSender
from tempen_alerts.adapters.postgres import PostgresAlertsStore
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.service import AlertsService
from tempen_alerts.sweeper import sweep_once
from tests.alerts.integration.support import (
    DIMENSIONS,
    LEVEL_TWO,
    NEXT_LEVEL,
    UNIT_MANAGER,
    SettableClock,
    SmtpSink,
    alerts_store,
    fixture_catalog,
    unit_scores,
)
from tests.support import eventually

pytestmark = pytest.mark.integration

# January and February 2026 were challenged; the alert opens when the sweeper first runs in March.
OPENED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
D_DAYS = 14  # the fixture tenant keeps the default escalate_unacknowledged_days


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresAlertsStore]:
    async with alerts_store(database_url) as opened:
        yield opened


def _service(clock: SettableClock) -> AlertsService:
    return AlertsService(
        catalog=fixture_catalog(),
        topic=lambda name: f"test.{name}",
        public_url="https://alerts.test",
        channel="email",
        clock=clock,
    )


async def _two_challenged_months(store: PostgresAlertsStore) -> None:
    async with store.transaction() as repo:
        await repo.upsert_scores([*unit_scores(2026, 1, 40.0), *unit_scores(2026, 2, 41.0)])


async def test_an_alert_nobody_acknowledges_escalates_after_d_days_and_not_a_second_before(
    store: PostgresAlertsStore,
) -> None:
    clock = SettableClock(OPENED)
    service = _service(clock)
    registry = CollectorRegistry()
    metrics = AlertsMetrics(registry)
    await _two_challenged_months(store)

    assert await sweep_once(store, service, metrics) == ["open"] * 3
    clock.advance(days=D_DAYS, seconds=-1)
    assert await sweep_once(store, service, metrics) == []
    clock.advance(seconds=1)
    assert await sweep_once(store, service, metrics) == ["escalated"] * 3
    clock.advance(days=60)
    assert await sweep_once(store, service, metrics) == [], "level 2 is the top of grupp-a1's chain"

    alerts = await store.pool.fetch("SELECT state, level, last_escalated_at FROM alerts.alerts")
    assert {(a["state"], a["level"], a["last_escalated_at"]) for a in alerts} == {
        ("escalated", 2, OPENED.replace(day=16))
    }
    escalations = await store.pool.fetch("SELECT rule, reason FROM alerts.transitions WHERE to_state = 'escalated'")
    assert {e["rule"] for e in escalations} == {"unacknowledged"}
    assert all(f"within {D_DAYS} day(s) of level 1 starting on 2026-03-02" in e["reason"] for e in escalations)
    assert registry.get_sample_value("tempen_alert_transitions_total", {"to_state": "escalated"}) == 3

    with SmtpSink() as sink:
        notifier = Notifier(
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
        await eventually(lambda: _deliver_all(notifier, store), timeout_s=20)

    escalated = [m for m in sink.to(LEVEL_TWO) if "Eskalerat" in str(m["Subject"])]
    assert len(escalated) == len(DIMENSIONS), [str(m["Subject"]) for m in sink.messages]
    assert len(sink.to(NEXT_LEVEL)) == len(DIMENSIONS), "level 1 heard of the opening only"
    assert len(sink.to(UNIT_MANAGER)) == 2 * len(DIMENSIONS), "the unit's manager is told of both"
    body = escalated[0].get_body(preferencelist=("plain",)).get_content()
    assert "Ingen kvitterade ärendet inom 14 dagar efter att det nådde nivå 1 (2026-03-02, för 14 dagar sedan)." in body
    assert "Därför har det gått vidare till nivå 2." in body
    assert "unacknowledged" not in body, "the English rule text stays in the audit trail"


async def test_an_acknowledged_alert_is_never_escalated_on_time(store: PostgresAlertsStore) -> None:
    clock = SettableClock(OPENED)
    service = _service(clock)
    metrics = AlertsMetrics(CollectorRegistry())
    await _two_challenged_months(store)
    assert await sweep_once(store, service, metrics) == ["open"] * 3
    leadership = await store.pool.fetchval("SELECT alert_id FROM alerts.alerts WHERE dimension = 'ledarskap'")

    clock.advance(days=3)
    async with store.transaction() as repo:
        await service.acknowledge(
            repo,
            tenant_id="testkommun",
            alert_id=leadership,
            action_plan="Samtal med enhetschefen varannan vecka",
            follow_up=None,
            actor="bo",
        )
    clock.advance(days=40)
    assert await sweep_once(store, service, metrics) == ["escalated"] * 2

    levels = {
        r["dimension"]: (r["state"], r["level"])
        for r in await store.pool.fetch("SELECT dimension, state, level FROM alerts.alerts")
    }
    assert levels == {
        "ledarskap": ("acknowledged", 1),
        "motivation": ("escalated", 2),
        "total": ("escalated", 2),
    }


async def _deliver_all(notifier: Notifier, store: PostgresAlertsStore) -> bool:
    await notifier.deliver_due()
    return bool(
        await store.pool.fetchval("SELECT count(*) = 0 FROM alerts.notifications WHERE state IN ('pending', 'sending')")
    )
