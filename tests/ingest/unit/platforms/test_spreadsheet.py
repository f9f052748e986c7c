# Exports laid out as Microsoft Forms and Netigate lay them out: tests/ingest/spreadsheets.py builds them,
# tests/ingest/fixtures/platforms/README.md says where each layout comes from.
from __future__ import annotations

import codecs
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from tempen_ingest.domain.platforms import (
    DeliveryError,
    ExportRow,
    PlatformMapping,
    normalise_heading,
    parse_spreadsheet,
    read_csv,
    read_xlsx,
)
from tests.ingest.spreadsheets import (
    COMMENT,
    LABELS,
    MS_FORMS_EN,
    Q1,
    Q2,
    Q3,
    UNIT_QUESTION,
    ms_forms_rows,
    ms_forms_xlsx,
    netigate_csv,
    wall_time,
    xlsx,
)

STOCKHOLM = ZoneInfo("Europe/Stockholm")
VALUES = {label: number for number, label in enumerate(LABELS, start=1)} | {"Vet ej": 6}


def mapping(**overrides: Any) -> PlatformMapping:
    spec: dict[str, Any] = {
        "id": "testkommun-medarbetarenkat",
        "platform": "spreadsheet",
        "form_id": "enkat-2025",
        "tenant": "testkommun",
        "instrument": "test-puls",
        "columns": {"response_id": "ID", "submitted_at": "Slutförandetid"},
        "unit": {"field": UNIT_QUESTION, "units": {"Grupp A1": "grupp-a1", "Grupp B1": "grupp-b1"}},
        "questions": {Q1: "q1", Q2: "q2", Q3: "q3"},
        "values": VALUES,
        "free_text": [COMMENT],
    }
    spec.update(overrides)
    return PlatformMapping.model_validate(spec)


def netigate_mapping(**columns: Any) -> PlatformMapping:
    return mapping(
        columns={"response_id": "Respondent ID", "submitted_at": "Svarsdatum", **columns},
        unit={"field": "Enhet"},
    )


def submissions(rows: tuple[ExportRow, ...]) -> list[tuple[str, str, dict[str, int]]]:
    return [(r.submission.submission_id, r.submission.unit, dict(r.submission.answers)) for r in rows if r.submission]


def errors(rows: tuple[ExportRow, ...]) -> list[tuple[int, str, str]]:
    return [(r.number, r.error.field, r.error.reason) for r in rows if r.error]


def test_a_microsoft_forms_workbook_becomes_one_submission_per_row_with_labels_as_numbers() -> None:
    rows = parse_spreadsheet(read_xlsx(ms_forms_xlsx(3)), mapping())

    assert submissions(rows) == [
        ("enkat-2025:1", "grupp-b1", {"q1": 2, "q2": 3, "q3": 4}),
        ("enkat-2025:2", "grupp-a1", {"q1": 3, "q2": 4, "q3": 5}),
        ("enkat-2025:3", "grupp-b1", {"q1": 4, "q2": 5, "q3": 1}),
    ]
    assert [r.number for r in rows] == [2, 3, 4]
    first = rows[0].submission
    assert first is not None
    assert first.submitted_at == datetime(2025, 3, 10, 9, 1, tzinfo=STOCKHOLM)  # Excel dates carry no zone
    assert first.respondent is None


def test_headings_match_without_regard_to_case_punctuation_or_non_breaking_spaces() -> None:
    header = [h.upper() for h in ms_forms_rows(1)[0]]
    header[6] = "Min\u00a0chef   visar uppskattning"  # NBSP, runs of spaces, no full stop
    rows = parse_spreadsheet(read_xlsx(xlsx([header, ms_forms_rows(1)[1]])), mapping())

    assert submissions(rows) == [("enkat-2025:1", "grupp-b1", {"q1": 2, "q2": 3, "q3": 4})]
    assert normalise_heading("  Är du NÖJD?\u00a0") == "är du nöjd"


def test_an_answer_label_the_mapping_does_not_know_rejects_that_row_only() -> None:
    data = ms_forms_rows(3)
    data[2][7] = "Stämmer nästan"
    rows = parse_spreadsheet(read_xlsx(xlsx(data)), mapping())

    assert errors(rows) == [(3, Q2, "unmapped_answer")]
    assert rows[1].error is not None
    assert rows[1].error.response_id == "2"
    assert [sid for sid, _unit, _answers in submissions(rows)] == ["enkat-2025:1", "enkat-2025:3"]


def test_a_unit_missing_from_the_units_table_rejects_the_row() -> None:
    data = ms_forms_rows(2)
    data[1][5] = "Grupp C9"
    rows = parse_spreadsheet(read_xlsx(xlsx(data)), mapping())

    assert errors(rows) == [(2, UNIT_QUESTION, "unknown_unit_key")]


