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
