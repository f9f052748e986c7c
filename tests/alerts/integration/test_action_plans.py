"""Action plans on the real store: written and revised through the HTTP API under the person the portal
names, commented on, shown with the alert, and quoted in the escalation e-mail that reaches the real SMTP
server when nobody acknowledged in time (a clock the test moves)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

from tempen_alerts.adapters.postgres import PostgresAlertReader, PostgresAlertsStore
from tempen_alerts.entrypoints.http import routes
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.service import AlertsService
from tempen_alerts.sweeper import sweep_once
from tests.alerts.integration.support import (
    LEVEL_TWO,
    NEXT_LEVEL,
    UNIT_MANAGER,
    SettableClock,
    SmtpSink,
    alerts_store,
    deliver_all,
    fixture_catalog,
    smtp_notifier,
    unit_scores,
)
from tests.support import eventually

pytestmark = pytest.mark.integration

TENANT = "testkommun"
OPENED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # January and February 2026 were challenged
D_DAYS = 14  # the fixture tenant's escalate_unacknowledged_days
PLAN = "Prata i APT om arbetsbelastningen och boka medarbetarsamtal"


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresAlertsStore]:
    async with alerts_store(database_url) as opened:
        yield opened


async def opened_alerts(store: PostgresAlertsStore, clock: SettableClock) -> tuple[AlertsService, dict[str, str]]:
    service = AlertsService(
        catalog=fixture_catalog(),
        topic=lambda name: f"test.{name}",
        public_url="https://alerts.test",
        channel="email",
        clock=clock,
    )
    async with store.transaction() as repo:
        await repo.upsert_scores([*unit_scores(2026, 1, 40.0), *unit_scores(2026, 2, 41.0)])
    assert await sweep_once(store, service, AlertsMetrics(CollectorRegistry())) == ["open"] * 3
    rows = await store.pool.fetch("SELECT dimension, alert_id FROM alerts.alerts")
    return service, {r["dimension"]: r["alert_id"] for r in rows}


def api(store: PostgresAlertsStore, service: AlertsService) -> httpx.AsyncClient:
    app = Starlette(
        routes=routes(
            lambda: store, PostgresAlertReader(lambda: store.pool), service, AlertsMetrics(CollectorRegistry())
        )
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://alerts.test")


def fields(response: httpx.Response) -> set[str]:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return {e["field"] for e in response.json()["errors"]}


async def test_a_plan_is_written_revised_and_commented_under_who_did_it_and_shown_with_its_history(
    store: PostgresAlertsStore,
) -> None:
    clock = SettableClock(OPENED)
    service, alerts = await opened_alerts(store, clock)
    plan_url = f"/v1/tenants/{TENANT}/alerts/{alerts['ledarskap']}/plan"
    async with api(store, service) as http:
        clock.advance(days=1)
        incomplete = await http.post(plan_url, json={"what": PLAN, "written_by": NEXT_LEVEL})
        bad = await http.post(
            plan_url,
            json={"what": "ok", "owner": "Bo\x1b", "due_date": "0001-01-01", "status": "someday", "written_by": ""},
        )
        early = await http.post(
            plan_url, json={"what": PLAN, "owner": "Bo", "due_date": "2026-02-27", "written_by": NEXT_LEVEL}
        )
        first = await http.post(
            plan_url, json={"what": PLAN, "owner": "Bo Ek", "due_date": "2026-05-01", "written_by": NEXT_LEVEL}
        )
        twice = await http.post(
            plan_url, json={"what": PLAN, "owner": "Bo Ek", "due_date": "2026-05-01", "written_by": NEXT_LEVEL}
        )
        clock.advance(days=6)
        moved_on = await http.post(plan_url, json={"status": "in_progress", "written_by": UNIT_MANAGER})
        empty_comment = await http.post(plan_url + "/comments", json={"text": " ", "written_by": NEXT_LEVEL})
        clock.advance(days=1)
        commented = await http.post(
            plan_url + "/comments", json={"text": "Första APT hållen, samtalen bokade.", "written_by": UNIT_MANAGER}
        )
        unknown = await http.post(
            f"/v1/tenants/{TENANT}/alerts/nosuchalert/plan",
            json={"what": PLAN, "owner": "Bo", "due_date": "2026-05-01", "written_by": NEXT_LEVEL},
        )
        shown = (await http.get(f"/v1/tenants/{TENANT}/alerts/{alerts['ledarskap']}")).json()
        listed = (await http.get(f"/v1/tenants/{TENANT}/alerts", params={"status": "open"})).json()["alerts"]

    # HR's list of open alerts shows each plan's status without a request per alert.
    statuses = {a["alert_id"]: a["plan_status"] for a in listed}
    assert statuses[alerts["ledarskap"]] == "in_progress"
    assert {s for k, s in statuses.items() if k != alerts["ledarskap"]} <= {None}, "no plan, no status"
    assert (incomplete.status_code, fields(incomplete)) == (422, {"owner"})
    assert "a new plan needs what will be done, who owns it and a due date" in incomplete.text
    assert (bad.status_code, fields(bad)) == (422, {"owner", "due_date", "status", "written_by"})
    assert (early.status_code, fields(early)) == (422, {"due_date"})
    assert "from 2026-03-02 (the day the alert opened)" in early.text
    assert first.status_code == 200, first.text
    assert twice.json()["revisions"] == first.json()["revisions"], "a form sent twice adds no revision"
    assert moved_on.status_code == 200, moved_on.text
    assert (empty_comment.status_code, fields(empty_comment)) == (422, {"text"})
    assert commented.status_code == 201, commented.text
    assert unknown.status_code == 404

    plan = shown["plan"]
    assert plan["takes_changes"] is True
    assert [(r["revision"], r["status"], r["owner"], r["written_by"], r["written_at"]) for r in plan["revisions"]] == [
        (1, "planned", "Bo Ek", NEXT_LEVEL, "2026-03-03T08:00:00+00:00"),
        (2, "in_progress", "Bo Ek", UNIT_MANAGER, "2026-03-09T08:00:00+00:00"),
    ]
    assert plan["current"] == plan["revisions"][-1]
    assert plan["current"]["what"] == PLAN
    assert plan["current"]["due_date"] == "2026-05-01"
    assert plan["comments"] == [
        {
            "text": "Första APT hållen, samtalen bokade.",
            "written_by": UNIT_MANAGER,
            "written_at": "2026-03-10T08:00:00+00:00",
        }
    ]
    assert (shown["action_plan"], shown["follow_up_date"]) == (PLAN, "2026-05-01"), "the current revision's"
    assert shown["state"] == "open", "writing a plan is not acknowledging"


async def test_an_acknowledgement_is_a_plan_revision_and_a_resolved_alert_s_plan_stays_open_for_a_while(
    store: PostgresAlertsStore,
) -> None:
    clock = SettableClock(OPENED)
    service, alerts = await opened_alerts(store, clock)
    base = f"/v1/tenants/{TENANT}/alerts"
    async with api(store, service) as http:
        acknowledged = await http.post(
            f"{base}/{alerts['ledarskap']}/acknowledge",
            json={"action_plan": PLAN, "follow_up_date": "2026-04-15", "acknowledged_by": NEXT_LEVEL},
        )
        too_early = await http.post(
            f"{base}/{alerts['motivation']}/acknowledge",
            json={"action_plan": PLAN, "follow_up_date": "2025-12-24", "acknowledged_by": NEXT_LEVEL},
        )
        revised = await http.post(
            f"{base}/{alerts['ledarskap']}/plan", json={"owner": "Cecilia", "written_by": NEXT_LEVEL}
        )
        resolved = await http.post(
            f"{base}/{alerts['ledarskap']}/resolve", json={"reason": "Gruppen slogs ihop", "resolved_by": "HR"}
        )
        clock.advance(days=180)
        done = await http.post(
            f"{base}/{alerts['ledarskap']}/plan", json={"status": "done", "written_by": UNIT_MANAGER}
        )
        still_open: dict[str, Any] = (await http.get(f"{base}/{alerts['ledarskap']}")).json()
        clock.advance(seconds=1)
        closed = await http.post(
            f"{base}/{alerts['ledarskap']}/plan/comments", json={"text": "Följt upp igen.", "written_by": UNIT_MANAGER}
        )
        shown: dict[str, Any] = (await http.get(f"{base}/{alerts['ledarskap']}")).json()

    assert acknowledged.status_code == 200, acknowledged.text
    assert (too_early.status_code, fields(too_early)) == (422, {"follow_up_date"}), "named as the acknowledgement's"
    assert revised.status_code == 200, revised.text
    assert resolved.status_code == 200, resolved.text
    assert done.status_code == 200, "the work is marked done after the results recovered"
    assert closed.status_code == 409
    assert closed.json()["detail"].startswith("the alert resolved on 2026-03-02 and its plan is part of the record")
    assert [(r["revision"], r["what"], r["owner"], r["due_date"], r["status"]) for r in shown["plan"]["revisions"]] == [
        (1, PLAN, NEXT_LEVEL, "2026-04-15", "planned"),
        (2, PLAN, "Cecilia", "2026-04-15", "planned"),
        (3, PLAN, "Cecilia", "2026-04-15", "done"),
    ]
    assert shown["plan"]["comments"] == []
    assert (still_open["state"], still_open["plan"]["takes_changes"]) == ("resolved", True)
    assert shown["plan"]["takes_changes"] is False, "the portal offers no form for a closed plan"
    acknowledgement = next(h for h in shown["history"] if h["to_state"] == "acknowledged")
    assert acknowledgement["actor"] == NEXT_LEVEL


async def test_the_escalation_e_mail_and_the_note_to_the_level_below_quote_the_plan(
    store: PostgresAlertsStore,
) -> None:
    clock = SettableClock(OPENED)
    service, alerts = await opened_alerts(store, clock)
    async with api(store, service) as http:
        clock.advance(days=2)
        written = await http.post(
            f"/v1/tenants/{TENANT}/alerts/{alerts['ledarskap']}/plan",
            json={
                "what": PLAN,
                "owner": "Bo Ek",
                "due_date": "2026-05-01",
                "status": "in_progress",
                "written_by": NEXT_LEVEL,
            },
        )
        clock.advance(days=3)
        commented = await http.post(
            f"/v1/tenants/{TENANT}/alerts/{alerts['ledarskap']}/plan/comments",
            json={"text": "Första APT hållen.", "written_by": UNIT_MANAGER},
        )
    assert (written.status_code, commented.status_code) == (200, 201)
    # Nobody acknowledged: after D days every alert goes one level up, to Kim.
    clock.now = OPENED + timedelta(days=D_DAYS)
    metrics = AlertsMetrics(CollectorRegistry())
    assert await sweep_once(store, service, metrics) == ["escalated"] * 3

    with SmtpSink() as sink:
        notifier = smtp_notifier(store, sink, metrics)
        await eventually(lambda: deliver_all(notifier, store), timeout_s=20)

    def body(address: str, subject: str, dimension: str) -> str:
        (found,) = [
            m for m in sink.to(address) if subject in str(m["Subject"]) and f": {dimension} i " in str(m["Subject"])
        ]
        text: str = found.get_body(preferencelist=("plain",)).get_content()
        return text.replace("\r\n", "\n")  # as it went over SMTP

    quoted = (
        "Handlingsplan:\n"
        f"  Vad som ska göras: {PLAN}\n"
        "  Ansvarig: Bo Ek\n"
        "  Klart senast: 2026-05-01\n"
        "  Läge: pågår\n"
        f"  Senast ändrad 2026-03-04 av {NEXT_LEVEL} (version 1)\n"
        f"  Senaste kommentar (2026-03-07, {UNIT_MANAGER}): Första APT hållen.\n"
    )
    assert quoted in body(LEVEL_TWO, "Eskalerat till nästa chefsnivå", "Ledarskap")
    assert quoted in body(NEXT_LEVEL, "Gått vidare", "Ledarskap"), "the level moved past is reminded of it"
    assert quoted in body(UNIT_MANAGER, "Eskalerat till nästa chefsnivå", "Ledarskap")
    nothing = "Handlingsplan: Ingen handlingsplan är skriven ännu.\n"
    assert nothing in body(LEVEL_TWO, "Eskalerat till nästa chefsnivå", "Motivation")
    opened = body(NEXT_LEVEL, "Ihållande låga resultat", "Ledarskap")
    assert "Handlingsplan:" not in opened, "the first e-mail came before any plan"
    # What was sent is what the outbox stored with the escalation: the rendering is durable, not redone later.
    stored = await store.pool.fetchval(
        """SELECT n.body_text FROM alerts.notifications n JOIN alerts.transitions t USING (transition_id)
           WHERE t.to_state = 'escalated' AND n.recipient = $1 AND n.alert_id = $2""",
        LEVEL_TWO,
        alerts["ledarskap"],
    )
    assert quoted in stored
