"""How `tempen submissions import` reads files into rows, and what --dry-run concludes, without a server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tempen.commands.submissions import FileProblemError, RowError, check_rows, read_rows
from tempen_ingest.domain.platforms import skip_detail
from tempen_ingest.mappings import load_mappings
from tempen_shared.tenancy.loader import load_catalog

CONFIG = Path(__file__).parents[2] / "fixtures" / "config"
NOW = datetime.now(UTC)
STAMP = (NOW - timedelta(days=1)).replace(microsecond=0).isoformat()
CATALOG = load_catalog(CONFIG)
LIMESURVEY = load_mappings(CONFIG, CATALOG).get("testkommun", "test-puls-limesurvey")


def test_canonical_csv_rows_carry_their_line_and_blank_cells_are_unanswered_items() -> None:
    data = (
        "\ufeffsubmission_id;unit;submitted_at;respondent;q1;q2;q3\n"
        f"a;grupp-a1;{STAMP};emp-1;4;;6\n"
        "\n"
        f"b;grupp-a1;{STAMP};;4,0;x;\n"
    ).encode()
    first, second = read_rows(data, "csv", instrument="test-puls", now=NOW)
    assert first.number == 2
    assert first.submission == {
        "instrument": "test-puls",
        "unit": "grupp-a1",
        "submission_id": "a",
        "submitted_at": STAMP,
        "respondent": "emp-1",
        "answers": {"q1": 4, "q3": 6},
    }
    assert second.number == 4
    assert second.errors == (RowError(4, "b", "answers.q2", "not a whole number"),)


def test_a_csv_without_the_required_columns_is_refused_as_a_whole() -> None:
    with pytest.raises(FileProblemError, match="submitted_at"):
        read_rows(b"submission_id,unit,q1\na,b,1\n", "csv", now=NOW)


def test_a_row_with_the_wrong_number_of_cells_is_rejected_on_its_own() -> None:
    (row,) = read_rows(b"submission_id,unit,submitted_at,q1\na,b\n", "csv", now=NOW)
    assert row.errors[0].field == "(row)"


def test_json_and_ndjson_rows_are_numbered_by_position_and_line() -> None:
    items = [{"submission_id": "a"}, "not an object"]
    json_rows = read_rows(json.dumps({"submissions": items}).encode(), "json", now=NOW)
    ndjson_rows = read_rows(b'{"submission_id": "a"}\n\n{broken\n', "ndjson", instrument="test-puls", now=NOW)
    assert [(r.number, bool(r.errors)) for r in json_rows] == [(1, False), (2, True)]
    assert [(r.number, bool(r.errors)) for r in ndjson_rows] == [(1, False), (3, True)]
    assert ndjson_rows[0].submission == {"submission_id": "a", "instrument": "test-puls"}


def test_a_limesurvey_response_that_cannot_be_mapped_is_reported_on_its_row_and_the_rest_still_read() -> None:
    assert LIMESURVEY is not None
    local = (NOW - timedelta(days=1)).replace(tzinfo=None, microsecond=0).isoformat(sep=" ")
    export = {
        "responses": [
            {"id": "1", "submitdate": local, "token": "t1", "enhet": "grupp-a1", "G01Q01": "A3"},
            {"id": "2", "submitdate": local, "token": "t2", "enhet": "grupp-a1", "G01Q01": "Z9"},
            {"id": "3", "submitdate": "", "token": "t3", "enhet": "grupp-a1", "G01Q01": "A3"},
        ]
    }
    rows = read_rows(json.dumps(export).encode(), "limesurvey-json", mapping=LIMESURVEY, now=NOW)
    assert [(r.number, r.submission_id, r.errors[0].field if r.errors else None, r.skipped) for r in rows] == [
        (1, "123456:1", None, None),
        (2, None, "G01Q01", None),
        (3, None, None, f"response 3: unfinished: {skip_detail('unfinished')}"),
    ]


def test_limesurvey_csv_rows_are_read_one_by_one_with_their_line() -> None:
    assert LIMESURVEY is not None
    local = (NOW - timedelta(days=1)).replace(tzinfo=None, microsecond=0).isoformat(sep=" ")
    data = (
        '"id";"submitdate";"token";"enhet";"G01Q01";"G01Q02[SQ001]"\n'
        f'"1";"{local}";"t1";"grupp-b1";"A2";"A5"\n'
        f'"2";"{local}";"t2";"";"A2";"A5"\n'
    ).encode("utf-8-sig")
    first, second = read_rows(data, "limesurvey-csv", mapping=LIMESURVEY, now=NOW)
    assert first.submission is not None
    assert first.submission["answers"] == {"q1": 2, "q2": 5}
    assert (second.number, second.errors[0].field) == (3, "enhet")


def test_dry_run_applies_ingests_validation_and_counts_repeated_ids_once() -> None:
    rows = read_rows(
        "\n".join(
            json.dumps(line)
            for line in [
                {"submission_id": "a", "unit": "grupp-a1", "submitted_at": STAMP, "answers": {"q1": 5}},
                {"submission_id": "a", "unit": "grupp-a1", "submitted_at": STAMP, "answers": {"q1": 4}},
                {"submission_id": "b", "unit": "grupp-z", "submitted_at": STAMP, "answers": {"q1": 0}},
            ]
        ).encode(),
        "ndjson",
        instrument="test-puls",
        now=NOW,
    )
    report = check_rows(rows, tenant="testkommun", catalog=CATALOG, now=NOW)
    assert dict(report.counts) == {"valid": 1, "repeated in file": 1, "rejected": 1}
    assert [(e.row, e.field) for e in report.errors] == [(3, "unit"), (3, "answers.q1")]
