"""An alert's whole life with the services as real processes: it opens at the next management level,
escalates to the level above when nothing improves, and resolves on recovery. Alerts is stopped with
SIGTERM and killed with SIGKILL along the way, in the middle of sending, and nothing is sent twice."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest

from tempen.supervisor import Supervisor
from tests.alerts.integration.support import (
    DIMENSIONS,
    LEVEL_TWO,
    NEXT_LEVEL,
    UNIT_MANAGER,
    SmtpSink,
    admin_token,
)
from tests.e2e.test_pipeline import month_start
from tests.support import child_environ, eventually, free_port

if TYPE_CHECKING:  # the fixture's type; nothing is imported from conftest at run time
    from tests.conftest import Infra

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

UNIT = "grupp-a1"  # org: Cecilia heads grupp-a1 and enhet-a; above her Bo (forv), then Kim (kommun)
RESPONDENTS = 8
PER_TRANSITION = 2 * len(DIMENSIONS)  # each dimension to the level's manager and, for information, to Cecilia


def pulse(months_ago: int, answer: int) -> list[dict[str, object]]:
    """One month of Grupp A1's pulse in which everybody gives the same answer: index 25 for 2, 100 for 5."""
    when = month_start(months_ago)
    return [
        {
            "instrument": "test-puls",
            "unit": UNIT,
            "submission_id": f"life-{when:%Y%m}-{i}",
            "submitted_at": (when + timedelta(hours=i)).isoformat(),
            "answers": {"q1": answer, "q2": answer, "q3": answer},
            "respondent": f"person-{i}",
        }
        for i in range(RESPONDENTS)
    ]


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    with SmtpSink(delay_s=0.3) as server:  # slow enough that a signal lands in the middle of a batch
        yield server


@pytest.fixture
async def system(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path, sink: SmtpSink
) -> AsyncIterator[Supervisor]:
    sup = Supervisor(
        config_dir=fixture_config,
        state_dir=tmp_path / "state",
        environ=child_environ(
            **{
                "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
                "DATABASE_URL": database_url,
                "TEMPEN_TOPIC_PREFIX": topic_prefix,
            }
        ),
        ports={name: free_port() for name in ("ingest", "scoring", "alerts")},
        selected=("ingest", "scoring", "alerts"),
        extra_env={
            "TEMPEN_KAFKA_SESSION_TIMEOUT_MS": "2000",
            "TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS": "300",
            "TEMPEN_ALERTS_SMTP_HOST": "127.0.0.1",
            "TEMPEN_ALERTS_SMTP_PORT": str(sink.port),
            "TEMPEN_ALERTS_SWEEP_INTERVAL_S": "1",
            "TEMPEN_ALERTS_NOTIFY_LEASE_S": "3",
            "TEMPEN_ALERTS_NOTIFY_BACKOFF_S": "0.2",
        },
    )
    await asyncio.to_thread(sup.start_infrastructure)
    sup.start_services()
    try:
        await asyncio.to_thread(sup.wait_ready, timeout_s=60)
        yield sup
    finally:
        await asyncio.to_thread(sup.stop)


