"""`tempen submissions import` against a running ingest on the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest

from tempen.cli import main
from tempen_ingest.app import create_app
from tempen_shared.access.tokens import Scope
from tests.auth.helpers import issue_token
from tests.conftest import Infra
from tests.ingest.support import TENANT, count, fetch, settings, yesterday
from tests.support import serving

pytestmark = pytest.mark.integration

STAMP = yesterday().isoformat()


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("submission_id,unit,submitted_at,respondent,q1,q2,q3\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps tables at 80 columns when not on a terminal


async def _tempen(*argv: str | Path) -> int:
    # The command is synchronous; in a thread, the server it talks to keeps running on this loop.
    return await asyncio.to_thread(main, [str(a) for a in argv])


async def test_import_reports_each_rejected_row_and_a_rerun_reports_duplicates(
    infra: Infra,
    database_url: str,
    topic_prefix: str,
    fixture_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    token = await issue_token(database_url, tenant=TENANT, scopes=[Scope.SUBMIT])
    good = _csv(
        tmp_path / "good.csv",
        [f"imp-{i},grupp-a1,{STAMP},emp-{i},{1 + i % 5},4,6" for i in range(7)],
    )
    mixed = _csv(
        tmp_path / "mixed.csv",
        [
            f"mix-1,grupp-b1,{STAMP},emp-a,5,5,",
            f"mix-2,no-such-unit,{STAMP},emp-b,5,5,5",
            f"mix-3,grupp-b1,{STAMP},emp-c,fem,5,5",
            f"mix-4,grupp-b1,{STAMP},,2,9,1",
        ],
    )
    report = tmp_path / "errors.csv"
    async with serving(app) as base:
        common = ("--instrument", "test-puls", "--url", base, "--token", token, "--config", fixture_config)
        first = await _tempen("submissions", "import", TENANT, good, "--batch-size", "3", *common)
        first_out = capsys.readouterr().out
        rerun = await _tempen("submissions", "import", TENANT, good, *common)
        rerun_out = capsys.readouterr().out
        partly = await _tempen("submissions", "import", TENANT, mixed, "--report", report, *common)
        partly_out = capsys.readouterr().out

    assert first == 0
    assert "7 accepted" in first_out
    assert rerun == 0
    assert "7 duplicate" in rerun_out
    assert partly == 1
    assert "1 accepted" in partly_out
    assert "3 rejected" in partly_out
    with report.open(encoding="utf-8") as handle:
        rejected = [(r["row"], r["submission_id"], r["field"]) for r in csv.DictReader(handle)]
    assert rejected == [("3", "mix-2", "unit"), ("4", "mix-3", "answers.q1"), ("5", "mix-4", "answers.q2")]
    stored = await fetch(
        database_url, "SELECT submission_id, answers FROM ingest.submissions WHERE submission_id LIKE 'mix-%'"
    )
    assert [(r["submission_id"], r["answers"]) for r in stored] == [("mix-1", {"q1": 5, "q2": 5})]
    assert await count(database_url, "submissions") == 8


async def test_dry_run_validates_against_the_config_and_stores_nothing(
    infra: Infra,
    database_url: str,
    topic_prefix: str,
    fixture_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    token = await issue_token(database_url, tenant=TENANT, scopes=[Scope.SUBMIT])
    lines = [
        {
            "instrument": "test-puls",
            "unit": "grupp-a1",
            "submission_id": "dry-1",
            "submitted_at": STAMP,
            "answers": {"q1": 3},
        },
        {
            "instrument": "test-puls",
            "unit": "grupp-a1",
            "submission_id": "dry-2",
            "submitted_at": STAMP,
            "answers": {"q9": 3},
        },
        {
            "instrument": "test-puls",
            "unit": "grupp-a1",
            "submission_id": "dry-1",
            "submitted_at": STAMP,
            "answers": {"q1": 4},
        },
    ]
    path = tmp_path / "rows.ndjson"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n{broken\n", encoding="utf-8")
    async with serving(app) as base:
        code = await _tempen(
            "submissions",
            "import",
            TENANT,
            path,
            "--dry-run",
            "--url",
            base,
            "--token",
            token,
            "--config",
            fixture_config,
        )
    out = capsys.readouterr().out
    assert code == 1
    assert "Dry run, nothing sent: 1 valid, 1 repeated in file, 2 rejected" in out
    assert "answers.q9" in out
    assert "(line)" in out
    assert await count(database_url, "submissions") == 0
    assert await count(database_url, "outbox") == 0


async def test_limesurvey_export_is_imported_through_its_mapping_skipping_incomplete_responses(
    infra: Infra,
    database_url: str,
    topic_prefix: str,
    fixture_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    token = await issue_token(database_url, tenant=TENANT, scopes=[Scope.SUBMIT])
    local = yesterday().replace(tzinfo=None).isoformat(sep=" ")
    export = {
        "responses": [
            {"id": "1", "submitdate": local, "token": "tok-a", "enhet": "grupp-a1", "G01Q01": "A4",
             "G01Q02[SQ001]": "A5", "G01Q02[SQ002]": "A6", "G01Q03": "Fri text som aldrig skickas"},
            {"id": "2", "submitdate": None, "token": "tok-b", "enhet": "grupp-a1", "G01Q01": "A1"},
            {"id": "3", "submitdate": local, "token": "tok-c", "enhet": "grupp-b1", "G01Q01": "A9"},
        ]
    }  # fmt: skip
    path = tmp_path / "results-survey123456.json"  # the survey of test-puls-limesurvey
    path.write_text(json.dumps(export), encoding="utf-8")
    async with serving(app) as base:
        code = await _tempen(
            "submissions", "import", TENANT, path, "--format", "limesurvey-json", "--mapping", "test-puls-limesurvey",
            "--url", base, "--token", token, "--config", fixture_config,
        )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "1 accepted" in out
    assert "1 skipped" in out
    assert "G01Q01" in out  # row 3: A9 has no value in the mapping
    rows = await fetch(database_url, "SELECT submission_id, unit, answers, respondent FROM ingest.submissions")
    assert [(r["submission_id"], r["unit"], r["answers"]) for r in rows] == [
        ("123456:1", "grupp-a1", {"q1": 4, "q2": 5, "q3": 6})
    ]
    assert rows[0]["respondent"].startswith("p-")
    assert "Fri text" not in str(await fetch(database_url, "SELECT * FROM ingest.outbox"))
