"""Spreadsheet exports (Microsoft Forms, Netigate, Google Forms, a consultancy's Excel file): a row per response.

The file is read into a Table by `sheets`; this module applies a `spreadsheet` mapping to it. Columns are
found by their heading, written in the mapping as in the file (a question's text, or a code such as `Q3`)
and matched after `normalise_heading`: case, punctuation, spacing and non-breaking spaces do not matter;
å, ä and ö are letters like any other. Every row becomes a submission, a row error (the row, the column
and the reason), or a skipped row with the reason; nothing in a mapped column is dropped without a word.
Dates without an offset (Excel date cells, Swedish Excel's `2026-03-14 09:12`) are read in the mapping's
time zone.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from tempen_ingest.domain.platforms.delivery import (
    DeliveryError,
    FreeTextAnswer,
    RawAnswer,
    scalar_text,
    translate_response,
)
from tempen_ingest.domain.platforms.mapping import ExportColumns, PlatformMapping
from tempen_ingest.domain.platforms.sheets import Cell, Formula, Table
from tempen_shared.events.submissions import CanonicalSubmission

# Microsoft Forms writes a multiple-choice answer as its options, each followed by ";".
OPTION_SEPARATOR = ";"
ANONYMOUS = frozenset({"anonymous", "anonym"})
_ISO_LOCAL = re.compile(
    r"^(?P<date>\d{4}-\d{1,2}-\d{1,2})(?:[ T](?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(?P<offset>Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One row of an export: its submission, or the error that keeps it out, or why it was left out."""

    number: int
    submission: CanonicalSubmission | None = None
    error: DeliveryError | None = None
    skipped: str | None = None
    free_text: tuple[FreeTextAnswer, ...] = ()


def normalise_heading(text: str) -> str:
    """A heading or answer text as compared: case, punctuation, symbols and spacing (NBSP too) ignored."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(" " if unicodedata.category(char)[0] in "PSZC" else char for char in folded)
    return " ".join(kept.split())


def heading_index(header: Sequence[str]) -> dict[str, list[int]]:
    """Each normalised heading and the columns that carry it (more than one: the heading is ambiguous)."""
    index: dict[str, list[int]] = {}
    for position, name in enumerate(header):
        if key := normalise_heading(name):
            index.setdefault(key, []).append(position)
    return index


def parse_spreadsheet(table: Table, mapping: PlatformMapping) -> tuple[ExportRow, ...]:
    """Apply a spreadsheet mapping to every row of `table`.

    Raises:
        DeliveryError: a column the mapping names is missing from the header row, or named twice in it;
            the whole file is refused, since every row would fail alike.
    """
    columns = _export_columns(mapping)
    positions = _resolve(table, mapping, columns)
    occurrences: Counter[str] = Counter()
    parsed: list[ExportRow] = []
    for row in table.rows:
        if row.problem is not None:
            parsed.append(ExportRow(row.number, error=DeliveryError("(row)", "misaligned", row.problem)))
            continue
        response_id = _response_id(row.cells, table.header, columns, positions, occurrences)
        try:
            parsed.append(_row(row.number, row.cells, response_id, mapping, columns, positions))
        except DeliveryError as exc:
            parsed.append(ExportRow(row.number, error=exc))
    return tuple(parsed)


def export_time(cell: Cell, *, column: str, mapping: PlatformMapping, response_id: str | None = None) -> datetime:
    """A submit time from a date cell or text; without an offset it is read in the mapping's time zone."""
    columns = _export_columns(mapping)
    if isinstance(cell, datetime):
        return cell if cell.tzinfo is not None else cell.replace(tzinfo=mapping.zone)
    if isinstance(cell, Formula):
        raise DeliveryError(column, "formula", f"a formula ({cell.text}); paste it as a value", response_id=response_id)
    if isinstance(cell, bool | int | float):
        raise DeliveryError(
            column,
            "malformed",
            f"the number {cell!r}, not a date: format the column as a date in Excel, or write YYYY-MM-DD HH:MM",
            response_id=response_id,
        )
    text = (cell or "").strip()
    if not text:
        raise DeliveryError(column, "missing", "no submit time", response_id=response_id)
    zone = mapping.zone
    parsed = _strptime(text, columns.date_format, zone) if columns.date_format else _iso_local(text, zone)
    if parsed is None:
        expected = repr(columns.date_format) if columns.date_format else "YYYY-MM-DD HH:MM[:SS]"
        hint = "" if columns.date_format else "; for other forms set columns.date_format (e.g. '%m/%d/%Y %H:%M')"
        raise DeliveryError(column, "malformed", f"{text!r} is not {expected}{hint}", response_id=response_id)
    return parsed


def _export_columns(mapping: PlatformMapping) -> ExportColumns:
    if mapping.platform != "spreadsheet" or mapping.columns is None:
        raise DeliveryError("platform", "form_mismatch", f"mapping {mapping.id!r} is not a spreadsheet mapping")
    return mapping.columns


