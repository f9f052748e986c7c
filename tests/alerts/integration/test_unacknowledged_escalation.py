"""The unacknowledged-for-D-days rule on the service level: the real store and SMTP, a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from tempen_alerts.adapters.postgres import PostgresAlertReader, PostgresAlertsStore
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.sweeper import sweep_once
from tests.alerts.integration.support import (
    DIMENSIONS,
    LEVEL_TWO,
    NEXT_LEVEL,
    UNIT_MANAGER,
    SettableClock,
    SmtpSink,
    alerts_service,
    alerts_store,
    deliver_all,
    smtp_notifier,
    two_challenged_months,
)
from tests.support import eventually

pytestmark = pytest.mark.integration

# January and February 2026 were challenged; the alert opens when the sweeper first runs in March.
OPENED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
D_DAYS = 14  # the fixture tenant keeps the default escalate_unacknowledged_days
HR = "hr@testkommun.example"
PEOPLE = (NEXT_LEVEL, LEVEL_TWO, HR, UNIT_MANAGER)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresAlertsStore]:
    async with alerts_store(database_url) as opened:
        yield opened


async def test_an_alert_nobody_acknowledges_escalates_after_d_days_and_not_a_second_before(
    store: PostgresAlertsStore,
) -> None:
    clock = SettableClock(OPENED)
    service = alerts_service(clock)
    registry = CollectorRegistry()
    metrics = AlertsMetrics(registry)
    await two_challenged_months(store)

    assert await sweep_once(store, service, metrics) == ["open"] * 3
    clock.advance(days=D_DAYS, seconds=-1)
    assert await sweep_once(store, service, metrics) == []
    clock.advance(seconds=1)
    assert await sweep_once(store, service, metrics) == ["escalated"] * 3
    clock.advance(days=D_DAYS)
    assert await sweep_once(store, service, metrics) == ["escalated"] * 3, "level 2, the top, hands it to HR"
    clock.advance(days=60)
    assert await sweep_once(store, service, metrics) == [], "with HR it stays"

    alerts = await store.pool.fetch("SELECT state, level, last_escalated_at FROM alerts.alerts")
    assert {(a["state"], a["level"], a["last_escalated_at"]) for a in alerts} == {
        ("escalated", 3, OPENED.replace(day=30))
    }
    escalations = await store.pool.fetch(
        "SELECT level, rule, reason FROM alerts.transitions WHERE to_state = 'escalated' ORDER BY level"
    )
    assert {e["rule"] for e in escalations} == {"unacknowledged"}
    assert [e["level"] for e in escalations] == [2] * 3 + [3] * 3
    assert all(f"within {D_DAYS} day(s) of level 1 starting on 2026-03-02" in e["reason"] for e in escalations[:3])
    assert all(
        "level 2 is the highest management level for this unit, so the alert goes to HR" in e["reason"]
        for e in escalations[3:]
    )
    assert registry.get_sample_value("tempen_alert_transitions_total", {"to_state": "escalated"}) == 6
    roles = await store.pool.fetch(
        """SELECT t.level, n.recipient, n.recipient_role FROM alerts.notifications n
           JOIN alerts.transitions t ON t.transition_id = n.transition_id WHERE t.to_state = 'escalated'"""
    )
    assert {(r["level"], r["recipient"], r["recipient_role"]) for r in roles} == {
        (2, LEVEL_TWO, "next_level"),
        (2, UNIT_MANAGER, "unit_manager"),
        (2, NEXT_LEVEL, "previous_level"),
        (3, HR, "hr"),
        (3, UNIT_MANAGER, "unit_manager"),
        (3, LEVEL_TWO, "previous_level"),
    }
    assert len(roles) == 6 * len(DIMENSIONS), "one of each per alert"
    # What the API's GET .../alerts/{id} shows.
    reader = PostgresAlertReader(lambda: store.pool)
    leadership = await store.pool.fetchval("SELECT alert_id FROM alerts.alerts WHERE dimension = 'ledarskap'")
    shown = [(t["to_state"], t["level"], t["rule"]) for t in await reader.transitions(leadership)]
    assert shown == [
        ("open", 1, "sustained_challenge"),
        ("escalated", 2, "unacknowledged"),
        ("escalated", 3, "unacknowledged"),
    ]
    notified = {(n["recipient"], n["recipient_role"]) for n in await reader.notifications(leadership)}
    assert (HR, "hr") in notified
    assert (LEVEL_TWO, "previous_level") in notified

    with SmtpSink() as sink:
        notifier = smtp_notifier(store, sink, metrics)
        await eventually(lambda: deliver_all(notifier, store), timeout_s=20)

    escalated = [m for m in sink.to(LEVEL_TWO) if "Eskalerat" in str(m["Subject"])]
    assert len(escalated) == len(DIMENSIONS), [str(m["Subject"]) for m in sink.messages]
    body = escalated[0].get_body(preferencelist=("plain",)).get_content()
    assert "Ingen kvitterade ärendet inom 14 dagar efter att det nådde nivå 1 (2026-03-02, för 14 dagar sedan)." in body
    assert "Därför har det gått vidare till nivå 2." in body
    assert "unacknowledged" not in body, "the English rule text stays in the audit trail"
    subjects = {address: sorted(str(m["Subject"]).split(":")[0] for m in sink.to(address)) for address in PEOPLE}
    assert subjects == {
        NEXT_LEVEL: ["[Testkommun] För kännedom – Gått vidare"] * 3 + ["[Testkommun] Ihållande låga resultat"] * 3,
        LEVEL_TWO: ["[Testkommun] Eskalerat till nästa chefsnivå"] * 3
        + ["[Testkommun] För kännedom – Gått vidare"] * 3,
        HR: ["[Testkommun] Lämnat över till HR"] * 3,
        UNIT_MANAGER: ["[Testkommun] För kännedom – Eskalerat till nästa chefsnivå"] * 3
        + ["[Testkommun] För kännedom – Ihållande låga resultat"] * 3
        + ["[Testkommun] För kännedom – Lämnat över till HR"] * 3,
    }
    assert len(sink.messages) == 8 * len(DIMENSIONS), "nobody else, and nobody twice"
    note = next(m for m in sink.to(LEVEL_TWO) if "Gått vidare" in str(m["Subject"]))
    text = note.get_body(preferencelist=("plain",)).get_content()
    assert "som du fick på nivå 2, har gått vidare till HR, eftersom det inte finns någon högre chefsnivå" in text
    assert "eftersom ingen kvitterade ärendet i tid" in text


async def test_an_acknowledged_alert_is_never_escalated_on_time(store: PostgresAlertsStore) -> None:
    clock = SettableClock(OPENED)
    service = alerts_service(clock)
    metrics = AlertsMetrics(CollectorRegistry())
    await two_challenged_months(store)
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
