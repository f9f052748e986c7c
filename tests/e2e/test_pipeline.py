"""The three services as real processes, on the real broker and PostgreSQL, with a real SMTP server."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tempen.supervisor import Supervisor
from tempen_shared.topics import ALERTS, SCORES
from tests.auth.helpers import admin_headers
from tests.conftest import Infra
from tests.support import MailSink, child_environ, eventually, free_port, json_log_lines, read_all

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture
def mail() -> Iterator[MailSink]:
    with MailSink() as sink:
        yield sink


@pytest.fixture
def supervisor(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path, mail: MailSink
) -> Iterator[Supervisor]:
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
            "TEMPEN_ALERTS_SMTP_PORT": str(mail.port),
            "TEMPEN_ALERTS_SWEEP_INTERVAL_S": "1",
            "TEMPEN_ALERTS_NOTIFY_LEASE_S": "3",
            "TEMPEN_ALERTS_NOTIFY_BACKOFF_S": "0.2",
        },
    )
    sup.start_infrastructure()
    sup.start_services()
    try:
        sup.wait_ready(timeout_s=60)
        yield sup
    finally:
        sup.stop()


STOCKHOLM = ZoneInfo("Europe/Stockholm")  # the fixture tenants' zone: periods start and end there
PULSE_SPAN = timedelta(days=20)  # a month's pulse lies within its first 21 days, so in a closed month


def month_start(months_ago: int, *, now: datetime | None = None) -> datetime:
    """09:00 on the first day of the month `months_ago` months before today's month in Stockholm.

    With `months_ago >= 1` the month has ended whatever today is (the 1st at 00:30 included), and
    `pulse` keeps every submission within it."""
    today = (now or datetime.now(UTC)).astimezone(STOCKHOLM)
    year, month = today.year, today.month - months_ago
    while month < 1:
        month += 12
        year -= 1
    return datetime(year, month, 1, 9, 0, tzinfo=STOCKHOLM)


def spread(when: datetime, i: int, n: int) -> datetime:
    """The i-th of n submissions from `when`: an hour apart where they fit, closer where they don't."""
    step = min(timedelta(hours=1), PULSE_SPAN / max(n, 1))
    return when + step * i


def pulse(unit: str, when: datetime, n: int, level: int, prefix: str) -> list[dict[str, object]]:
    rng = random.Random(f"{prefix}{unit}{when}")
    return [
        {
            "instrument": "test-puls",
            "unit": unit,
            "submission_id": f"{prefix}-{unit}-{when:%Y%m}-{i}",
            "submitted_at": spread(when, i, n).isoformat(),
            "answers": {q: max(1, min(5, level + rng.choice((-1, 0, 0, 1)))) for q in ("q1", "q2", "q3")},
            "respondent": f"r{i}",
        }
        for i in range(n)
    ]


async def test_sustained_low_pulses_reach_the_next_management_level_once(
    supervisor: Supervisor, mail: MailSink, database_url: str
) -> None:
    ingest = supervisor.services["ingest"].url
    headers = await admin_headers(database_url)
    async with httpx.AsyncClient(base_url=ingest, timeout=30, headers=headers) as http:
        for months_ago in (3, 2, 1):
            batch = pulse("grupp-a1", month_start(months_ago), 8, 2, "low")
            response = await http.post("/v1/tenants/testkommun/submissions", json=batch)
            assert response.status_code == 202, response.text
            assert response.json()["counts"]["accepted"] == 8

    # Grupp A1's manager also heads Enhet A (the same person), so the next level is the förvaltning's.
    await eventually(lambda: mail.to("bo@testkommun.example"), timeout_s=60)
    await asyncio.sleep(3)  # anything sent twice would arrive by now
    to_next_level = mail.to("bo@testkommun.example")
    dimensions = sorted(str(m["Subject"]) for m in to_next_level)
    assert len(to_next_level) == len(set(dimensions)), dimensions  # one e-mail per dimension, never two
    assert mail.to("cecilia@testkommun.example"), "the unit's own manager is informed"
    assert not mail.to("kim@testkommun.example"), "nobody above the next level hears of it yet"
    body = to_next_level[0].get_body(preferencelist=("plain",)).get_content()
    assert "Grupp A1" in body
    for person in ("r0", "r1", "employee"):
        assert person not in body

    conn = await asyncpg.connect(database_url)
    try:
        scored = await conn.fetchval("SELECT count(*) FROM scoring.contributions")
        active = await conn.fetch("SELECT unit, state, level FROM alerts.alerts WHERE state <> 'resolved'")
    finally:
        await conn.close()
    assert scored == 24  # 3 months x 8 submissions x 1 model
    assert {(r["unit"], r["state"], r["level"]) for r in active} == {("grupp-a1", "open", 1)}

    async with httpx.AsyncClient(timeout=10, headers=headers) as http:
        metrics = (await http.get(f"{ingest}/metrics")).text
        scores = await http.get(f"{supervisor.services['scoring'].url}/v1/tenants/testkommun/units/grupp-a1/scores")
    assert 'tempen_submissions_total{outcome="accepted"} 24.0' in metrics
    series = scores.json()["series"]
    assert series
    assert all(len(s["points"]) == 3 for s in series if s["scope"] == "unit")


