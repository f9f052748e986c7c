"""A first spreadsheet mapping for an export: its columns matched to an instrument's items, for HR to confirm.

Pure: a Table, the tenant's instruments and org units in, a Suggestion out. Exact matches (the heading is
an item's text or id, after `normalise_heading`) are taken; close ones (a typo, a shortened text, the item
text inside a longer heading such as "Hur väl stämmer följande? [Mitt arbete känns meningsfullt]") are only
offered. Answer labels become numbers only when they are a known Swedish or English agreement scale or
begin with the number; anything else is left for HR to fill in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from difflib import SequenceMatcher

from tempen_ingest.domain.platforms.sheets import Cell, Formula, Table
from tempen_ingest.domain.platforms.spreadsheet import normalise_heading
from tempen_shared.tenancy.models import Instrument, Scale
from tempen_shared.tenancy.org import OrgUnit

CLOSE_RATIO = 0.8
CONTAINED_MIN_CHARS = 12
MAX_LABELS = 50  # more distinct texts than this in a column: free text, not a scale

# Headings of the metadata columns, normalised. Microsoft Forms: ID, Start time/Starttid, Completion
# time/Slutförandetid, Email/E-post, Name/Namn, Last modified time; Google Forms: Timestamp/Tidstämpel;
# the rest are guesses for Netigate and consultancy exports (tests/ingest/fixtures/platforms/README.md).
RESPONSE_ID_HEADINGS = ("id", "svars id", "svarsid", "response id", "respondent id", "respondentid", "löpnummer")
SUBMITTED_HEADINGS = (
    "completion time",
    "slutförandetid",
    "submitted",
    "submit date",
    "submitted at",
    "timestamp",
    "tidstämpel",
    "tidsstämpel",
    "sluttid",
    "end time",
    "svarsdatum",
    "inskickad",
)
START_HEADINGS = ("start time", "starttid", "start date", "startdatum")
EMAIL_HEADINGS = ("email", "e post", "e postadress", "email address", "e mail", "e mailadress")
OTHER_METADATA = ("name", "namn", "last modified time", "senaste ändringstid", "language", "språk")
UNIT_WORDS = ("enhet", "arbetsplats", "arbetsgrupp", "avdelning", "unit", "department", "verksamhet", "team")

_FIVE_POINT = {
    1: (
        "stämmer mycket dåligt",
        "stämmer inte alls",
        "instämmer inte alls",
        "tar helt avstånd",
        "helt fel",
        "mycket dåligt",
        "strongly disagree",
    ),
    2: (
        "stämmer ganska dåligt",
        "stämmer dåligt",
        "instämmer i liten grad",
        "tar delvis avstånd",
        "ganska dåligt",
        "disagree",
    ),
    3: (
        "varken eller",
        "stämmer varken bra eller dåligt",
        "varken instämmer eller tar avstånd",
        "neutral",
        "neither agree nor disagree",
    ),
    4: ("stämmer ganska bra", "stämmer bra", "instämmer i hög grad", "instämmer till stor del", "ganska bra", "agree"),
    5: (
        "stämmer mycket bra",
        "stämmer helt",
        "stämmer helt och hållet",
        "instämmer helt",
        "instämmer helt och hållet",
        "instämmer fullständigt",
        "mycket bra",
        "strongly agree",
    ),
}
_NOT_APPLICABLE = ("vet ej", "vet inte", "ej aktuellt", "ingen åsikt", "don t know", "not applicable", "n a")
_LEADING_NUMBER = re.compile(r"^\s*(\d{1,2})(?:\s*[-–—.:)=]\s*|\s+)\S")
_DATE_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %I:%M:%S %p",
)
_ISO_TEXT = re.compile(
    r"^\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True, slots=True)
class ColumnMatch:
    column: str
    item: str
    item_text: str
    score: float  # 1.0: the heading is the item's text or id


@dataclass(frozen=True, slots=True)
class Suggestion:
    instrument: Instrument
    exact: tuple[ColumnMatch, ...]
    close: tuple[ColumnMatch, ...]
    unmatched: tuple[str, ...]  # neither an item nor a recognised metadata column: left out of the mapping
    response_id: str | None
    submitted_at: str | None
    submitted_is_start: bool  # no completion column: the start time stands in for it
    respondent: str | None
    unit_column: str | None
    units: dict[str, str] | None  # unit column value -> unit id; None: the values are unit ids already
    unknown_units: tuple[str, ...]
    date_format: str | None
    date_format_choices: tuple[str, ...]  # several patterns read every date: which is meant cannot be told
    metadata: tuple[str, ...] = field(default=())


def choose_instrument(header: Sequence[str], instruments: Iterable[Instrument]) -> Instrument:
    """The instrument whose items the most columns match, exactly first, then closely."""
    candidates = list(instruments)
    if not candidates:
        raise ValueError("no instruments to choose from")

    def strength(instrument: Instrument) -> tuple[int, int, int]:
        exact, close = match_columns(header, instrument)
        return len(exact), len(close), -len(instrument.items)  # a tie: the instrument the file covers best

    return max(candidates, key=strength)


def match_columns(header: Sequence[str], instrument: Instrument) -> tuple[list[ColumnMatch], list[ColumnMatch]]:
    """Exact and close matches of columns to items; an item is matched to one column at most."""
    texts: dict[str, tuple[str, str]] = {}  # normalised text or id -> (item id, text)
    for item in instrument.items:
        for name in (item.text_sv, item.text_en, item.id):
            if name and (key := normalise_heading(name)):
                texts.setdefault(key, (item.id, item.text_sv))
    exact: list[ColumnMatch] = []
    taken: set[str] = set()
    rest: list[str] = []
    for column in header:
        key = normalise_heading(column)
        if key in texts and texts[key][0] not in taken:
            item_id, text = texts[key]
            exact.append(ColumnMatch(column, item_id, text, 1.0))
            taken.add(item_id)
        elif key:
            rest.append(column)
    close: list[ColumnMatch] = []
    for column in rest:
        key = normalise_heading(column)
        best: ColumnMatch | None = None
        for item in instrument.items:
            if item.id in taken:
                continue
            text = normalise_heading(item.text_sv)
            score = SequenceMatcher(None, key, text, autojunk=False).ratio()
            if len(text) >= CONTAINED_MIN_CHARS and text in key:
                score = max(score, 0.9)
            if score >= CLOSE_RATIO and (best is None or score > best.score):
                best = ColumnMatch(column, item.id, item.text_sv, round(score, 2))
        if best is not None:
            close.append(best)
            taken.add(best.item)
    return exact, close


def suggest(table: Table, instrument: Instrument, units: Iterable[OrgUnit]) -> Suggestion:
    """Everything `tempen mappings suggest` proposes for `table` and `instrument`."""
    exact, close = match_columns(table.header, instrument)
    matched = {m.column for m in (*exact, *close)}
    by_key = {normalise_heading(name): name for name in reversed(table.header) if name}
    response_id = _first(by_key, RESPONSE_ID_HEADINGS)
    submitted = _first(by_key, SUBMITTED_HEADINGS)
    start = _first(by_key, START_HEADINGS)
    email = _first(by_key, EMAIL_HEADINGS)
    respondent = email if email and _all(table, email, lambda text: "@" in text) else None
    metadata = [name for name in (response_id, submitted, start, email, *_all_of(by_key, OTHER_METADATA)) if name]
    unit_column, unit_table, unknown = _unit_column(table, list(units), matched | set(metadata))
    submitted_at = submitted or start
    date_format, choices = _date_format(table, submitted_at) if submitted_at else (None, ())
    used = matched | set(metadata) | ({unit_column} if unit_column else set())
    return Suggestion(
        instrument=instrument,
        exact=tuple(exact),
        close=tuple(close),
        unmatched=tuple(name for name in table.header if name and name not in used),
        response_id=response_id,
        submitted_at=submitted_at,
        submitted_is_start=submitted is None and start is not None,
        respondent=respondent,
        unit_column=unit_column,
        units=unit_table,
        unknown_units=unknown,
        date_format=date_format,
        date_format_choices=choices,
        metadata=tuple(metadata),
    )


def answer_labels(table: Table, columns: Iterable[str]) -> list[str]:
    """The distinct non-numeric answers in `columns`, in the order first seen."""
    positions = [table.header.index(column) for column in columns if column in table.header]
    seen: dict[str, None] = {}
    for row in table.rows:
        for position in positions:
            text = _text(row.cells[position])
            if text and not re.fullmatch(r"[+-]?\d+(?:[.,]0*)?", text):
                seen.setdefault(text, None)
    return list(seen)


def propose_values(labels: Iterable[str], scale: Scale) -> tuple[dict[str, int], list[str]]:
    """Label -> number on `scale` for the labels known or numbered; the rest, for HR to fill in."""
    known = {normalise_heading(label): position for position, names in _FIVE_POINT.items() for label in names}
    not_applicable = {normalise_heading(label) for label in _NOT_APPLICABLE}
    values: dict[str, int] = {}
    unknown: list[str] = []
    for label in labels:
        key = normalise_heading(label)
        numbered = _LEADING_NUMBER.match(label)
        if numbered and scale.low <= int(numbered[1]) <= scale.high:
            values[label] = int(numbered[1])
        elif key in known and scale.high - scale.low == 4:
            values[label] = scale.low + known[key] - 1
        elif key in not_applicable and scale.not_applicable:
            values[label] = scale.not_applicable[0]
        else:
            unknown.append(label)
    return dict(sorted(values.items(), key=lambda pair: pair[1])), unknown


def _first(by_key: dict[str, str], headings: Sequence[str]) -> str | None:
    return next((by_key[heading] for heading in headings if heading in by_key), None)


def _all_of(by_key: dict[str, str], headings: Sequence[str]) -> list[str]:
    return [by_key[heading] for heading in headings if heading in by_key]


def _column_texts(table: Table, column: str) -> list[str]:
    position = table.header.index(column)
    return [text for row in table.rows if (text := _text(row.cells[position]))]


def _all(table: Table, column: str, test: Callable[[str], bool]) -> bool:
    texts = _column_texts(table, column)
    return bool(texts) and all(test(text) for text in texts)


def _unit_column(
    table: Table, units: list[OrgUnit], taken: set[str]
) -> tuple[str | None, dict[str, str] | None, tuple[str, ...]]:
    """The column naming each response's unit (by its values first, then by its heading)."""
    ids = {unit.id for unit in units}
    names = {normalise_heading(unit.name): unit.id for unit in units}
    best: tuple[float, str] | None = None
    for column in table.header:
        if not column or column in taken:
            continue
        values = set(_column_texts(table, column))
        if not values:
            continue
        known = sum(1 for value in values if value in ids or normalise_heading(value) in names)
        share = known / len(values) + (0.5 if any(word in normalise_heading(column) for word in UNIT_WORDS) else 0)
        if known and (best is None or share > best[0]):
            best = (share, column)
    if best is None:
        heading = next(
            (c for c in table.header if c and c not in taken and any(w in normalise_heading(c) for w in UNIT_WORDS)),
            None,
        )
        unknown = tuple(sorted(set(_column_texts(table, heading)))) if heading else ()
        return heading, ({} if heading else None), unknown
    column = best[1]
    found = sorted(set(_column_texts(table, column)))
    if all(value in ids for value in found):
        return column, None, ()
    mapped = {
        value: names.get(normalise_heading(value), value)
        for value in found
        if value in ids or normalise_heading(value) in names
    }
    return column, mapped, tuple(value for value in found if value not in mapped)


def _date_format(table: Table, column: str) -> tuple[str | None, tuple[str, ...]]:
    position = table.header.index(column)
    texts = [cell.strip() for row in table.rows if isinstance(cell := row.cells[position], str) and cell.strip()]
    if not texts or all(_ISO_TEXT.match(text) for text in texts):
        return None, ()
    fitting = tuple(pattern for pattern in _DATE_FORMATS if all(_parses(text, pattern) for text in texts))
    if len(fitting) == 1:
        return fitting[0], ()
    return None, fitting


def _parses(text: str, pattern: str) -> bool:
    try:
        datetime.strptime(text, pattern)  # noqa: DTZ007 - only whether it parses
    except ValueError:
        return False
    return True


def _text(cell: Cell) -> str:
    if cell is None or isinstance(cell, Formula | datetime):
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()
