"""`tempen submissions import` with Excel and CSV exports, as far as it goes without a running ingest:
which mapping it takes, and what `--dry-run` reports for each row."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tempen.cli import main
from tests.ingest.spreadsheets import ms_forms_rows, netigate_csv, xlsx


@pytest.fixture
def config(fixture_config: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "config"
    shutil.copytree(fixture_config, copy)
    return copy


@pytest.fixture(autouse=True)
def _wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def test_an_xlsx_export_without_a_mapping_is_refused_saying_how_to_get_one(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "enkat.xlsx"
    export.write_bytes(xlsx(ms_forms_rows(2)))

    code = main(["submissions", "import", "testkommun", str(export), "--dry-run", "--config", str(config)])

    assert code == 2
    assert "tempen mappings suggest" in capsys.readouterr().err


def test_a_limesurvey_mapping_is_refused_for_a_csv_export_pointing_to_its_format(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "svar.csv"
    export.write_bytes(netigate_csv())
    argv = ["submissions", "import", "testkommun", str(export), "--mapping", "test-puls-limesurvey"]

    assert main([*argv, "--dry-run", "--config", str(config)]) == 2
    assert "--format limesurvey-csv" in capsys.readouterr().err


def test_a_dry_run_reports_each_row_by_its_excel_row_number(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ms_forms_rows(4)
    rows[2][5] = "Grupp Z"  # a unit the suggestion never saw: not in the units table
    rows[3][6:9] = [None, None, None]
    export = tmp_path / "enkat.xlsx"
    export.write_bytes(xlsx(ms_forms_rows(4)))
    assert main(["mappings", "suggest", "testkommun", str(export), "--config", str(config), "--no-input"]) == 0
    export.write_bytes(xlsx(rows))
    capsys.readouterr()

    argv = ["submissions", "import", "testkommun", str(export), "--mapping", "testkommun-enkat", "--dry-run"]
    code = main([*argv, "--config", str(config)])

    out = capsys.readouterr().out
    assert code == 1
    assert "Dry run, nothing sent: 2 valid, 1 rejected, 1 skipped" in out
    assert "testkommun-enkat:2" in out
    assert "unknown_unit_key" in out
    assert "skipped row 4: response 3: no_mapped_answers" in out
