"""One clock: services and commands read "now" only through tempen_shared.clock.

A `datetime.now()` elsewhere is a second clock that a test cannot set; it is how tests came to pass
on one day and fail ten days later."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tempen_shared.clock import today_in

ROOT = Path(__file__).parents[2]
SOURCE_TREES = ("shared/src", "services/ingest/src", "services/scoring/src", "services/alerts/src", "src")
READS_THE_SYSTEM_CLOCK = re.compile(r"\b(?:datetime\.now|datetime\.utcnow|date\.today|time\.time)\(")


def test_no_code_reads_the_system_clock_but_the_clock_module() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for tree in SOURCE_TREES
        for path in sorted((ROOT / tree).rglob("*.py"))
        if path.name != "clock.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if READS_THE_SYSTEM_CLOCK.search(line.split("#", 1)[0])
    ]
    assert not offenders, "read the time through tempen_shared.clock instead:\n" + "\n".join(offenders)


def test_today_is_the_date_at_the_tenants_midnight_not_utcs() -> None:
    stockholm = ZoneInfo("Europe/Stockholm")
    new_years_eve_late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # already 2027 in Stockholm
    assert today_in(stockholm, lambda: new_years_eve_late).isoformat() == "2027-01-01"
    assert today_in(UTC, lambda: new_years_eve_late).isoformat() == "2026-12-31"
    summer_evening = datetime(2027, 6, 30, 21, 59, tzinfo=UTC)  # 23:59 CEST
    assert today_in(stockholm, lambda: summer_evening) == today_in(
        stockholm, lambda: summer_evening - timedelta(hours=23)
    )
