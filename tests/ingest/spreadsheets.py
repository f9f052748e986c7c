"""Builds spreadsheet exports laid out as Microsoft Forms and Netigate lay them out (sources in
tests/ingest/fixtures/platforms/README.md), for the test tenant's instrument test-puls.

A plain module, not conftest. The answers are in March 2025, a period closed whatever today is.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook

STOCKHOLM = ZoneInfo("Europe/Stockholm")
# test-puls's items, as a form would word them (Microsoft Forms keeps the question text as written).
Q1 = "Min chef visar uppskattning."
Q2 = "Min chef visar förtroende"  # no full stop, as people type it into the form
Q3 = "Mitt arbete känns meningsfullt?"
UNIT_QUESTION = "Vilken enhet arbetar du på?"
COMMENT = "Övriga synpunkter"
LABELS = ("Stämmer mycket dåligt", "Stämmer ganska dåligt", "Varken eller", "Stämmer ganska bra", "Stämmer mycket bra")
MS_FORMS_SV = ("ID", "Starttid", "Slutförandetid", "E-post", "Namn")
MS_FORMS_EN = ("ID", "Start time", "Completion time", "Email", "Name", "Last modified time")


def wall_time(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A time as an Excel date cell holds it: the wall clock in Stockholm, with no zone."""
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).replace(tzinfo=None)


def xlsx(rows: Sequence[Sequence[Any]], *, title: str = "Sheet1", more_sheets: Sequence[str] = ()) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(list(row))
    for name in more_sheets:
        workbook.create_sheet(name).append(["Sammanfattning"])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def ms_forms_rows(count: int = 6, *, start: int = 1) -> list[list[Any]]:
    """A Swedish Microsoft Forms export: metadata, a unit question, three statements and a comment."""
    rows: list[list[Any]] = [[*MS_FORMS_SV, UNIT_QUESTION, Q1, Q2, Q3, COMMENT]]
    units = ("Grupp A1", "Grupp B1")
    for n in range(start, start + count):
        rows.append(
            [
                n,
                wall_time(2025, 3, 10, 8, n % 60),
                wall_time(2025, 3, 10, 9, n % 60),
                "anonymous",
                None,
                units[n % 2],
                LABELS[n % 5],
                LABELS[(n + 1) % 5],
                LABELS[(n + 2) % 5],
                "Bra stämning" if n == start else None,
            ]
        )
    return rows


def ms_forms_xlsx(count: int = 6, **options: Any) -> bytes:
    return xlsx(ms_forms_rows(count), **options)


def netigate_csv(*, separator: str = ";", encoding: str = "utf-8-sig") -> bytes:
    """An export saved as CSV by Swedish Excel: `;`, local text dates, background data as a column."""
    lines = [
        ["Respondent ID", "Startdatum", "Svarsdatum", "Enhet", Q1, Q2, Q3],
        ["9001", "2025-03-11 10:02", "2025-03-11 10:07", "grupp-a1", "Stämmer ganska bra", "4", "Varken eller"],
        ["9002", "2025-03-11 11:15", "2025-03-11 11:20", "grupp-b1", "Stämmer mycket bra", "5", "Vet ej"],
        ["9003", "2025-03-12 08:01", "2025-03-12 08:04", "grupp-a1", "Stämmer mycket dåligt", "", "1"],
    ]
    text = "\r\n".join(separator.join(_quoted(cell, separator) for cell in line) for line in lines) + "\r\n"
    return text.encode(encoding)


def _quoted(cell: str, separator: str) -> str:
    return f'"{cell}"' if separator in cell or '"' in cell else cell