def test_a_column_the_mapping_names_but_the_file_lacks_refuses_the_whole_file_and_lists_the_columns() -> None:
    with pytest.raises(DeliveryError) as refused:
        parse_spreadsheet(read_xlsx(ms_forms_xlsx(2)), mapping(questions={Q1: "q1", "Jag trivs": "q2"}))

    assert refused.value.field == "Jag trivs"
    assert refused.value.reason == "missing_column"
    assert "Slutförandetid" in refused.value.detail  # the columns it does have


def test_a_heading_found_twice_is_refused_rather_than_either_column_taken() -> None:
    data = ms_forms_rows(1)
    data[0][9] = Q1.upper()
    with pytest.raises(DeliveryError, match="ambiguous_column"):
        parse_spreadsheet(read_xlsx(xlsx(data)), mapping())


def test_the_english_layout_with_email_addresses_gives_each_submission_its_respondent() -> None:
    header = [*MS_FORMS_EN, UNIT_QUESTION, Q1, Q2, Q3]
    row = [7, wall_time(2025, 3, 3, 8), wall_time(2025, 3, 3, 8, 5), "anna@testkommun.example", "Anna", None]
    data: list[list[Any]] = [header, [*row, "Grupp A1", "Stämmer mycket bra", 4, ""]]
    rows = parse_spreadsheet(
        read_xlsx(xlsx(data)),
        mapping(columns={"response_id": "ID", "submitted_at": "Completion time"}, respondent_field="Email"),
    )

    assert submissions(rows) == [("enkat-2025:7", "grupp-a1", {"q1": 5, "q2": 4})]
    assert rows[0].submission is not None
    assert rows[0].submission.respondent == "anna@testkommun.example"


def test_the_anonymous_marker_of_an_anonymous_form_is_no_respondent() -> None:
    data = ms_forms_rows(2)
    data[2][3] = "eva@testkommun.example"
    rows = parse_spreadsheet(read_xlsx(xlsx(data)), mapping(respondent_field="E-post"))

    assert [r.submission.respondent for r in rows if r.submission] == [None, "eva@testkommun.example"]


def test_a_semicolon_csv_from_swedish_excel_with_a_byte_order_mark_is_read_with_local_times() -> None:
    rows = parse_spreadsheet(read_csv(netigate_csv()), netigate_mapping())

    assert submissions(rows) == [
        ("enkat-2025:9001", "grupp-a1", {"q1": 4, "q2": 4, "q3": 3}),
        ("enkat-2025:9002", "grupp-b1", {"q1": 5, "q2": 5, "q3": 6}),
        ("enkat-2025:9003", "grupp-a1", {"q1": 1, "q3": 1}),
    ]
    assert rows[0].submission is not None
    assert rows[0].submission.submitted_at == datetime(2025, 3, 11, 10, 7, tzinfo=STOCKHOLM)