def _resolve(table: Table, mapping: PlatformMapping, columns: ExportColumns) -> dict[str, int]:
    """The column of every heading the mapping names, keyed by the mapping's spelling."""
    wanted = [*mapping.questions, mapping.unit.field, columns.submitted_at]
    wanted += [name for name in (columns.response_id, mapping.respondent_field) if name]
    wanted += list(mapping.free_text) if mapping.keep_free_text else []
    index = heading_index(table.header)
    missing = [name for name in wanted if normalise_heading(name) not in index]
    if missing:
        raise DeliveryError(
            missing[0],
            "missing_column",
            f"no column headed {', '.join(repr(name) for name in missing)} in row {table.header_row} "
            f"(the file's columns: {'; '.join(name for name in table.header if name)[:2000]})",
        )
    twice = [name for name in wanted if len(index[normalise_heading(name)]) > 1]
    if twice:
        raise DeliveryError(
            twice[0], "ambiguous_column", "more than one column carries this heading; rename one in the file"
        )
    return {name: index[normalise_heading(name)][0] for name in wanted}


def _response_id(
    cells: tuple[Cell, ...],
    header: tuple[str, ...],
    columns: ExportColumns,
    positions: dict[str, int],
    occurrences: Counter[str],
) -> str | None:
    if columns.response_id is not None:
        return scalar_text(_plain(cells[positions[columns.response_id]]))
    # Opted in (id_from_content): the non-empty cells under their normalised headings, so the id survives a
    # reordered or added column; identical rows are told apart by their order in the file.
    content = sorted(
        (normalise_heading(name), _cell_text(cell))
        for name, cell in zip(header, cells, strict=True)
        if _cell_text(cell)
    )
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()[:32]
    occurrences[digest] += 1
    return f"sha256-{digest}-{occurrences[digest]}"


def _row(
    number: int,
    cells: tuple[Cell, ...],
    response_id: str | None,
    mapping: PlatformMapping,
    columns: ExportColumns,
    positions: dict[str, int],
) -> ExportRow:
    if response_id is None:
        raise DeliveryError(columns.response_id or "id", "missing", "the row has no response id")
    submitted_at = export_time(
        cells[positions[columns.submitted_at]], column=columns.submitted_at, mapping=mapping, response_id=response_id
    )
    answers: dict[str, RawAnswer] = {}
    for question, spec in mapping.questions.items():
        cell = _answer_cell(question, cells[positions[question]], response_id)
        if spec.options and isinstance(cell, str):
            answers[question] = [part.strip() for part in cell.split(OPTION_SEPARATOR) if part.strip()]
        else:
            answers[question] = cell
    for question in mapping.free_text if mapping.keep_free_text else ():
        answers[question] = _cell_text(cells[positions[question]])
    fields = {
        name: text
        for name in (mapping.unit.field, mapping.respondent_field)
        if name and (text := scalar_text(_answer_cell(name, cells[positions[name]], response_id)))
    }
    # Microsoft Forms writes "anonymous" for every respondent of an anonymous form: as a respondent id it
    # would make them all one person (and erasing one would erase them all).
    if mapping.respondent_field and fields.get(mapping.respondent_field, "").casefold() in ANONYMOUS:
        del fields[mapping.respondent_field]
    translated = translate_response(
        mapping=mapping,
        submission_id=f"{mapping.form_id}:{response_id}",
        submitted_at=submitted_at,
        answers=answers,
        fields=fields,
        response_id=response_id,
    )
    if translated.submission is None:
        return ExportRow(number, skipped=f"response {response_id}: {translated.skip_reason}")
    return ExportRow(number, submission=translated.submission, free_text=translated.free_text)


def _answer_cell(column: str, cell: Cell, response_id: str) -> str | int | float | bool | None:
    if isinstance(cell, Formula):
        raise DeliveryError(
            column,
            "formula",
            f"a formula ({cell.text[:100]}), whose stored result may be stale: paste the column as values",
            response_id=response_id,
        )
    return _plain(cell)


def _plain(cell: Cell) -> str | int | float | bool | None:
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ")
    if isinstance(cell, Formula):
        return None
    return cell


def _cell_text(cell: Cell) -> str:
    if isinstance(cell, Formula):
        return "=" + cell.text.lstrip("=")
    return scalar_text(_plain(cell)) or ""


def _iso_local(text: str, zone: tzinfo) -> datetime | None:
    match = _ISO_LOCAL.match(text)
    if match is None:
        return None
    year, month, day = (int(part) for part in match["date"].split("-"))
    hour, minute, second = (int(match[part] or 0) for part in ("h", "m", "s"))
    offset = match["offset"] or ""
    if offset:
        offset = "+00:00" if offset == "Z" else (offset if ":" in offset else f"{offset[:3]}:{offset[3:]}")
    try:
        parsed = datetime.fromisoformat(
            f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{offset}"
        )
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def _strptime(text: str, pattern: str, zone: tzinfo) -> datetime | None:
    try:
        parsed = datetime.strptime(text, pattern)  # noqa: DTZ007 - the zone is the mapping's, added below
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)
