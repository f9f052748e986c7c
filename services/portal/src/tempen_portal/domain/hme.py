"""The HME report as the portal shows it: scoring's report (GET .../reports/hme) cut down to the rows the
person may see, newest round first, and as a CSV for Kolada. Pure.

Scoring decides what may be shown: a row it did not publish carries only its reason, and nothing here
ever has a number for it. A manager sees the rows of the units `Viewer` lets them see (a förvaltning
they head or sit above; the municipality only if they head it); HR sees every row.

The CSV is in Kolada's own shape, one value per line (KPI, period, gender, value), so that the
municipality's lines of an annual round can be copied into SKR's Kolada template as they are; the
förvaltning lines, and the rounds of a monthly or quarterly instrument, carry no KPI id, since Kolada
has none for them (docs/portal.md, "HME report").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tempen_portal.domain.access import Viewer
from tempen_portal.domain.words import Language
from tempen_shared.tenancy.org import OrgTree

MAX_ROUNDS = 20  # scoring's bound on `rounds`
DEFAULT_ROUNDS = 5
CSV_COLUMNS = (
    "period",
    "kpi",
    "kön",
    "värde",
    "index",
    "indexnamn",
    "enhet_id",
    "enhet",
    "nivå",
    "svarande",
    "svarsfrekvens_procent",
    "status",
    "orsak",
    "instrument",
)
LEVEL_SV = {"municipality": "kommun", "forvaltning": "förvaltning"}
# Characters that make a spreadsheet read a cell as a formula: a unit name from the org file must stay text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class Index:
    id: str
    name_sv: str
    name_en: str
    kolada_kpi: str | None


@dataclass(frozen=True, slots=True)
class Row:
    unit: str
    unit_name: str
    level: str  # "municipality" or "forvaltning"
    published: bool
    reason: str | None
    respondents: int | None
    response_rate: float | None
    values: tuple[float | None, ...]  # in the order of the report's indices; empty when not published


@dataclass(frozen=True, slots=True)
class Round:
    period: str
    rows: tuple[Row, ...]


@dataclass(frozen=True, slots=True)
class Section:
    instrument: str
    cadence: str
    rounds: tuple[Round, ...]  # newest first, only rounds measured and with a row the person may see


@dataclass(frozen=True, slots=True)
class HmeReport:
    tenant_name: str
    min_group_size: int
    indices: tuple[Index, ...]
    sections: tuple[Section, ...]

    @property
    def empty(self) -> bool:
        return not any(s.rounds for s in self.sections)


def parse_rounds(raw: str | None) -> int | None:
    """The `rounds` query of the page, bounded as scoring bounds it; None when it is not a whole number in range."""
    if raw is None:
        return DEFAULT_ROUNDS
    if len(raw) <= 2 and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_ROUNDS:
        return int(raw)
    return None


def sees_report_rows(viewer: Viewer, tree: OrgTree) -> bool:
    """Whether the HME report has rows for this person: HR, or a manager who may see the municipality or
    a förvaltning (the root and its children, the rows scoring reports). Others are not offered the link."""
    return viewer.is_hr or any(u in viewer.units for u in (tree.root, *tree.children.get(tree.root, ())))


def visible_report(report: Mapping[str, Any], viewer: Viewer) -> HmeReport:
    indices = tuple(
        Index(str(i["id"]), str(i["name_sv"]), str(i["name_en"]), i.get("kolada_kpi")) for i in report["indices"]
    )
    sections: list[Section] = []
    for section in report["reports"]:
        rounds: list[Round] = []
        for r in reversed(section["rounds"]):
            if not r["measured"]:
                continue
            rows = tuple(_row(row, indices) for row in r["rows"] if viewer.may_see_unit(str(row["unit"])))
            if rows:
                rounds.append(Round(str(r["period"]), rows))
        sections.append(Section(str(section["instrument"]), str(section["cadence"]), tuple(rounds)))
    return HmeReport(str(report["tenant_name"]), int(report["min_group_size"]), indices, tuple(sections))


def _row(row: Mapping[str, Any], indices: Sequence[Index]) -> Row:
    if not row["published"]:
        # Only what a hidden row may carry: never its respondents, rate or values, whatever was sent.
        return Row(str(row["unit"]), str(row["unit_name"]), str(row["level"]), False, row.get("reason"), None, None, ())
    values = row.get("indices") or {}
    return Row(
        str(row["unit"]),
        str(row["unit_name"]),
        str(row["level"]),
        True,
        None,
        row.get("respondents"),
        row.get("response_rate"),
        tuple(values.get(i.id) for i in indices),
    )


def one_decimal(value: float | None, language: Language) -> str:
    """An index or a percentage with one decimal, rounded half up as municipalities round when they
    publish (73,75 -> 73,8 and 71,25 -> 71,3; Python's own format would round the second to even);
    "" for no value."""
    if value is None:
        return ""
    text = str(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
    return text.replace(".", ",").replace("-", "−") if language == "sv" else text


def decimal_comma(value: float | None) -> str:
    """The CSV's form: one decimal with a decimal comma, a plain hyphen-minus so Excel reads a number."""
    return one_decimal(value, "sv").replace("−", "-")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_csv(report: HmeReport) -> str:
    """Semicolon-separated, decimal comma, CRLF line ends (as Swedish Excel reads a .csv), one line per
    round, unit and index; the caller encodes it as UTF-8 with a byte-order mark."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    for section in report.sections:
        annual = section.cadence == "annual"  # Kolada's periods are years: a monthly round has no KPI value
        for round_ in section.rounds:
            for row in round_.rows:
                for position, index in enumerate(report.indices):
                    value = row.values[position] if row.published else None
                    rate = row.response_rate * 100 if row.published and row.response_rate is not None else None
                    writer.writerow(
                        (
                            round_.period,
                            kpi if (kpi := index.kolada_kpi) and row.level == "municipality" and annual else "",
                            "T",
                            decimal_comma(value),
                            index.id,
                            index.name_sv,
                            _cell(row.unit),
                            _cell(row.unit_name),
                            LEVEL_SV.get(row.level, row.level),
                            str(row.respondents) if row.published and row.respondents is not None else "",
                            decimal_comma(rate),
                            "publicerad" if row.published else "för få svar",
                            "" if row.published else (row.reason or ""),
                            section.instrument,
                        )
                    )
    return out.getvalue()
