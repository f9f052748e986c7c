"""Faults on the running system, as processes: each service SIGKILLed ten times, PostgreSQL fast-stopped
and killed, the broker killed, poison records on the intake topic, all in the middle of a stream that
raises alerts. After each: every accepted submission stored and scored exactly once, no e-mail twice,
nothing half-stored, and a stalled part says so in /readyz within 10 s.

The figures each run prints ("fault run: ...") are the ones docs/operations.md "What we test and how"
keeps. Test data lies in the three months before this one, which have ended whatever today is.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tempen.supervisor import Supervisor
from tempen_shared.topics import INTAKE
from tests.auth.helpers import admin_headers
from tests.conftest import Infra
from tests.e2e.system import running_system, settled, wait_for_first_alert
from tests.e2e.test_pipeline import month_start, pulse
from tests.support import MailSink, eventually, free_port, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

TENANT = "testkommun"
UNITS = ("grupp-a1", "enhet-a", "grupp-b1", "enhet-b", "forv")
STALL_VISIBLE_S = 10.0


def stream(total: int, batch: int, prefix: str) -> list[list[dict[str, object]]]:
    """`total` submissions over the three months before this one and five units; Grupp A1 is low
    throughout, so alerts open (and e-mails go out) while the faults happen."""
    items: list[dict[str, object]] = []
    per_group = total // (len(UNITS) * 3)
    for months_ago in (3, 2, 1):
        for unit in UNITS:
            items.extend(pulse(unit, month_start(months_ago), per_group, 2 if unit == "grupp-a1" else 4, prefix))
    return [items[i : i + batch] for i in range(0, len(items), batch)]


@dataclass
class FaultRun:
    """One system under faults, and what its clients saw."""

    supervisor: Supervisor
    headers: dict[str, str] = field(default_factory=dict)
    submitted: set[str] = field(default_factory=set)
    faults: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)

    async def post_until_stored(self, http: httpx.AsyncClient, batch: list[dict[str, object]]) -> None:
        """POST a batch until ingest answers 202. While ingest restarts the connection is refused or
        reset, and while the database is away ingest answers 503 with Retry-After: a client retries
        both, and the retry is safe because submissions are idempotent. Any other 5xx fails the test."""
        deadline = time.monotonic() + 180
        while True:
            assert time.monotonic() < deadline, f"ingest never stored the batch; answers so far: {self.answers}"
            try:
                response = await http.post(f"/v1/tenants/{TENANT}/submissions", json=batch)
            except httpx.TransportError as exc:
                self.answers[f"no answer ({type(exc).__name__})"] += 1
                await asyncio.sleep(0.2)
                continue
            self.answers[str(response.status_code)] += 1
            if response.status_code == 503:
                assert "retry-after" in response.headers, response.text
                await asyncio.sleep(min(float(response.headers["retry-after"]), 1.0))
                continue
            assert response.status_code == 202, response.text
            statuses = Counter(item["status"] for item in response.json()["results"])
            assert set(statuses) <= {"accepted", "duplicate"}, response.text
            self.submitted.update(str(item["submission_id"]) for item in batch)
            return

    async def wait_until_settled(self, database_url: str) -> dict[str, Any]:
        conn = await asyncpg.connect(database_url)
        try:
            total = len(self.submitted)
            await eventually(lambda: _counts_reach(conn, total), timeout_s=240, interval_s=0.5)
            await eventually(lambda: settled(conn), timeout_s=180, interval_s=0.5)
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM ingest.submissions) AS stored,"
                " (SELECT count(DISTINCT submission_id) FROM ingest.submissions) AS distinct_stored,"
                " (SELECT count(*) FROM scoring.contributions) AS scored,"
                " (SELECT sum(respondents) FROM scoring.groups) AS respondents,"
                " (SELECT count(*) FROM alerts.notifications WHERE state = 'sent') AS sent,"
                " (SELECT count(*) FROM alerts.notifications WHERE state = 'in_doubt') AS in_doubt,"
                " (SELECT count(*) FROM alerts.alerts WHERE unit = 'grupp-a1') AS alerts"
            )
            assert row is not None
            return dict(row)
        finally:
            await conn.close()

    def report(self, name: str, outcome: dict[str, Any], mail: MailSink) -> None:
        ids = Counter(str(m["Message-ID"]) for m in mail.messages)
        doubled = sum(n - 1 for n in ids.values())
        print(
            f"fault run {name}: faults {dict(self.faults)}; submissions sent {len(self.submitted)}, "
            f"stored {outcome['stored']}, scored {outcome['scored']}, lost {len(self.submitted) - outcome['scored']}; "
            f"e-mails {len(mail.messages)}, doubled {doubled}; client saw {dict(self.answers)}"
        )
        assert outcome["stored"] == outcome["distinct_stored"] == len(self.submitted), "stored once each"
        assert outcome["scored"] == len(self.submitted), "every accepted submission scored"
        assert outcome["respondents"] == len(self.submitted), "and counted exactly once"
        assert ids, "no e-mail arrived at all: the stream raised no alert"
        assert doubled == 0, f"an e-mail was delivered twice: {ids.most_common(3)}"
        assert outcome["in_doubt"] <= self.faults["alerts SIGKILL"], "only a killed delivery may be in doubt"
        assert outcome["sent"] <= len(mail.messages) <= outcome["sent"] + outcome["in_doubt"]
        assert outcome["alerts"] > 0


async def _counts_reach(conn: asyncpg.Connection, total: int) -> bool:
    scored = await conn.fetchval("SELECT count(*) FROM scoring.contributions")
    return bool(scored == total)


async def not_ready_within(sup: Supervisor, names: tuple[str, ...], timeout_s: float) -> dict[str, float]:
    """Seconds until each service's /readyz answers 503; fails if one still says ready after `timeout_s`."""
    started = time.monotonic()
    seen: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=2.0) as http:
        while len(seen) < len(names):
            for name in names:
                if name in seen:
                    continue
                try:
                    response = await http.get(f"{sup.services[name].url}/readyz")
                except httpx.TransportError:
                    continue
                if response.status_code == 503:
                    seen[name] = round(time.monotonic() - started, 1)
            assert time.monotonic() - started < timeout_s, f"still ready after {timeout_s}s: {set(names) - set(seen)}"
            await asyncio.sleep(0.2)
    return seen


