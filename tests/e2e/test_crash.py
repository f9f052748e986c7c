"""Kill the consumers with SIGKILL in the middle of a stream: nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.auth.helpers import admin_headers
from tests.conftest import Infra
from tests.e2e.system import running_system, settled, wait_for_first_alert
from tests.e2e.test_pipeline import month_start, pulse
from tests.support import eventually

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(600)]

UNITS = ("grupp-a1", "enhet-a", "grupp-b1", "enhet-b", "forv")
TOTAL = 10_000
BATCH = 500


def stream() -> list[list[dict[str, object]]]:
    """10,000 submissions over three past months and five units; Grupp A1 is low throughout."""
    items: list[dict[str, object]] = []
    per_group = TOTAL // (len(UNITS) * 3)
    for months_ago in (3, 2, 1):
        for unit in UNITS:
            level = 2 if unit == "grupp-a1" else 4
            items.extend(pulse(unit, month_start(months_ago), per_group, level, f"crash{months_ago}"))
    items.extend(pulse("grupp-b1", month_start(1), TOTAL - len(items), 4, "crash-rest"))
    return [items[i : i + BATCH] for i in range(0, len(items), BATCH)]


async def test_sigkill_of_scoring_and_alerts_mid_stream_loses_nothing_and_sends_nothing_twice(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path
) -> None:
    async with running_system(
        tmp_path,
        fixture_config,
        ready_timeout_s=60,
        KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
        DATABASE_URL=database_url,
        TEMPEN_TOPIC_PREFIX=topic_prefix,
    ) as (sup, mail):
        batches = stream()
        headers = await admin_headers(database_url)
        async with httpx.AsyncClient(base_url=sup.services["ingest"].url, timeout=60, headers=headers) as http:
            for number, batch in enumerate(batches):
                response = await http.post("/v1/tenants/testkommun/submissions", json=batch)
                assert response.status_code == 202, response.text
                assert response.json()["counts"]["rejected"] == 0
                if number == len(batches) // 3:
                    await _wait_until_scoring_started(database_url)  # kill it mid-work, not before it began
                    sup.kill_service("scoring", signal.SIGKILL)
                    sup.start_service("scoring")
                if number == 2 * len(batches) // 3:
                    await wait_for_first_alert(database_url)
                    sup.kill_service("alerts", signal.SIGKILL)
                    sup.start_service("alerts")
        await asyncio.to_thread(sup.wait_ready, timeout_s=60)

        conn = await asyncpg.connect(database_url)
        try:
            await eventually(lambda: _scored(conn), timeout_s=180, interval_s=0.5)
            await eventually(lambda: settled(conn), timeout_s=120, interval_s=0.5)
            contributions = await conn.fetchval("SELECT count(*) FROM scoring.contributions")
            respondents = await conn.fetchval("SELECT sum(respondents) FROM scoring.groups")
            answers = await conn.fetchval("SELECT sum(count) FROM scoring.item_counts")
            answers_expected = await conn.fetchval(
                "SELECT sum((SELECT count(*) FROM jsonb_object_keys(item_values))) FROM scoring.contributions"
            )
            sent = await conn.fetchval("SELECT count(*) FROM alerts.notifications WHERE state = 'sent'")
            in_doubt = await conn.fetchval("SELECT count(*) FROM alerts.notifications WHERE state = 'in_doubt'")
            active = await conn.fetch("SELECT unit FROM alerts.alerts WHERE state <> 'resolved'")
        finally:
            await conn.close()
        await asyncio.sleep(2)

    assert contributions == TOTAL  # every submission scored
    assert respondents == TOTAL  # and counted exactly once in the aggregates
    assert answers == answers_expected
    ids = Counter(str(m["Message-ID"]) for m in mail.messages)
    assert ids, "no e-mail arrived at all"
    assert max(ids.values()) == 1, f"an e-mail was delivered twice: {ids.most_common(3)}"
    # One SIGKILL of alerts can leave at most the one notification it was delivering in doubt.
    assert in_doubt <= 1
    assert len(mail.messages) in (sent, sent + in_doubt)
    assert {r["unit"] for r in active} == {"grupp-a1"}


async def _scored(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM scoring.contributions") == TOTAL)


async def _wait_until_scoring_started(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await eventually(lambda: conn.fetchval("SELECT count(*) FROM scoring.contributions"), timeout_s=60)
    finally:
        await conn.close()
