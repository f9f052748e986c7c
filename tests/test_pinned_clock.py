"""The services live on the test's date: what `make test-dates` relies on when it pins the clock.

Run as part of every pinned-date run (it is `dated`): if a service or PostgreSQL kept today's date
while the test moved to another, a submission made a minute ago by the test's clock would be "in the
future" for ingest (or one an hour ahead accepted), and this fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from tempen.supervisor import Supervisor
from tests.auth.helpers import admin_headers
from tests.conftest import Infra
from tests.support import child_environ, free_port

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture
async def ingest(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path
) -> AsyncIterator[str]:
    sup = Supervisor(
        config_dir=fixture_config,
        state_dir=tmp_path / "state",
        environ=child_environ(
            KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers, DATABASE_URL=database_url, TEMPEN_TOPIC_PREFIX=topic_prefix
        ),
        ports={"ingest": free_port()},
    )
    await asyncio.to_thread(sup.start_infrastructure)  # with both URLs given: the folders and the topics
    service = sup.start_service("ingest")
    try:
        await asyncio.to_thread(sup.wait_ready, timeout_s=60, names=("ingest",))
        yield service.url
    finally:
        await asyncio.to_thread(sup.stop)


def submission(submission_id: str, at: datetime) -> dict[str, object]:
    return {
        "instrument": "test-puls",
        "unit": "grupp-a1",
        "submission_id": submission_id,
        "submitted_at": at.isoformat(),
        "answers": {"q1": 4, "q2": 4, "q3": 4},
    }


async def test_ingest_and_postgresql_are_on_the_same_date_as_the_test(ingest: str, database_url: str) -> None:
    now = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=ingest, timeout=30, headers=await admin_headers(database_url)) as http:
        recent = await http.post(
            "/v1/tenants/testkommun/submissions", json=submission("clock-1", now - timedelta(minutes=1))
        )
        ahead = await http.post(
            "/v1/tenants/testkommun/submissions", json=submission("clock-2", now + timedelta(hours=1))
        )
    assert recent.status_code == 202, f"a minute ago by the test's clock is not the past for ingest: {recent.text}"
    assert ahead.status_code == 422, f"an hour ahead by the test's clock is not the future for ingest: {ahead.text}"
    assert "lies in the future" in ahead.text

    conn = await asyncpg.connect(database_url)
    try:
        database_now: datetime = await conn.fetchval("SELECT now()")
    finally:
        await conn.close()
    assert abs(database_now - datetime.now(UTC)) < timedelta(minutes=1), f"PostgreSQL lives on {database_now}"
