"""Canonical CSV as ingest reads it (tempen_ingest.domain.canonical_csv): its API's `text/csv` and
`tempen submissions import` both read files here."""

from __future__ import annotations

import pytest

from tempen_ingest.domain.canonical_csv import CsvFileError, TooManyRowsError, read_canonical_csv, whole_number

HEADER = "submission_id,unit,submitted_at,q1\n"


def test_a_row_starts_on_its_own_line_even_after_a_cell_spanning_lines() -> None:
    data = (HEADER + '"a\nb",grupp-a1,2026-01-05T09:00:00+01:00,3\ns-2,grupp-a1,2026-01-05T09:00:00+01:00,4\n').encode()
    rows = list(read_canonical_csv(data))
    assert [(r.line, r.submission_id) for r in rows] == [(2, "a\nb"), (4, "s-2")]


def test_a_quote_never_closed_refuses_the_file_naming_its_line() -> None:
    data = (HEADER + 's-1,grupp-a1,2026-01-05T09:00:00+01:00,3\n"s-2,grupp-a1\n').encode()
    with pytest.raises(CsvFileError, match="line 3"):
        list(read_canonical_csv(data))


def test_more_rows_than_allowed_stop_at_the_first_one_past_the_limit() -> None:
    data = (HEADER + "".join(f"s-{n},grupp-a1,2026-01-05T09:00:00+01:00,3\n" for n in range(5))).encode()
    rows = read_canonical_csv(data, max_rows=3)
    assert [next(rows).submission_id for _ in range(3)] == ["s-0", "s-1", "s-2"]
    with pytest.raises(TooManyRowsError, match="at most 3"):
        next(rows)


@pytest.mark.parametrize(
    ("text", "number"),
    [("4", 4), ("4.0", 4), ("4,0", 4), (" 4 ", 4), ("4,5", None), ("fyra", None), ("nan", None), ("inf", None)],
)
def test_whole_numbers_also_as_spreadsheets_save_them(text: str, number: int | None) -> None:
    assert whole_number(text) == number


def test_blank_lines_count_toward_the_limit_so_a_flood_of_them_is_refused_early() -> None:
    data = (HEADER + "\r\n" * 1_000_000).encode()
    with pytest.raises(TooManyRowsError, match="at most 10"):
        list(read_canonical_csv(data, max_rows=10))


def test_a_column_named_twice_refuses_the_file_rather_than_keep_one_answer() -> None:
    data = b"submission_id,unit,submitted_at,q1,q1\ns-1,grupp-a1,2026-01-05T09:00:00+01:00,3,4\n"
    with pytest.raises(CsvFileError, match="q1 more than once"):
        list(read_canonical_csv(data))


def test_a_header_wider_than_any_submission_is_refused_before_any_row_is_read() -> None:
    items = ",".join(f"q{n}" for n in range(600))
    data = f"submission_id,unit,submitted_at,{items}\n".encode() + b"s-1,grupp-a1,x" + b",1" * 600 + b"\n"
    with pytest.raises(CsvFileError, match="at most 506"):
        list(read_canonical_csv(data))


def test_text_that_is_not_utf_8_is_refused_wherever_it_is_in_the_file() -> None:
    data = (HEADER + "s-1,grupp-a1,2026-01-05T09:00:00+01:00,3\n").encode() + "s-å,grupp-a1,x,1\n".encode("latin-1")
    with pytest.raises(CsvFileError, match="UTF-8"):
        list(read_canonical_csv(data))