async def test_one_submission_is_traced_by_its_correlation_id_through_every_service(
    supervisor: Supervisor, mail: MailSink, database_url: str, infra: Infra, topic_prefix: str
) -> None:
    headers = await admin_headers(database_url)
    earlier, traced_month = month_start(2), month_start(1)
    async with httpx.AsyncClient(base_url=supervisor.services["ingest"].url, timeout=30, headers=headers) as http:
        # One low month, then four low answers of the next: too few to show (the minimum is 5).
        background = [*pulse("grupp-a1", earlier, 8, 2, "bg"), *pulse("grupp-a1", traced_month, 4, 2, "bg")]
        response = await http.post("/v1/tenants/testkommun/submissions", json=background)
        assert response.json()["counts"]["accepted"] == 12, response.text
        conn = await asyncpg.connect(database_url)
        try:
            await eventually(lambda: _count_is(conn, "SELECT count(*) FROM scoring.contributions", 12), timeout_s=60)
        finally:
            await conn.close()
        # The fifth answer of the month makes it show: the second low month in a row opens an alert.
        traced = {**pulse("grupp-a1", traced_month, 5, 2, "bg")[4], "respondent": "trace-respondent-x7"}
        response = await http.post("/v1/tenants/testkommun/submissions", json=traced)
        assert response.json()["status"] == "accepted", response.text
    cid = f"testkommun:{traced['submission_id']}"
    await eventually(lambda: mail.to("bo@testkommun.example"), timeout_s=60)

    def logs(service: str) -> list[dict[str, object]]:
        return json_log_lines(supervisor.services[service].log_path)

    def traced_lines(service: str, message: str) -> list[dict[str, object]]:
        return [line for line in logs(service) if line.get("message") == message and line.get("correlation_id") == cid]

    ingested = traced_lines("ingest", "submission ingested")
    assert [(line["tenant"], line["unit"], line["outcome"]) for line in ingested] == [
        ("testkommun", "grupp-a1", "accepted")
    ]
    scored = traced_lines("scoring", "submission scored")  # once, or again if a rebalance redelivered it
    assert {(line["unit"], line["period"]) for line in scored} == {("grupp-a1", f"{traced_month:%Y-%m}")}

    # Every score event of the month is the traced submission's doing (the four before it showed nothing).
    scores = await read_all(infra.bootstrap_servers, f"{topic_prefix}{SCORES.name}")
    of_month = [s for s in scores if s["value"]["period"] == f"{traced_month:%Y-%m}"]
    assert {s["value"]["unit"] for s in of_month} >= {"grupp-a1", "enhet-a"}
    assert {s["headers"].get("correlation_id") for s in of_month} == {cid.encode()}

    opened = await eventually(lambda: traced_lines("alerts", "alert opened"), timeout_s=30)
    alert_ids = {line["alert_id"] for line in opened}
    assert {(line["unit"], line["alert_level"], line["level"]) for line in opened} == {("grupp-a1", 1, "info")}
    assert len(alert_ids) == len(opened) == 3  # one per dimension, each with its own alert id

    # Each e-mail the server accepted is logged as sent, under the same ids. Waited for until every
    # alert has one: the server can accept a message a moment before the notifier logs it, so equal
    # counts of mails and lines alone can be met while the last e-mail is still on its way.
    def sent_for_every_alert() -> list[dict[str, object]] | None:
        lines = traced_lines("alerts", "notification sent")
        complete = {line["alert_id"] for line in lines} == alert_ids and len(lines) == len(mail.messages)
        return lines if complete else None

    sent = await eventually(sent_for_every_alert, timeout_s=30)
    assert {line["alert_id"] for line in sent} == alert_ids
    transitions = await eventually(lambda: _at_least(infra, f"{topic_prefix}{ALERTS.name}", len(alert_ids)))
    assert {(t["headers"]["correlation_id"], t["headers"]["alert_id"].decode()) for t in transitions} == {
        (cid.encode(), alert_id) for alert_id in alert_ids
    }

    # No personal data in any service's log: no respondent, no e-mail address, no manager's name.
    for service in ("ingest", "scoring", "alerts"):
        text = supervisor.services[service].log_path.read_text()
        for personal in ("trace-respondent-x7", "testkommun.example", "Cecilia", "Förvaltningschef"):
            assert personal not in text, (service, personal)


async def _at_least(infra: Infra, topic: str, count: int) -> list[dict[str, Any]] | None:
    records = await read_all(infra.bootstrap_servers, topic)
    return records if len(records) >= count else None


async def _count_is(conn: asyncpg.Connection, query: str, expected: int) -> bool:
    return bool(await conn.fetchval(query) == expected)