@pytest.mark.parametrize(
    ("separator", "encoding"),
    [(",", "utf-8"), ("\t", "utf-16"), (";", "utf-16-be")],
    ids=["comma-utf8", "excel-unicode-text", "utf16-big-endian"],
)
def test_other_separators_and_utf16_with_a_byte_order_mark_read_the_same(separator: str, encoding: str) -> None:
    data = netigate_csv(separator=separator, encoding=encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data

    rows = parse_spreadsheet(read_csv(data), netigate_mapping())

    assert [sid for sid, _unit, _answers in submissions(rows)] == [
        "enkat-2025:9001",
        "enkat-2025:9002",
        "enkat-2025:9003",
    ]


def test_a_csv_in_windows_1252_is_refused_with_how_to_save_it_as_utf8() -> None:
    with pytest.raises(DeliveryError) as refused:
        read_csv(netigate_csv(encoding="cp1252"))

    assert refused.value.reason == "encoding"
    assert "UTF-8 CSV" in refused.value.detail


def test_a_csv_row_with_a_stray_separator_is_rejected_not_read_under_the_wrong_headings() -> None:
    lines = netigate_csv().decode("utf-8-sig").splitlines()
    lines[2] = lines[2].replace("Stämmer mycket bra", "Stämmer mycket; bra")
    rows = parse_spreadsheet(read_csv("\r\n".join(lines).encode()), netigate_mapping())

    assert errors(rows) == [(3, "(row)", "misaligned")]
    assert len(submissions(rows)) == 2


def test_dates_in_another_form_are_refused_until_the_mapping_names_their_format() -> None:
    text = netigate_csv().decode("utf-8-sig").replace("2025-03-11 10:07", "3/11/2025 10:07 AM")

    rows = parse_spreadsheet(read_csv(text.encode()), netigate_mapping())
    assert errors(rows) == [(2, "Svarsdatum", "malformed")]
    assert rows[0].error is not None
    assert "date_format" in rows[0].error.detail

    text = text.replace("2025-03-11 11:20", "3/11/2025 11:20 AM").replace("2025-03-12 08:04", "3/12/2025 8:04 AM")
    rows = parse_spreadsheet(read_csv(text.encode()), netigate_mapping(date_format="%m/%d/%Y %I:%M %p"))
    assert errors(rows) == []
    assert rows[0].submission is not None
    assert rows[0].submission.submitted_at == datetime(2025, 3, 11, 10, 7, tzinfo=STOCKHOLM)


def test_a_number_where_the_submit_time_belongs_is_refused() -> None:
    data = ms_forms_rows(1)
    data[1][2] = 45726.4  # an Excel date serial in a cell not formatted as a date
    rows = parse_spreadsheet(read_xlsx(xlsx(data)), mapping())

    assert errors(rows) == [(2, "Slutförandetid", "malformed")]


def test_an_offset_in_a_text_time_is_kept() -> None:
    text = netigate_csv().decode("utf-8-sig").replace("2025-03-11 10:07", "2025-03-11T09:07:00Z")
    rows = parse_spreadsheet(read_csv(text.encode()), netigate_mapping())

    assert rows[0].submission is not None
    assert rows[0].submission.submitted_at == datetime(2025, 3, 11, 10, 7, tzinfo=STOCKHOLM)


def test_a_row_with_no_mapped_answer_is_skipped_with_its_reason() -> None:
    data = ms_forms_rows(2)
    data[2][6:9] = [None, None, None]
    rows = parse_spreadsheet(read_xlsx(xlsx(data)), mapping())

    assert [r.skipped for r in rows] == [None, "response 2: no_mapped_answers"]


def test_multiple_choice_answers_are_split_on_the_semicolon_microsoft_forms_writes() -> None:
    data = ms_forms_rows(1)
    data[0].append("Vad stöttar dig?")
    data[1].append("Chefen;Kollegorna;")
    options = {"options": {"Chefen": "q2", "Kollegorna": "q3", "HR": "q4"}}
    rows = parse_spreadsheet(read_xlsx(xlsx(data)), mapping(questions={Q1: "q1", "Vad stöttar dig?": options}))

    assert submissions(rows) == [("enkat-2025:1", "grupp-b1", {"q1": 2, "q2": 1, "q3": 1})]


def test_an_export_without_an_id_column_needs_an_explicit_opt_in() -> None:
    with pytest.raises(ValidationError, match="id_from_content"):
        mapping(columns={"submitted_at": "Slutförandetid"})


def test_content_ids_are_stable_across_runs_and_column_order_and_tell_identical_rows_apart() -> None:
    opted_in = mapping(columns={"submitted_at": "Slutförandetid", "id_from_content": True})
    data = ms_forms_rows(2)
    data.append(list(data[2]))  # two people who answered alike in the same minute
    first = submissions(parse_spreadsheet(read_xlsx(xlsx(data)), opted_in))
    again = submissions(parse_spreadsheet(read_xlsx(xlsx(data)), opted_in))
    moved = [[row[9], *row[:9]] for row in data]  # the comment column moved to the front
    reordered = submissions(parse_spreadsheet(read_xlsx(xlsx(moved)), opted_in))

    ids = [sid for sid, _unit, _answers in first]
    assert len(set(ids)) == 3
    assert ids[1].endswith("-1")
    assert ids[2].endswith("-2")
    assert ids[1].rsplit("-", 1)[0] == ids[2].rsplit("-", 1)[0]
    assert first == again == reordered


def test_a_formula_in_a_mapped_column_rejects_the_row_and_elsewhere_is_ignored() -> None:
    data = ms_forms_rows(2)
    data[1][6] = '=IF(TRUE,"Stämmer ganska bra","")'
    data[2][9] = "=1+1"
    rows = parse_spreadsheet(read_xlsx(xlsx(data)), mapping())

    assert errors(rows) == [(2, Q1, "formula")]
    assert [sid for sid, _unit, _answers in submissions(rows)] == ["enkat-2025:2"]


def test_a_spreadsheet_mapping_needs_columns_and_takes_no_matrix_rows() -> None:
    with pytest.raises(ValidationError, match="needs columns"):
        mapping(columns=None)
    with pytest.raises(ValidationError, match="not rows"):
        mapping(questions={Q1: {"rows": {"a": "q1"}}})
