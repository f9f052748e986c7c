"""From a Microsoft Forms export and nothing else to stored submissions, with the three commands
docs/platforms.md shows: `mappings suggest`, `config check`, `submissions import` (against a running
ingest on the real broker and PostgreSQL)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tempen.cli import main
from tempen_ingest.app import create_app
from tempen_shared.access.tokens import Scope
from tests.auth.helpers import issue_token
from tests.conftest import Infra
from tests.ingest.spreadsheets import ms_forms_rows, netigate_csv, xlsx
from tests.ingest.support import TENANT, count, fetch, settings
from tests.support import serving

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


async def _tempen(*argv: str | Path) -> int:
    return await asyncio.to_thread(main, [str(a) for a in argv])


async def test_a_microsoft_forms_export_reaches_ingest_in_three_commands_and_a_rerun_stores_nothing_twice(
    infra: Infra,
    database_url: str,
    topic_prefix: str,
    fixture_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "config"
    shutil.copytree(fixture_config, config)
    data = ms_forms_rows(6)
    data[4][7] = "Stämmer nästan"  # a label no scale knows: that row is rejected, the others go in
    export = tmp_path / "Medarbetarenkät 2025(1-6).xlsx"
    export.write_bytes(xlsx(data))
    app = create_app(settings(infra, database_url, topic_prefix, config))
    token = await issue_token(database_url, tenant=TENANT, scopes=[Scope.SUBMIT])
    mapping_id = "testkommun-medarbetarenkat-2025"

    suggested = await _tempen("mappings", "suggest", TENANT, export, "--config", config, "--no-input")
    suggest_out = capsys.readouterr().out
    checked = await _tempen("config", "check", config)
    check_out = capsys.readouterr().out
    async with serving(app) as base:
        common = ("--mapping", mapping_id, "--url", base, "--token", token, "--config", config)
        dry = await _tempen("submissions", "import", TENANT, export, "--dry-run", *common)
        dry_out = capsys.readouterr().out
        stored_after_dry_run = await count(database_url, "submissions")
        first = await _tempen("submissions", "import", TENANT, export, *common)
        first_out = capsys.readouterr().out
        rerun = await _tempen("submissions", "import", TENANT, export, *common)
        rerun_out = capsys.readouterr().out

    assert suggested == 0
    assert f"Wrote {config}/mappings/{TENANT}/{mapping_id}.yaml" in suggest_out
    assert "Stämmer nästan" in suggest_out
    assert checked == 0
    assert "OK:" in check_out
    assert dry == 1
    assert "Dry run, nothing sent: 5 valid, 1 rejected" in dry_out
    assert stored_after_dry_run == 0
    assert first == 1
    assert "5 accepted, 1 rejected" in first_out
    assert "unmapped_answer" in first_out
    assert rerun == 1
    assert "5 duplicate" in rerun_out
    stored = await fetch(
        database_url, "SELECT submission_id, unit, answers, submitted_at FROM ingest.submissions ORDER BY submission_id"
    )
    assert [(r["submission_id"], r["unit"], r["answers"]) for r in stored] == [
        (f"{mapping_id}:1", "grupp-b1", {"q1": 2, "q2": 3, "q3": 4}),
        (f"{mapping_id}:2", "grupp-a1", {"q1": 3, "q2": 4, "q3": 5}),
        (f"{mapping_id}:3", "grupp-b1", {"q1": 4, "q2": 5, "q3": 1}),
        (f"{mapping_id}:5", "grupp-b1", {"q1": 1, "q2": 2, "q3": 3}),
        (f"{mapping_id}:6", "grupp-a1", {"q1": 2, "q2": 3, "q3": 4}),
    ]
    assert stored[0]["submitted_at"].isoformat() == "2025-03-10T08:01:00+00:00"  # 09:01 in Stockholm
    assert "Bra stämning" not in str(await fetch(database_url, "SELECT * FROM ingest.outbox"))


async def test_a_semicolon_csv_export_is_imported_through_a_mapping_without_format_flags(
    infra: Infra,
    database_url: str,
    topic_prefix: str,
    fixture_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "config"
    shutil.copytree(fixture_config, config)
    export = tmp_path / "netigate.csv"
    export.write_bytes(netigate_csv())
    app = create_app(settings(infra, database_url, topic_prefix, config))
    token = await issue_token(database_url, tenant=TENANT, scopes=[Scope.SUBMIT])

    assert await _tempen("mappings", "suggest", TENANT, export, "--config", config, "--id", "ng") == 0
    async with serving(app) as base:
        code = await _tempen(
            "submissions", "import", TENANT, export, "--mapping", "ng", "--url", base, "--token", token,
            "--config", config,
        )  # fmt: skip
    out = capsys.readouterr().out

    assert code == 0
    assert "3 accepted" in out
    stored = await fetch(database_url, "SELECT submission_id, answers FROM ingest.submissions ORDER BY submission_id")
    assert [(r["submission_id"], r["answers"]) for r in stored] == [
        ("ng:9001", {"q1": 4, "q2": 4, "q3": 3}),
        ("ng:9002", {"q1": 5, "q2": 5, "q3": 6}),  # "Vet ej": test-puls's not-applicable code
        ("ng:9003", {"q1": 1, "q3": 1}),
    ]
