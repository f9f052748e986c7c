"""Reading a spreadsheet export (.xlsx, or .csv as Excel and the survey tools save it) into a bounded table of cells.

Pure: bytes in, a Table (or a DeliveryError saying what to do) out. Every dimension is bounded before it
is read: the file, the uncompressed size of the workbook's parts (a zip bomb is refused before any XML is
parsed), the rows, the columns and each cell. Formula cells are kept as Formula, never evaluated.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from itertools import islice
from typing import Any, TypeAlias

from tempen_ingest.domain.platforms.delivery import DeliveryError

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UNCOMPRESSED_BYTES = 400 * 1024 * 1024  # all parts of a workbook together, as the zip directory declares them
MAX_ZIP_ENTRIES = 2_000
MAX_ROWS = 100_000
MAX_COLUMNS = 1_000  # Microsoft Forms allows 200 questions; a Likert question adds a column per statement
MAX_CELLS = 10_000_000  # rows times columns: what a sheet may hold in memory (about 80 MB of references)
MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
MAX_HEADER_CHARS = 2_000

SAVE_AS_UTF8 = "save it again as UTF-8 CSV (Excel: Save As > 'CSV UTF-8 (comma delimited)'), or export .xlsx"


@dataclass(frozen=True, slots=True)
class Formula:
    """A formula cell. Its cached result may be stale or absent, so it is never taken as an answer."""

    text: str


Cell: TypeAlias = str | int | float | bool | datetime | Formula | None


@dataclass(frozen=True, slots=True)
class TableRow:
    """One data row: its row (xlsx) or line (csv) number in the file, its cells, one per header column.

    `problem` says why the row does not fit the header (cells beyond its last named column).
    """

    number: int
    cells: tuple[Cell, ...]
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """The header row and the non-empty data rows below it."""

    header: tuple[str, ...]
    rows: tuple[TableRow, ...]
    header_row: int = 1


def read_xlsx(data: bytes, *, sheet: str | None = None, header_row: int = 1) -> Table:
    """The cells of one worksheet of an .xlsx workbook.

    A workbook with several sheets needs `sheet`: which one holds the responses is not guessed.

    Raises:
        DeliveryError: the file is not a readable workbook, is too large, or the sheet is missing or empty.
    """
    _check_size(data)
    _check_zip(data)
    from openpyxl import load_workbook  # imported here: only xlsx imports pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, SyntaxError) as exc:
        raise DeliveryError("file", "malformed", f"not a readable .xlsx workbook ({type(exc).__name__})") from None
    try:
        lines = _sheet_lines(workbook[_sheet_name(workbook.sheetnames, sheet)], header_row)
    except DeliveryError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, SyntaxError) as exc:
        # SyntaxError: ElementTree's ParseError, for a sheet whose XML is broken or cut short.
        raise DeliveryError("file", "malformed", f"the sheet cannot be read ({type(exc).__name__})") from None
    finally:
        workbook.close()
    return _table(lines, header_row)


def _sheet_lines(worksheet: Any, header_row: int) -> list[tuple[int, tuple[Cell, ...]]]:
    # Any: openpyxl types a read-only workbook's sheets as the writable kind; only iter_rows is used.
    header = next(worksheet.iter_rows(min_row=header_row, max_row=header_row, max_col=MAX_COLUMNS + 1), ())
    header_cells = tuple(_xlsx_cell(cell, header_row) for cell in header)
    width = len(_header_names(header_cells, header_row))
    # Cells are addressed by column letter, so a cell right of the header cannot shift the others:
    # reading only the named columns is safe, and it bounds every row's width.
    lines: list[tuple[int, tuple[Cell, ...]]] = [(header_row, header_cells[:width])]
    row_limit = min(MAX_ROWS, MAX_CELLS // max(width, 1))
    if not width:
        return lines
    rows = worksheet.iter_rows(min_row=header_row + 1, max_row=header_row + row_limit + 1, max_col=width)
    for number, cells in enumerate(rows, start=header_row + 1):
        if number - header_row > row_limit:
            raise DeliveryError("file", "too_large", f"more than {row_limit} rows of {width} columns; split the export")
        lines.append((number, tuple(_xlsx_cell(cell, number) for cell in cells)))
    return lines


def _sheet_name(names: list[str], sheet: str | None) -> str:
    if sheet is None:
        if len(names) != 1:
            raise DeliveryError(
                "sheet",
                "ambiguous",
                f"the workbook has {len(names)} sheets ({', '.join(names)}); name the one with the responses "
                "(columns.sheet in the mapping, or --sheet)",
            )
        return names[0]
    if sheet not in names:
        raise DeliveryError("sheet", "missing", f"no sheet {sheet!r} in the workbook (it has {', '.join(names)})")
    return sheet


def read_csv(data: bytes, *, header_row: int = 1) -> Table:
    """The cells of a CSV export: UTF-8 (with or without BOM) or UTF-16 with a BOM (Excel's "Unicode text").

    The separator is the one of `;`, tab and `,` that splits the first lines into the same number of cells;
    every cell is text.

    Raises:
        DeliveryError: the file is not readable text in a known encoding, or not a consistent CSV table.
    """
    _check_size(data)
    text = _decode(data)
    if "\x00" in text:
        raise DeliveryError("file", "malformed", f"the text holds NUL characters; {SAVE_AS_UTF8}")
    separator = _separator(text, header_row)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    lines: list[tuple[int, tuple[Cell, ...]]] = []
    record = 0
    cell_count = 0
    try:
        for cells in reader:
            record += 1
            if record < header_row:
                continue
            cell_count += len(cells)
            if len(lines) > MAX_ROWS or cell_count > MAX_CELLS:
                raise DeliveryError(
                    "file", "too_large", f"more than {MAX_ROWS} rows or {MAX_CELLS} cells; split the export"
                )
            if len(cells) > MAX_COLUMNS + 1:
                raise DeliveryError("file", "too_large", f"line {reader.line_num}: more than {MAX_COLUMNS} columns")
            lines.append((reader.line_num, tuple(_text_cell(cell, reader.line_num) for cell in cells)))
    except csv.Error as exc:  # a field beyond the csv module's limit, an unclosed quote
        raise DeliveryError("file", "malformed", f"not a readable CSV file (line {reader.line_num}): {exc}") from None
    return _table(lines, header_row, strict_width=True)


def _check_size(data: bytes) -> None:
    if len(data) > MAX_FILE_BYTES:
        raise DeliveryError(
            "file", "too_large", f"{len(data)} bytes; at most {MAX_FILE_BYTES} (split the export by period)"
        )
    if not data.strip():
        raise DeliveryError("file", "empty", "the file is empty")


def _check_zip(data: bytes) -> None:
    # zipfile stops reading an entry at the size its directory declares (and then checks the CRC), so the
    # declared sizes bound what openpyxl can inflate: checking them first defuses a zip bomb.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise DeliveryError(
            "file", "malformed", "not an .xlsx workbook (an .xls or .ods file? save it as .xlsx or UTF-8 CSV)"
        ) from None
    if len(entries) > MAX_ZIP_ENTRIES:
        raise DeliveryError("file", "too_large", f"the workbook has {len(entries)} parts; at most {MAX_ZIP_ENTRIES}")
    inflated = sum(entry.file_size for entry in entries)
    if inflated > MAX_UNCOMPRESSED_BYTES:
        raise DeliveryError(
            "file", "too_large", f"the workbook inflates to {inflated} bytes; at most {MAX_UNCOMPRESSED_BYTES}"
        )


def _xlsx_cell(cell: object, row: int) -> Cell:
    value = getattr(cell, "value", None)
    if getattr(cell, "data_type", None) == "f" or (type(value).__name__ == "ArrayFormula"):
        return Formula(str(getattr(value, "text", value)))
    if value is None or isinstance(value, bool | int | float | datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, time):
        return value.isoformat()
    return _text_cell(str(value), row)


def _text_cell(value: str, row: int) -> str:
    if len(value) > MAX_CELL_CHARS:
        raise DeliveryError(
            "file", "too_large", f"row {row}: a cell of {len(value)} characters; at most {MAX_CELL_CHARS}"
        )
    return value


def _decode(data: bytes) -> str:
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # cp1252 ("CSV (semikolonavgränsad)" in Swedish Excel) cannot be told reliably from other 8-bit
        # encodings, and a wrong guess turns å, ä, ö into other letters: refuse rather than guess.
        raise DeliveryError("file", "encoding", f"the file is not UTF-8 or UTF-16 text; {SAVE_AS_UTF8}") from None


def _separator(text: str, header_row: int) -> str:
    """The separator that splits the header into most cells and most of the first lines into as many."""
    sample = "".join(text[: 256 * 1024].splitlines(keepends=True)[header_row - 1 :])[: 64 * 1024]
    best: tuple[int, int, str] | None = None
    for separator in (";", "\t", ","):  # ties: Swedish Excel's ";" first
        try:
            rows = list(islice(csv.reader(io.StringIO(sample, newline=""), delimiter=separator), 20))
        except csv.Error:
            continue
        complete = rows[:-1] if len(rows) > 1 and not sample.endswith(("\n", "\r")) else rows
        if not complete or len(complete[0]) < 2:
            continue
        fitting = sum(1 for row in complete if len(row) == len(complete[0]))
        score = (fitting * 2 > len(complete), len(complete[0]))
        if score[0] and (best is None or score > best[:2]):
            best = (*score, separator)
    if best is None:
        raise DeliveryError(
            "file", "malformed", "cannot tell the separator: the first lines do not split alike by ; tab or ,"
        )
    return best[2]


def _header_names(cells: tuple[Cell, ...], number: int) -> list[str]:
    header = list(cells)
    while header and not _filled(header[-1]):
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise DeliveryError("file", "too_large", f"more than {MAX_COLUMNS} columns")
    names: list[str] = []
    for cell in header:
        if isinstance(cell, Formula):
            raise DeliveryError("file", "malformed", f"row {number}: a header cell is a formula ({cell.text})")
        name = "" if cell is None else (cell.isoformat() if isinstance(cell, datetime) else str(cell)).strip()
        if len(name) > MAX_HEADER_CHARS:
            raise DeliveryError(
                "file", "too_large", f"a header cell of {len(name)} characters; at most {MAX_HEADER_CHARS}"
            )
        names.append(name)
    return names


def _table(lines: list[tuple[int, tuple[Cell, ...]]], header_row: int, *, strict_width: bool = False) -> Table:
    if not lines or not any(_filled(cell) for cell in lines[0][1]):
        raise DeliveryError(
            "file", "empty", f"row {header_row}, the header row, is empty (columns.header_row names another)"
        )
    if len(lines) - 1 > MAX_ROWS:
        raise DeliveryError("file", "too_large", f"more than {MAX_ROWS} rows; split the export")
    number, header_cells = lines[0]
    names = _header_names(header_cells, number)
    width = len(names)
    rows: list[TableRow] = []
    for row_number, cells in lines[1:]:
        if not any(_filled(cell) for cell in cells):
            continue
        fitted = tuple(cells[:width]) + (None,) * (width - len(cells))
        # In a CSV file a row of another width has its cells under the wrong headings (a stray separator).
        misfit = strict_width and len(cells) != len(header_cells)
        problem = f"{len(cells)} cells; the header has {len(header_cells)}" if misfit else None
        rows.append(TableRow(row_number, fitted, problem))
    return Table(header=tuple(names), rows=tuple(rows), header_row=number)


def _filled(cell: Cell) -> bool:
    if cell is None:
        return False
    if isinstance(cell, str):
        return bool(cell.strip())
    return True
