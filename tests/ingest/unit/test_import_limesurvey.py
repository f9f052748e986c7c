"""`tempen submissions import` of a LimeSurvey export: the survey it is of, and its columns, are checked
before anything is read or sent (run with --dry-run against the test configuration: nothing is sent).

The file names are LimeSurvey's own: the admin export downloads as results-survey<ID>.csv (CsvWriter.php,
'results-survey' . $survey->id . '.csv'). The test tenant's mapping test-puls-limesurvey is for survey 123456.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from tempen.cli import main

CONFIG = Path(__file__).parents[2] / "fixtures" / "config"
HEADER = '"id";"submitdate";"lastpage";"startlanguage";"seed";"token";"enhet";"G01Q01";"G01Q02[SQ001]";"G01Q02[SQ002]"'
ROW = '"1";"2026-03-04 09:12:45";"2";"sv";"1";"tok-a";"grupp-a1";"A4";"A5";"A6"'


@pytest.fixture(autouse=True)
def _wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def export(path: Path, header: str = HEADER, row: str = ROW) -> Path:
    path.write_bytes(("\ufeff" + header + "\r\n" + row + "\r\n\r\n").encode())
    return path


def run(path: Path, *extra: str) -> int:
    return main(
        ["submissions", "import", "testkommun", str(path), "--format", "limesurvey-csv",
         "--mapping", "test-puls-limesurvey", "--dry-run", "--config", str(CONFIG), *extra]
    )  # fmt: skip


def test_an_export_of_another_survey_is_refused_naming_both_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(export(tmp_path / "results-survey654321.csv"))

    err = capsys.readouterr().err
    assert code == 2
    assert "survey 654321" in err
    assert "123456" in err
    assert "Dry run" not in capsys.readouterr().out


def test_an_export_whose_name_does_not_say_its_survey_needs_it_confirmed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unnamed = export(tmp_path / "export.csv")

    refused = run(unnamed)
    err = " ".join(capsys.readouterr().err.split())
    confirmed = run(unnamed, "--survey-id", "123456")
    out = capsys.readouterr().out

    assert refused == 2
    assert "does not say which LimeSurvey survey" in err
    assert "--survey-id 123456" in err
    assert confirmed != 2
    assert "Dry run, nothing sent" in out


def test_a_survey_id_given_that_is_not_the_mappings_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(export(tmp_path / "export.csv"), "--survey-id", "999999")

    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert "--survey-id 999999 is not the survey of mapping 'test-puls-limesurvey', which is survey 123456" in err


def test_a_browsers_repeat_download_name_still_carries_the_survey(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(export(tmp_path / "results-survey123456 (1).csv"))

    assert code != 2
    assert "Dry run, nothing sent" in capsys.readouterr().out


def test_a_file_with_none_of_the_mapped_question_columns_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = export(
        tmp_path / "results-survey123456.csv",
        header='"id";"submitdate";"token";"enhet";"Q1";"Q2"',
        row='"1";"2026-03-04 09:12:45";"tok-a";"grupp-a1";"A4";"A5"',
    )

    code = run(other)

    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert "none of mapping 'test-puls-limesurvey''s question columns (G01Q01, G01Q02[SQ001], G01Q02[SQ002])" in err


def test_mapped_columns_missing_from_the_file_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    partial = export(
        tmp_path / "results-survey123456.csv",
        header='"id";"submitdate";"token";"enhet";"G01Q01"',
        row='"1";"2026-03-04 09:12:45";"tok-a";"grupp-a1";"A4"',
    )

    code = run(partial)

    captured = capsys.readouterr()
    assert code != 2
    assert "Mapped columns missing from results-survey123456.csv: G01Q02[SQ001], G01Q02[SQ002]" in " ".join(
        captured.err.split()
    )
    assert "Dry run, nothing sent" in captured.out


def test_a_saved_remotecontrol_answer_is_imported_without_decoding_it_by_hand(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = export(tmp_path / "plain.csv").read_bytes()
    saved = tmp_path / "export_responses.json"
    saved.write_text(json.dumps({"id": 1, "result": base64.b64encode(exported).decode(), "error": None}))
    bare = tmp_path / "export_responses.b64"
    bare.write_bytes(base64.encodebytes(exported))

    codes = [run(path, "--survey-id", "123456") for path in (saved, bare)]

    out = capsys.readouterr().out
    assert codes == [0, 0]
    assert out.count("Dry run, nothing sent: 1 valid") == 2


def test_a_remotecontrol_answer_with_a_status_instead_of_an_export_is_refused_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "export_responses.json"
    saved.write_text(json.dumps({"id": 1, "result": {"status": "No Data, could not get max id."}, "error": None}))

    code = run(saved, "--survey-id", "123456")

    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert "LimeSurvey answered 'No Data, could not get max id.' instead of an export" in err
    assert "nothing was imported" in err
