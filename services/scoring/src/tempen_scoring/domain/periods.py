"""Reporting periods in a tenant's own time zone.

A submission belongs to the period that contains its `submitted_at` as a wall-clock time in the
tenant's zone, so 2026-11-30T23:30Z counts for December in Stockholm. Every period starts at a
local midnight (the first of a month, quarter or year, or an ISO Monday) and ends where the next
one starts, so periods of one cadence tile time with no gap or overlap, across DST changes too.

Start and end carry the tenant's zone. Subtracting two datetimes that share a tzinfo ignores
their UTC offsets, so measure elapsed time after `.astimezone(UTC)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import assert_never
from zoneinfo import ZoneInfo

from tempen_shared.tenancy.models import Cadence


@dataclass(frozen=True, slots=True)
class Period:
    """One reporting period, [start, end) in the tenant's zone.

    Keys: annual "2026", quarterly "2026-Q4", monthly "2026-11", weekly "2026-W47" (ISO year and week).
    """

    key: str
    start: datetime
    end: datetime

    def contains(self, moment: datetime) -> bool:
        # Compared in UTC: datetimes sharing a tzinfo compare by wall clock, which repeats in autumn.
        return self.start.astimezone(UTC) <= moment.astimezone(UTC) < self.end.astimezone(UTC)


def period_of(moment: datetime, cadence: Cadence, zone: ZoneInfo) -> Period:
    """The period of `cadence` that contains `moment` in `zone`; raises ValueError for a naive datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a naive datetime has no place in time; pass an aware one")
    return _period_of_day(moment.astimezone(zone).date(), cadence, zone)


def previous_period(period: Period, cadence: Cadence, zone: ZoneInfo) -> Period:
    return _period_of_day(period.start.astimezone(zone).date() - timedelta(days=1), cadence, zone)


def next_period(period: Period, cadence: Cadence, zone: ZoneInfo) -> Period:
    return _period_of_day(period.end.astimezone(zone).date(), cadence, zone)


_KEY_PATTERNS: tuple[tuple[Cadence, re.Pattern[str]], ...] = (
    ("annual", re.compile(r"(?P<year>\d{4})")),
    ("quarterly", re.compile(r"(?P<year>\d{4})-Q(?P<quarter>[1-4])")),
    ("monthly", re.compile(r"(?P<year>\d{4})-(?P<month>0[1-9]|1[0-2])")),
    ("weekly", re.compile(r"(?P<year>\d{4})-W(?P<week>0[1-9]|[1-4]\d|5[0-3])")),
)


def period_from_key(key: str, zone: ZoneInfo) -> tuple[Cadence, Period]:
    """The cadence and period a key names (the inverse of `Period.key`); raises ValueError for a malformed key."""
    for cadence, pattern in _KEY_PATTERNS:
        match = pattern.fullmatch(key)
        if match is None:
            continue
        year = int(match["year"])
        if cadence == "annual":
            day = date(year, 1, 1)
        elif cadence == "quarterly":
            day = date(year, 3 * int(match["quarter"]) - 2, 1)
        elif cadence == "monthly":
            day = date(year, int(match["month"]), 1)
        else:
            try:
                day = date.fromisocalendar(year, int(match["week"]), 1)
            except ValueError:
                raise ValueError(f"ISO year {year} has no week {match['week']}") from None
        return cadence, _period_of_day(day, cadence, zone)
    raise ValueError(f"{key!r} is not a period key (2026, 2026-Q4, 2026-11 or 2026-W47)")


def _period_of_day(day: date, cadence: Cadence, zone: ZoneInfo) -> Period:
    if cadence == "annual":
        first, following = date(day.year, 1, 1), date(day.year + 1, 1, 1)
        key = f"{day.year:04d}"
    elif cadence == "quarterly":
        quarter = (day.month - 1) // 3 + 1
        first = date(day.year, 3 * quarter - 2, 1)
        following = date(day.year + 1, 1, 1) if quarter == 4 else date(day.year, 3 * quarter + 1, 1)
        key = f"{day.year:04d}-Q{quarter}"
    elif cadence == "monthly":
        first = day.replace(day=1)
        following = date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)
        key = f"{day.year:04d}-{day.month:02d}"
    elif cadence == "weekly":
        iso = day.isocalendar()
        first = day - timedelta(days=iso.weekday - 1)
        following = first + timedelta(days=7)
        key = f"{iso.year:04d}-W{iso.week:02d}"
    else:
        assert_never(cadence)
    return Period(key=key, start=_local_midnight(first, zone), end=_local_midnight(following, zone))


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    # Where midnight falls in a DST gap, fold=0 reads it with the offset from before the change,
    # which is the instant of the change itself; the round trip turns it into a wall time that exists.
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC).astimezone(zone)