async def test_an_alert_opens_escalates_and_resolves_once_per_dimension_across_restarts(
    system: Supervisor, sink: SmtpSink, database_url: str
) -> None:
    token = await admin_token(database_url)
    conn = await asyncpg.connect(database_url)
    auth = {"authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=system.services["ingest"].url, headers=auth, timeout=30) as ingest:

            async def send(months_ago: int, answer: int) -> None:
                response = await ingest.post("/v1/tenants/testkommun/submissions", json=pulse(months_ago, answer))
                assert response.status_code == 202, response.text
                assert response.json()["counts"]["accepted"] == RESPONDENTS

            # Three low months: the second opens the alert at level 1 (Bo); the third is one of the two
            # periods level 1 gets before it can escalate.
            for months_ago in (5, 4, 3):
                await send(months_ago, 2)
            await eventually(lambda: _settled(conn, transitions=len(DIMENSIONS)), timeout_s=90)
            await asyncio.sleep(2)  # a duplicate would arrive by now
            opened = sink.to(NEXT_LEVEL)
            assert len(opened) == len(DIMENSIONS), [str(m["Subject"]) for m in opened]
            assert {_dimension(m) for m in opened} == {"Ledarskap", "Motivation", "Totalindex"}
            assert all("Ihållande låga resultat" in str(m["Subject"]) for m in opened)
            assert sink.to(LEVEL_TWO) == []
            await _restart_alerts(system, signal.SIGTERM)

            # A fourth low month with no improvement: escalation to Kim. Killed after Kim's first e-mail.
            await send(2, 2)
            await eventually(lambda: sink.to(LEVEL_TWO), timeout_s=90, interval_s=0.02)
            await _restart_alerts(system, signal.SIGKILL)
            await eventually(lambda: _settled(conn, transitions=2 * len(DIMENSIONS)), timeout_s=90)

            # A recovered month: resolved, and everyone at level 2 is told. Stopped after the first e-mail.
            before = len(sink.messages)
            await send(1, 5)
            await eventually(lambda: len(sink.messages) > before, timeout_s=90, interval_s=0.02)
            await _restart_alerts(system, signal.SIGTERM)
            await eventually(lambda: _settled(conn, transitions=3 * len(DIMENSIONS)), timeout_s=90)
            await asyncio.sleep(2)

        transitions = await conn.fetch(
            "SELECT t.to_state, t.level, t.rule, t.transition_id FROM alerts.transitions t ORDER BY t.created_at"
        )
        rows = await conn.fetch(
            """SELECT n.notification_id, n.recipient, n.state, t.to_state FROM alerts.notifications n
               JOIN alerts.transitions t USING (transition_id)"""
        )
        alerts = await conn.fetch("SELECT dimension, state, level FROM alerts.alerts")
    finally:
        await conn.close()
    async with httpx.AsyncClient(base_url=system.services["alerts"].url, headers=auth, timeout=10) as api:
        listed = (await api.get("/v1/tenants/testkommun/alerts", params={"unit": UNIT})).json()["alerts"]

    assert Counter((t["to_state"], t["level"], t["rule"]) for t in transitions) == {
        ("open", 1, "sustained_challenge"): 3,
        ("escalated", 2, "no_improvement"): 3,
        ("resolved", 2, "recovered"): 3,
    }
    assert {(a["dimension"], a["state"], a["level"]) for a in alerts} == {(d, "resolved", 2) for d in DIMENSIONS}
    assert {(a["dimension"], a["state"]) for a in listed} == {(d, "resolved") for d in DIMENSIONS}

    # Exactly one notification per dimension, step and person: to Bo on opening, to Kim on escalation and
    # resolution, each time for information to Cecilia, and to Bo the note that the alert moved past him.
    assert Counter((r["recipient"], r["to_state"]) for r in rows) == {
        (NEXT_LEVEL, "open"): 3,
        (NEXT_LEVEL, "escalated"): 3,
        (LEVEL_TWO, "escalated"): 3,
        (LEVEL_TWO, "resolved"): 3,
        (UNIT_MANAGER, "open"): 3,
        (UNIT_MANAGER, "escalated"): 3,
        (UNIT_MANAGER, "resolved"): 3,
    }
    received = Counter(sink.message_ids())
    assert max(received.values()) == 1, f"an e-mail was delivered twice: {received.most_common(3)}"
    sent = {f"<{r['notification_id']}@tempen>" for r in rows if r["state"] == "sent"}
    in_doubt = {f"<{r['notification_id']}@tempen>" for r in rows if r["state"] == "in_doubt"}
    assert {r["state"] for r in rows} <= {"sent", "in_doubt"}
    # Only the SIGKILL can leave a notification in doubt, and only the one it was delivering; the SIGTERM
    # lets the delivery in hand finish.
    assert len(in_doubt) <= 1
    assert all(r["to_state"] == "escalated" for r in rows if r["state"] == "in_doubt")
    assert sent <= set(received) <= sent | in_doubt
    # Bo's note that the alert moved past him is an escalation's notification too, so the SIGKILL may leave
    # it in doubt: then it is never sent again (nothing twice), and he may not have it.
    lost_to_bo = sum(
        1
        for r in rows
        if r["recipient"] == NEXT_LEVEL and f"<{r['notification_id']}@tempen>" in in_doubt - set(received)
    )
    assert len(sink.to(NEXT_LEVEL)) == 2 * len(DIMENSIONS) - lost_to_bo
    assert sum("Gått vidare" in str(m["Subject"]) for m in sink.to(NEXT_LEVEL)) == len(DIMENSIONS) - lost_to_bo
    resolved = [m for m in sink.to(LEVEL_TWO) if "Återhämtat" in str(m["Subject"])]
    assert {_dimension(m) for m in resolved} == {"Ledarskap", "Motivation", "Totalindex"}


async def _restart_alerts(system: Supervisor, how: signal.Signals) -> None:
    if how == signal.SIGTERM:
        await asyncio.to_thread(system.stop_service, "alerts")
    else:
        await asyncio.to_thread(system.kill_service, "alerts", how)
    system.start_service("alerts")
    await asyncio.to_thread(system.wait_ready, timeout_s=60, names=("alerts",))


async def _settled(conn: asyncpg.Connection, *, transitions: int) -> bool:
    """`transitions` state changes made, and every notification of them delivered (or in doubt)."""
    made = await conn.fetchval("SELECT count(*) FROM alerts.transitions")
    open_work = await conn.fetchval(
        "SELECT count(*) FROM alerts.notifications WHERE state NOT IN ('sent', 'in_doubt', 'failed')"
    )
    return bool(made == transitions and open_work == 0)


def _dimension(message: object) -> str:
    # Subjects read "[Testkommun] <title>: <dimension> i Grupp A1".
    subject = str(message["Subject"])  # type: ignore[index]
    return subject.split(": ", 1)[1].removesuffix(" i Grupp A1")