POISON = (
    b"{not json",
    b"[" * 100_000,
    b'{"tenant":"testkommun","instrument":"test-puls","unit":"grupp-a1","submission_id":"p-inf",'
    b'"submitted_at":"2026-01-05T09:00:00+01:00","answers":{"q1":1e999}}',
    orjson.dumps(
        {
            "tenant": TENANT,
            "instrument": "test-puls",
            "unit": "grupp-a1",
            "submission_id": "p-year-1",
            "submitted_at": "0001-01-01T00:00:00+14:00",
            "answers": {"q1": 3},
        }
    ),
    orjson.dumps(
        {
            "tenant": TENANT,
            "instrument": "test-puls",
            "unit": "grupp-a1\x00",
            "submission_id": "p-nul",
            "submitted_at": "2026-01-05T09:00:00+01:00",
            "answers": {"q1": 3},
        }
    ),
)


async def publish_poison(bootstrap: str, topic: str) -> str:
    """The poison records, then a valid one behind them on the same partition: its id is returned,
    and it must be stored and scored like any other, so the poison held back nothing."""
    behind = {**pulse("grupp-a1", month_start(1), 1, 2, "behind-the-poison")[0], "tenant": TENANT}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4_000_000)
    await producer.start()
    try:
        for value in (*POISON, orjson.dumps(behind)):
            await producer.send_and_wait(topic, value, key=b"testkommun:grupp-a1")
    finally:
        await producer.stop()
    return str(behind["submission_id"])


