"""Org imports through ingest's admin endpoint and the `tempen org import` command, on real parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from tempen.commands.org import EXIT_OK, EXIT_REFUSED
from tempen_ingest.app import create_app
from tempen_ingest.config import IngestSettings
from tempen_shared.topics import ORG
from tests.auth.helpers import admin_headers
from tests.conftest import Infra
from tests.support import read_topic, serving

pytestmark = pytest.mark.integration

HEADER = "unit_id,name,parent_id,manager_name,manager_email,headcount\n"
BASE = (FIXTURE := Path(__file__).parents[2] / "fixtures" / "config" / "org" / "testkommun.csv").read_text()


def settings(infra: Infra, database_url: str, prefix: str, config: Path) -> IngestSettings:
    return IngestSettings(
        KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
        DATABASE_URL=database_url,
        TEMPEN_CONFIG_DIR=config,
        TEMPEN_TOPIC_PREFIX=prefix,
        TEMPEN_KAFKA_SESSION_TIMEOUT_MS=2000,
        TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS=300,
    )


async def test_an_import_is_stored_as_a_version_published_per_unit_and_its_new_units_accepted(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    headers = await admin_headers(database_url)
    new_org = BASE + "grupp-a2,Grupp A2,enhet-a,Cecilia Chef,cecilia@testkommun.example,9\n"
    async with (
        serving(create_app(settings(infra, database_url, topic_prefix, fixture_config))) as base,
        httpx.AsyncClient(base_url=base, headers=headers) as http,
    ):
        dry = await http.post(
            "/v1/tenants/testkommun/admin/org",
            params={"dry_run": "true"},
            content=new_org,
            headers={"content-type": "text/csv"},
        )
        stored = await http.post(
            "/v1/tenants/testkommun/admin/org",
            params={"effective_from": "2026-01-01"},
            content=new_org,
            headers={"content-type": "text/csv"},
        )
        current = await http.get("/v1/tenants/testkommun/org")
        submission = await http.post(
            "/v1/tenants/testkommun/submissions",
            json={
                "instrument": "test-puls",
                "unit": "grupp-a2",
                "submission_id": "new-unit-1",
                "submitted_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
                "answers": {"q1": 3},
            },
        )
        events = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{ORG.name}", count=7)
    assert dry.status_code == 200
    assert dry.json()["status"] == "dry_run"
    assert "1 added" in dry.json()["summary"]
    assert stored.status_code == 201, stored.text
    assert stored.json()["version"] == 1
    assert current.json()["version"] == 1
    assert submission.status_code == 202, submission.text
    assert len(events) == 7
    assert {e["value"]["unit_count"] for e in events} == {7}
    assert {e["key"] for e in events} >= {b"testkommun:grupp-a2", b"testkommun:kommun"}


async def test_a_broken_or_dangerous_import_is_refused_and_changes_nothing(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    headers = await admin_headers(database_url)
    cycle = HEADER + "kommun,Testkommun,,Kim,kim@testkommun.example,\na,A,b,,,\nb,B,a,,,\n"
    halved = HEADER + "kommun,Testkommun,,Kim,kim@testkommun.example,\nforv,Förvaltningen,kommun,,,\n"
    async with (
        serving(create_app(settings(infra, database_url, topic_prefix, fixture_config))) as base,
        httpx.AsyncClient(base_url=base, headers=headers) as http,
    ):
        broken = await http.post(
            "/v1/tenants/testkommun/admin/org", content=cycle, headers={"content-type": "text/csv"}
        )
        dangerous = await http.post(
            "/v1/tenants/testkommun/admin/org", content=halved, headers={"content-type": "text/csv"}
        )
        forced = await http.post(
            "/v1/tenants/testkommun/admin/org",
            params={"force": "true"},
            content=halved,
            headers={"content-type": "text/csv"},
        )
    assert broken.status_code == 422
    assert any("cycle" in e["reason"] for e in broken.json()["errors"])
    assert all(e["field"].startswith("line ") for e in broken.json()["errors"])
    assert dangerous.status_code == 409
    assert "40%" in dangerous.json()["detail"] or "remove" in dangerous.json()["detail"]
    assert forced.status_code == 201
    conn = await asyncpg.connect(database_url)
    try:
        versions = await conn.fetchval("SELECT count(*) FROM ingest.org_versions")
    finally:
        await conn.close()
    assert versions == 1  # only the forced one


async def test_the_cli_stores_through_the_running_system(
    infra: Infra,
    database_url: str,
    topic_prefix: str,
    fixture_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tempen.commands import run

    token = (await admin_headers(database_url))["authorization"].removeprefix("Bearer ")
    new_org = tmp_path / "org.csv"
    new_org.write_text(BASE + "grupp-b2,Grupp B2,enhet-b,,,11\n")
    halved = tmp_path / "halved.csv"
    halved.write_text(HEADER + "kommun,Testkommun,,Kim,kim@testkommun.example,\nforv,Förvaltningen,kommun,,,\n")
    async with serving(create_app(settings(infra, database_url, topic_prefix, fixture_config))) as base:
        import asyncio

        args = ["--config", str(fixture_config), "--url", base, "--token", token]
        stored = await asyncio.to_thread(run, ["org", "import", "testkommun", str(new_org), *args])
        refused = await asyncio.to_thread(run, ["org", "import", "testkommun", str(halved), *args])
    assert stored == EXIT_OK
    assert refused == EXIT_REFUSED


async def test_the_cli_shows_the_running_systems_comparison_with_its_newest_stored_version(
    infra: Infra,
    database_url: str,
    topic_prefix: str,
    fixture_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Version 1 adds Grupp B2 to the configured org; the next file adds Grupp B3 to version 1. Compared with
    # the config file that would be two units added: ingest compares with version 1, and the CLI shows that.
    from tempen.commands import run

    token = (await admin_headers(database_url))["authorization"].removeprefix("Bearer ")
    first = tmp_path / "first.csv"
    first.write_text(BASE + "grupp-b2,Grupp B2,enhet-b,,,11\n")
    second = tmp_path / "second.csv"
    second.write_text(first.read_text() + "grupp-b3,Grupp B3,enhet-b,,,7\n")
    async with serving(create_app(settings(infra, database_url, topic_prefix, fixture_config))) as base:
        import asyncio

        args = ["--config", str(fixture_config), "--url", base, "--token", token, "--effective-date", "2026-01-01"]
        assert await asyncio.to_thread(run, ["org", "import", "testkommun", str(first), *args]) == EXIT_OK
        capsys.readouterr()
        dry = await asyncio.to_thread(run, ["org", "import", "testkommun", str(second), *args, "--dry-run"])
    out = capsys.readouterr().out
    assert dry == EXIT_OK
    assert "Compared with version 1 (the running system's current org)" in out
    assert "7 units before, 8 after: 1 added" in out
    assert "+ grupp-b3  Grupp B3" in out
    assert "grupp-b2" not in out
