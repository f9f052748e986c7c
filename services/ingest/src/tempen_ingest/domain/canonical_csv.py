"""tempen's own CSV format for submissions: a header row naming `submission_id`, `unit` and `submitted_at`
(and, if they vary by row, `tenant`, `instrument`, `respondent`), then one column per item holding a
whole number. It is read here and nowhere else: ingest's API takes it as `text/csv`, and
`tempen submissions import` reads a file with it before sending.

Pure: bytes in, rows out. A row that cannot become a submission carries its reasons instead, so one bad
row never stops the rest; a file that is not this format at all raises `CsvFileError`.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

RESERVED_COLUMNS = ("tenant", "instrument", "unit", "submission_id", "submitted_at", "respondent")
REQUIRED_COLUMNS = ("submission_id", "unit", "submitted_at")
# A submission answers at most 500 items (CanonicalSubmission), beside the reserved columns.
MAX_COLUMNS = 500 + len(RESERVED_COLUMNS)


class CsvFileError(ValueError):
    """The file as a whole is not canonical CSV; the message says what to fix."""


class TooManyRowsError(CsvFileError):
    """More rows than the reader was allowed to hold."""


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One data row: the submission it holds (answers that are not whole numbers left out) and why it
    cannot be sent as it is, if anything: (field, reason) pairs."""

    line: int  # the line the row starts on; the header is line 1
    submission: dict[str, Any] | None
    errors: tuple[tuple[str, str], ...] = ()

    @property
    def submission_id(self) -> str | None:
        sid = self.submission.get("submission_id") if self.submission else None
        return sid if isinstance(sid, str) else None


def read_canonical_csv(data: bytes, *, max_rows: int | None = None) -> Iterator[CsvRow]:
    """Every non-blank data row of `data`, in order.

    Bounded for an API that anyone with a token can post to: blank lines count toward `max_rows` (a body
    of nothing but line breaks is refused at the limit, not read to its end), the header may name at
    most `MAX_COLUMNS` columns, each once, and the text is decoded as it is read, never copied whole.

    Raises:
        CsvFileError: not UTF-8, not CSV (a quote never closed), a header without the required columns,
            with a column named twice or with more than `MAX_COLUMNS` columns.
        TooManyRowsError: more than `max_rows` lines below the header (raised when the line past the
            limit is reached, so a caller that collects the rows holds at most `max_rows` of them).
    """
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    try:
        header_line = text.readline(1 << 20)
        delimiter = max((",", ";", "\t"), key=header_line.count)
        # strict: a quote never closed would otherwise swallow the rest of the file into one cell, silently.
        reader = csv.reader(itertools.chain((header_line,), text), delimiter=delimiter, strict=True)
        header = _header(reader)
        lines = 0
        while True:
            line = reader.line_num + 1
            try:
                cells = next(reader, None)
            except csv.Error as exc:
                raise CsvFileError(f"line {line} is not CSV: {exc}") from None
            if cells is None:
                return
            lines += 1
            if max_rows is not None and lines > max_rows:
                raise TooManyRowsError(f"more than {max_rows} rows; send the file in parts of at most {max_rows}")
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                yield CsvRow(line, None, (("(row)", f"{len(cells)} cells; the header has {len(header)}"),))
                continue
            yield _row(line, dict(zip(header, (cell.strip() for cell in cells), strict=True)))
    except UnicodeDecodeError:
        raise CsvFileError("the file is not UTF-8 text; save it as UTF-8") from None


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        raise CsvFileError(f"the header row is not CSV: {exc}") from None
    if len(header) > MAX_COLUMNS:
        raise CsvFileError(
            f"the header has {len(header)} columns; at most {MAX_COLUMNS} (500 items and {', '.join(RESERVED_COLUMNS)})"
        )
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise CsvFileError(f"the header names {', '.join(repeated)} more than once; which one holds the answer?")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise CsvFileError(f"the CSV header lacks {', '.join(missing)}")
    return header


def _row(line: int, record: dict[str, str]) -> CsvRow:
    submission: dict[str, Any] = {k: record[k] for k in RESERVED_COLUMNS if record.get(k)}
    answers: dict[str, int] = {}
    errors: list[tuple[str, str]] = []
    for name, value in record.items():
        if name in RESERVED_COLUMNS or not name or not value:
            continue
        number = whole_number(value)
        if number is None:
            errors.append((f"answers.{name}", "not a whole number"))
        else:
            answers[name] = number
    submission["answers"] = answers
    return CsvRow(line, submission, tuple(errors))


def whole_number(value: str) -> int | None:
    """`value` as a whole number, also written as a decimal ("4.0", "4,0" as Swedish spreadsheets save
    it); None if it is not one."""
    try:
        return int(value)
    except ValueError:
        pass
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        return None
    return int(number) if number.is_integer() else None