async def test_each_service_sigkilled_ten_times_and_poison_on_the_intake_lose_nothing_and_double_nothing(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path
) -> None:
    kills = ("ingest", "scoring", "alerts") * 10
    batches = stream(3_000, 50, "kill")
    async with running_system(
        tmp_path,
        fixture_config,
        KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
        DATABASE_URL=database_url,
        TEMPEN_TOPIC_PREFIX=topic_prefix,
    ) as (sup, mail):
        run = FaultRun(sup, headers=await admin_headers(database_url))
        async with httpx.AsyncClient(base_url=sup.services["ingest"].url, timeout=60, headers=run.headers) as http:
            for number, batch in enumerate(batches):
                posting = asyncio.create_task(run.post_until_stored(http, batch))
                if number % 2 == 1 and number // 2 < len(kills):
                    name = kills[number // 2]
                    await asyncio.sleep(0.01 * (number % 7))  # ingest dies with the batch in flight
                    await asyncio.to_thread(sup.kill_service, name, signal.SIGKILL)
                    sup.start_service(name)  # as `tempen up` does when it sees a service gone
                    run.faults[f"{name} SIGKILL"] += 1
                await posting
                if number == len(batches) // 3:
                    behind = await publish_poison(infra.bootstrap_servers, f"{topic_prefix}{INTAKE.name}")
                    run.submitted.add(behind)
                    run.faults["poison records"] += len(POISON)
        await asyncio.to_thread(sup.wait_ready, timeout_s=90)
        outcome = await run.wait_until_settled(database_url)
        dead = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{INTAKE.name}.dlq", count=len(POISON))
        await asyncio.sleep(2)  # an e-mail delivered twice would arrive now
    run.report("SIGKILL x30 + poison", outcome, mail)
    assert run.faults == {"ingest SIGKILL": 10, "scoring SIGKILL": 10, "alerts SIGKILL": 10, "poison records": 5}
    assert len(dead) == len(POISON), "each poison record is dead-lettered once, with its reason"
    assert all(d["value"]["reason"] in {"malformed", "invalid", "unparseable"} for d in dead), dead


async def test_postgres_fast_stopped_and_killed_mid_stream_answers_503_and_loses_nothing(
    infra: Infra, topic_prefix: str, fixture_config: Path, tmp_path: Path
) -> None:
    """The database is the embedded one the supervisor owns, so the test can stop and kill it."""
    batches = stream(1_500, 50, "pg")
    async with running_system(
        tmp_path,
        fixture_config,
        KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
        TEMPEN_TOPIC_PREFIX=topic_prefix,
        TEMPEN_EMBEDDED_POSTGRES_PORT=str(free_port()),
    ) as (sup, mail):
        postgres = sup.postgres
        assert postgres is not None, "the supervisor owns the database in this test"
        run = FaultRun(sup, headers=await admin_headers(sup.database_url))
        visible: dict[str, dict[str, float]] = {}
        async with httpx.AsyncClient(base_url=sup.services["ingest"].url, timeout=60, headers=run.headers) as http:
            for number, batch in enumerate(batches):
                if number in (len(batches) // 3, 2 * len(batches) // 3):
                    how = "fast stop" if number == len(batches) // 3 else "SIGKILL"
                    if how == "fast stop":
                        await asyncio.to_thread(postgres.stop)
                    else:
                        _kill_postmaster(postgres.pgdata)
                    run.faults[f"PostgreSQL {how} for 10 s"] += 1
                    down = time.monotonic()
                    visible[how] = await not_ready_within(sup, ("ingest", "scoring", "alerts"), STALL_VISIBLE_S)
                    outage = asyncio.create_task(_restart_after(postgres, 10 - (time.monotonic() - down)))
                    await run.post_until_stored(http, batch)  # 503s until the database is back
                    await outage
                    continue
                await run.post_until_stored(http, batch)
        await asyncio.to_thread(sup.wait_ready, timeout_s=90)
        outcome = await run.wait_until_settled(sup.database_url)
        await asyncio.sleep(2)
    print(f"fault run PostgreSQL: /readyz said not ready after {visible} s")
    run.report("PostgreSQL fast stop + SIGKILL", outcome, mail)
    assert run.answers["503"] > 0, "the outage was seen by the client as 503 with Retry-After"


async def _restart_after(postgres: Any, delay_s: float) -> None:
    await asyncio.sleep(max(delay_s, 0))
    await asyncio.to_thread(postgres.start)


def _kill_postmaster(pgdata: Path) -> None:
    pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    os.kill(pid, signal.SIGKILL)


async def publish_to_intake(bootstrap: str, topic: str, items: list[dict[str, object]]) -> set[str]:
    """Submissions straight onto the intake topic, as a platform publishing to Kafka would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for item in items:
            await producer.send_and_wait(topic, orjson.dumps({**item, "tenant": TENANT}), key=b"testkommun:grupp-a1")
    finally:
        await producer.stop()
    return {str(item["submission_id"]) for item in items}


async def test_the_broker_killed_and_restarted_mid_stream_loses_nothing_doubles_nothing_and_ingest_keeps_answering(
    database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path
) -> None:
    """The broker is the embedded one the supervisor owns and restarts (memory only: it comes back
    empty, and the outboxes publish again what it had). Clients keep posting while it is down and
    while it restarts: ingest is not restarted with it, so every request gets an answer, and its
    intake consumer reads what platforms publish to the new broker."""
    batches = stream(1_500, 50, "broker")
    async with running_system(
        tmp_path,
        fixture_config,
        DATABASE_URL=database_url,
        TEMPEN_TOPIC_PREFIX=topic_prefix,
        TEMPEN_EMBEDDED_KAFKA_PORT=str(free_port()),
    ) as (sup, mail):
        broker = sup.broker
        assert broker is not None, "the supervisor owns the broker in this test"
        assert broker.process is not None
        ingest_process = sup.services["ingest"].process
        run = FaultRun(sup, headers=await admin_headers(database_url))
        restarting: asyncio.Task[list[str]] | None = None
        async with httpx.AsyncClient(base_url=sup.services["ingest"].url, timeout=60, headers=run.headers) as http:
            for number, batch in enumerate(batches):
                if number == len(batches) // 2:
                    await wait_for_first_alert(database_url)
                    broker.process.send_signal(signal.SIGKILL)
                    broker.process.wait()
                    run.faults["broker SIGKILL"] += 1
                    restarting = asyncio.create_task(asyncio.to_thread(sup.watch_once))
                await run.post_until_stored(http, batch)
            assert restarting is not None
            restarted = await restarting
            assert restarted == ["broker", "scoring", "alerts"], restarted
            intake = pulse("grupp-a1", month_start(1), 20, 2, "broker-intake")
            run.submitted |= await publish_to_intake(sup.bootstrap_servers, f"{topic_prefix}{INTAKE.name}", intake)
        await asyncio.to_thread(sup.wait_ready, timeout_s=90)
        outcome = await run.wait_until_settled(database_url)
        await asyncio.sleep(2)
    run.report("broker SIGKILL", outcome, mail)
    assert sup.services["ingest"].process is ingest_process, "ingest was restarted with the broker"
    assert set(run.answers) <= {"202", "503"}, f"a request got no answer while the broker restarted: {run.answers}"
