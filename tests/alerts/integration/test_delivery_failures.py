"""Alerts as one process on the real broker, PostgreSQL and an SMTP server that refuses: retried once
refused for now, dead-lettered once refused for good or too often, and counted either way."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import orjson
import pytest

from tests.alerts.integration.support import (
    NEXT_LEVEL,
    UNIT_MANAGER,
    SmtpSink,
    notification_states,
    publish_scores,
    running_alerts,
    unit_scores,
)
from tests.support import eventually, read_topic

if TYPE_CHECKING:  # the fixture's type; nothing is imported from conftest at run time
    from tests.conftest import Infra

pytestmark = pytest.mark.integration

NOTIFICATIONS = 6  # three dimensions opened, each to the next level and to the unit's manager
LOW_MONTHS = [*unit_scores(2026, 8, 40.0), *unit_scores(2026, 9, 42.0)]  # closed: the real clock is used


async def test_a_server_refusing_for_now_gets_each_message_again_and_delivers_it_once(
    infra: Infra, database_url: str, topic_prefix: str
) -> None:
    with SmtpSink(refuse_data=["451 4.3.0 Try again later"] * 2) as sink:
        async with running_alerts(
            bootstrap_servers=infra.bootstrap_servers,
            database_url=database_url,
            topic_prefix=topic_prefix,
            smtp_port=sink.port,
        ) as base:
            await publish_scores(infra.bootstrap_servers, topic_prefix, LOW_MONTHS)
            conn = await asyncpg.connect(database_url)
            try:
                await eventually(lambda: _states_are(conn, {"sent": NOTIFICATIONS}), timeout_s=60)
                attempts = await conn.fetchval("SELECT sum(attempts) FROM alerts.notifications")
            finally:
                await conn.close()
            metrics = await _metrics(base)

    ids = Counter(sink.message_ids())
    assert len(ids) == NOTIFICATIONS, ids
    assert max(ids.values()) == 1, ids
    assert attempts == NOTIFICATIONS + 2
    assert metrics[("email", "retried")] == 2
    assert metrics[("email", "sent")] == NOTIFICATIONS
    assert ("email", "failed") not in metrics


async def test_a_permanent_refusal_or_too_many_attempts_end_failed_with_a_dead_letter(
    infra: Infra, database_url: str, topic_prefix: str
) -> None:
    refusing = SmtpSink(
        always_refuse_rcpt={NEXT_LEVEL: "550 5.1.1 No such user here"},
        always_refuse_data={UNIT_MANAGER: "452 4.3.1 Insufficient system storage"},
    )
    with refusing as sink:
        async with running_alerts(
            bootstrap_servers=infra.bootstrap_servers,
            database_url=database_url,
            topic_prefix=topic_prefix,
            smtp_port=sink.port,
            notify_max_attempts=3,
        ) as base:
            await publish_scores(infra.bootstrap_servers, topic_prefix, LOW_MONTHS)
            conn = await asyncpg.connect(database_url)
            try:
                await eventually(lambda: _states_are(conn, {"failed": NOTIFICATIONS}), timeout_s=60)
                rows = await conn.fetch("SELECT notification_id, recipient, attempts FROM alerts.notifications")
            finally:
                await conn.close()
            letters = await read_topic(infra.bootstrap_servers, f"{topic_prefix}tempen.alerts.dlq", count=NOTIFICATIONS)
            metrics = await _metrics(base)

    assert {(r["recipient"], r["attempts"]) for r in rows} == {(NEXT_LEVEL, 1), (UNIT_MANAGER, 3)}
    assert len(letters) == NOTIFICATIONS
    assert {letter["value"]["reason"] for letter in letters} == {"notification_failed"}
    assert {letter["headers"]["reason"] for letter in letters} == {b"notification_failed"}
    dead = {orjson.loads(letter["value"]["value"])["notification_id"] for letter in letters}
    assert dead == {str(r["notification_id"]) for r in rows}
    assert all(NEXT_LEVEL not in str(letter["value"]) for letter in letters), "no addresses in dead letters"
    assert metrics[("email", "failed")] == NOTIFICATIONS
    assert metrics[("email", "retried")] == 2 * 3  # the unit manager's three messages, twice each
    assert sink.messages == []


async def _states_are(conn: asyncpg.Connection, expected: dict[str, int]) -> bool:
    return await notification_states(conn) == expected


async def _metrics(base: str) -> dict[tuple[str, str], float]:
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{base}/metrics")).text
    found: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if line.startswith("tempen_notifications_total{"):
            labels: dict[str, Any] = dict(
                part.split("=", 1) for part in line[line.index("{") + 1 : line.index("}")].split(",")
            )
            found[(labels["channel"].strip('"'), labels["outcome"].strip('"'))] = float(line.rsplit(" ", 1)[1])
    return found
