"""Alerts' use cases on the in-memory store (tests/alerts/fakes.py, held to PostgreSQL by
tests/alerts/contract): what the service decides, records and queues, with no database. The same stories
on the real store and SMTP are in tests/alerts/integration."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from tempen_alerts.domain.plans import PlanChange, PlanClosedError
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.ports import SeriesKey
from tempen_alerts.service import AlertNotActiveError
from tempen_alerts.sweeper import run_sweeper, sweep_once
from tempen_shared import correlation
from tempen_shared.db import StoreUnavailableError
from tempen_shared.events import AlertTransitioned
from tests.alerts.fakes import InMemoryAlertsStore
from tests.alerts.integration.support import (
    LEVEL_TWO,
    NEXT_LEVEL,
    TENANT,
    UNIT,
    UNIT_MANAGER,
    SettableClock,
    alerts_service,
    two_challenged_months,
    unit_scores,
    with_tenant_settings,
)
from tests.support import eventually

OPENED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # January and February 2026 were challenged
D_DAYS = 14  # the fixture tenant keeps the default escalate_unacknowledged_days
HR = "hr@testkommun.example"


def metrics() -> AlertsMetrics:
    return AlertsMetrics(CollectorRegistry())


def alert_ids(store: InMemoryAlertsStore) -> dict[str, str]:
    return {a.key.dimension: a.alert_id for a in store.tables.alerts.values()}


def states(store: InMemoryAlertsStore) -> dict[str, tuple[str, int]]:
    return {a.key.dimension: (a.snapshot.state, a.snapshot.level) for a in store.tables.alerts.values()}


async def test_an_alert_nobody_acknowledges_escalates_after_d_days_and_an_acknowledged_one_never_does() -> None:
    store, clock = InMemoryAlertsStore(), SettableClock(OPENED)
    service = alerts_service(clock)
    await two_challenged_months(store)
    assert await sweep_once(store, service, metrics()) == ["open"] * 3
    async with store.transaction() as repo:
        await service.acknowledge(
            repo,
            tenant_id=TENANT,
            alert_id=alert_ids(store)["ledarskap"],
            action_plan="Samtal med enhetschefen varannan vecka",
            follow_up=None,
            actor="bo",
        )

    clock.advance(days=D_DAYS, seconds=-1)
    assert await sweep_once(store, service, metrics()) == []
    clock.advance(seconds=1)
    assert await sweep_once(store, service, metrics()) == ["escalated"] * 2
    assert states(store) == {
        "ledarskap": ("acknowledged", 1),
        "motivation": ("escalated", 2),
        "total": ("escalated", 2),
    }
    escalation = store.tables.transitions[-1]
    told = {
        (n.row.recipient, n.row.recipient_role)
        for n in store.tables.notifications
        if n.transition_id == escalation.transition_id
    }
    assert told == {(LEVEL_TWO, "next_level"), (UNIT_MANAGER, "unit_manager"), (NEXT_LEVEL, "previous_level")}


async def test_with_totals_only_the_total_opens_and_a_dimension_left_out_later_is_closed_emailing_nobody() -> None:
    store, clock = InMemoryAlertsStore(), SettableClock(OPENED)
    await two_challenged_months(store)
    totals = alerts_service(clock, catalog=with_tenant_settings(alert_policy={"alert_on": "totals"}))
    assert await sweep_once(store, totals, metrics()) == ["open"]
    assert len(store.tables.period_scores) == 6, "every dimension is stored, for a backtest or a change of policy"
    queued = len(store.tables.notifications)

    clock.advance(hours=1)
    dimensions = alerts_service(clock, catalog=with_tenant_settings(alert_policy={"alert_on": "dimensions"}))
    # The dimensions were judged (and left alone) through February: only a period closing later can open them.
    assert await sweep_once(store, dimensions, metrics()) == ["resolved"]
    clock.advance(days=1)
    assert await sweep_once(store, dimensions, metrics()) == [], "closed once, not reopened"
    [closed] = [t for t in store.tables.transitions if t.to_state == "resolved"]
    assert (closed.from_state, closed.rule, closed.period) == ("open", "not_alerted", "2026-02")
    assert len(store.tables.notifications) == queued, "nobody is e-mailed"


async def test_a_redelivered_score_event_decides_nothing_new_and_each_event_carries_its_cause() -> None:
    store = InMemoryAlertsStore()
    service = alerts_service(SettableClock(OPENED))
    scores = [
        *unit_scores(2026, 1, 40.0, dimensions=["ledarskap"]),
        *unit_scores(2026, 2, 41.0, dimensions=["ledarskap"]),
    ]
    key = SeriesKey(TENANT, UNIT, "test-puls", "test-model", "ledarskap")
    made = []
    for _ in range(2):  # the broker delivers the batch twice
        async with store.transaction() as repo:
            changed = await repo.upsert_scores(scores, judging=True)
            for due in service.due(changed, now=OPENED):
                made.append(await service.judge(repo, due, now=OPENED, correlation_id=f"{TENANT}:s-42"))
    assert [j.transitions for j in made] == [["open"]], "the second delivery changed no figure, so nothing was due"
    async with store.transaction() as repo:
        again = await service.judge(repo, key, now=OPENED + timedelta(hours=1))
    assert again.transitions == []
    [message] = store.tables.outbox
    event = AlertTransitioned.model_validate_json(message.payload)
    assert (event.to_state, event.unit, event.dimension) == ("open", UNIT, "ledarskap")
    assert message.headers[correlation.HEADER] == f"{TENANT}:s-42"
    assert store.tables.transitions[0].correlation_id == f"{TENANT}:s-42"


async def test_a_resolved_alert_takes_no_acknowledgement_and_its_plan_closes_after_a_while() -> None:
    store, clock = InMemoryAlertsStore(), SettableClock(OPENED)
    service = alerts_service(clock)
    await two_challenged_months(store)
    await sweep_once(store, service, metrics())
    leadership = alert_ids(store)["ledarskap"]
    async with store.transaction() as repo:
        assert await service.resolve_by_hand(
            repo, tenant_id=TENANT, alert_id=leadership, reason="Sammanslagen", actor="HR"
        )
        assert (
            await service.resolve_by_hand(repo, tenant_id="annan", alert_id=leadership, reason="x", actor="HR") is None
        )
    with pytest.raises(AlertNotActiveError):
        async with store.transaction() as repo:
            await service.acknowledge(
                repo, tenant_id=TENANT, alert_id=leadership, action_plan="Samtal", follow_up=None, actor="bo"
            )
    change = PlanChange(what="Samtal i gruppen", owner="Bo Ek", due=date(2026, 4, 1))
    async with store.transaction() as repo:
        plan = await service.revise_plan(repo, tenant_id=TENANT, alert_id=leadership, change=change, actor="bo")
    assert plan is not None
    assert [r.revision for r in plan.revisions] == [1], "a resolved alert's plan still takes changes for a while"
    clock.advance(days=181)
    with pytest.raises(PlanClosedError):
        async with store.transaction() as repo:
            await service.comment_on_plan(repo, tenant_id=TENANT, alert_id=leadership, text="Uppföljt.", actor="bo")
    assert store.tables.plan_comments == []


async def test_a_crash_before_the_commit_queues_no_reminder_and_the_next_sweep_queues_one() -> None:
    store, clock = InMemoryAlertsStore(), SettableClock(OPENED)
    service = alerts_service(clock)
    await two_challenged_months(store)
    await sweep_once(store, service, metrics())
    total = alert_ids(store)["total"]
    async with store.transaction() as repo:
        change = PlanChange(what="Prata i APT", owner="Bo Ek", due=date(2026, 3, 10))
        await service.revise_plan(repo, tenant_id=TENANT, alert_id=total, change=change, actor=NEXT_LEVEL)
    clock.now = datetime(2026, 3, 11, 6, 0, tzinfo=UTC)  # 07:00 in Stockholm, the morning after
    queued = len(store.tables.notifications)

    async def remind_then_crash() -> None:
        async with store.transaction() as repo:
            assert await service.remind(repo, TENANT, total, now=clock()) is True
            raise RuntimeError("crashed before the commit")

    with pytest.raises(RuntimeError, match="crashed"):
        await remind_then_crash()
    assert (len(store.tables.notifications), store.tables.plan_reminders) == (queued, {})
    await sweep_once(store, service, metrics())
    await sweep_once(store, service, metrics())
    reminders = [(n.row.recipient, n.row.recipient_role) for n in store.tables.notifications if n.reminder_id]
    assert reminders == [(NEXT_LEVEL, "plan_reminder")], "once, to whom it sits with"


async def test_the_sweeper_waits_out_an_outage_and_judges_once_the_store_is_back() -> None:
    store = InMemoryAlertsStore()
    service = alerts_service(SettableClock(OPENED))
    await two_challenged_months(store)
    store.unavailable = True
    with pytest.raises(StoreUnavailableError):
        await sweep_once(store, service, metrics())
    sweeper = asyncio.create_task(run_sweeper(store, service, metrics(), interval_s=0.01))
    try:
        await asyncio.sleep(0.05)
        assert not sweeper.done(), "an outage pauses the sweeper; it does not end it"
        assert store.tables.alerts == {}
        store.unavailable = False
        await eventually(lambda: len(store.tables.alerts) == 3, timeout_s=5)
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
    assert sorted(states(store).values()) == [("open", 1)] * 3
