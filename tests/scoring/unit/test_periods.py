from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tempen_scoring.domain.periods import Period, next_period, period_from_key, period_of, previous_period
from tempen_shared.tenancy.models import Cadence

STOCKHOLM = ZoneInfo("Europe/Stockholm")
CADENCES: tuple[Cadence, ...] = ("annual", "quarterly", "monthly", "weekly")


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_late_evening_utc_on_the_last_of_november_is_december_in_stockholm() -> None:
    period = period_of(_utc(2026, 11, 30, 23, 30), "monthly", STOCKHOLM)

    assert period.key == "2026-12"
    assert period.start == datetime(2026, 12, 1, tzinfo=STOCKHOLM)
    assert period.start.astimezone(UTC) == _utc(2026, 11, 30, 23, 0)


def test_the_same_moment_is_still_november_in_utc() -> None:
    assert period_of(_utc(2026, 11, 30, 23, 30), "monthly", ZoneInfo("UTC")).key == "2026-11"


def test_a_month_with_the_spring_dst_change_is_an_hour_short() -> None:
    march = period_of(_utc(2026, 3, 15, 12), "monthly", STOCKHOLM)

    assert march.key == "2026-03"
    assert march.start.utcoffset() == timedelta(hours=1)
    assert march.end.utcoffset() == timedelta(hours=2)
    assert march.end.astimezone(UTC) - march.start.astimezone(UTC) == timedelta(days=31) - timedelta(hours=1)


def test_the_week_with_the_autumn_dst_change_is_an_hour_long() -> None:
    week = period_of(_utc(2026, 10, 25, 1, 30), "weekly", STOCKHOLM)  # 02:30 local, the second time

    assert week.key == "2026-W43"
    assert week.end.astimezone(UTC) - week.start.astimezone(UTC) == timedelta(days=7, hours=1)


def test_a_moment_in_the_repeated_autumn_hour_lies_inside_its_period() -> None:
    repeated = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=STOCKHOLM)

    assert period_of(repeated, "weekly", STOCKHOLM).contains(repeated)


def test_new_years_day_can_belong_to_the_last_iso_week_of_the_year_before() -> None:
    week = period_of(_utc(2027, 1, 1, 12), "weekly", STOCKHOLM)

    assert week.key == "2026-W53"
    assert week.start == datetime(2026, 12, 28, tzinfo=STOCKHOLM)
    assert week.end == datetime(2027, 1, 4, tzinfo=STOCKHOLM)


def test_the_week_before_the_first_iso_week_is_the_previous_years_last_week() -> None:
    first = period_of(_utc(2027, 1, 5), "weekly", STOCKHOLM)

    assert first.key == "2027-W01"
    assert previous_period(first, "weekly", STOCKHOLM).key == "2026-W53"


def test_new_years_eve_late_in_utc_is_already_the_next_quarter_and_year_in_stockholm() -> None:
    moment = _utc(2026, 12, 31, 23, 30)

    assert period_of(moment, "quarterly", STOCKHOLM).key == "2027-Q1"
    assert period_of(moment, "annual", STOCKHOLM).key == "2027"


def test_the_fourth_quarter_starts_in_summer_time_and_ends_in_winter_time() -> None:
    q4 = previous_period(period_of(_utc(2027, 2, 1), "quarterly", STOCKHOLM), "quarterly", STOCKHOLM)

    assert q4 == Period(
        key="2026-Q4", start=datetime(2026, 10, 1, tzinfo=STOCKHOLM), end=datetime(2027, 1, 1, tzinfo=STOCKHOLM)
    )
    assert q4.start.utcoffset() == timedelta(hours=2)
    assert q4.end.utcoffset() == timedelta(hours=1)


def test_a_period_includes_its_start_and_excludes_its_end() -> None:
    november = period_of(_utc(2026, 11, 10), "monthly", STOCKHOLM)

    assert period_of(november.start, "monthly", STOCKHOLM) == november
    assert period_of(november.end, "monthly", STOCKHOLM).key == "2026-12"
    assert period_of(november.end - timedelta(microseconds=1), "monthly", STOCKHOLM) == november


def test_a_month_whose_first_midnight_was_lost_to_dst_starts_at_the_change() -> None:
    # Paraguay moved its clocks from 00:00 to 01:00 on 1 October 2017, so that day began at 01:00 (-03).
    asuncion = ZoneInfo("America/Asuncion")
    october = period_of(_utc(2017, 10, 1, 4), "monthly", asuncion)

    assert october.key == "2017-10"
    assert october.start.astimezone(UTC) == _utc(2017, 10, 1, 4)
    assert (october.start.hour, october.start.utcoffset()) == (1, timedelta(hours=-3))
    assert period_of(_utc(2017, 10, 1, 3, 59), "monthly", asuncion).key == "2017-09"


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        period_of(datetime(2026, 1, 1), "monthly", STOCKHOLM)  # noqa: DTZ001


@pytest.mark.parametrize(
    ("key", "cadence"), [("2026", "annual"), ("2026-Q4", "quarterly"), ("2026-11", "monthly"), ("2026-W53", "weekly")]
)
def test_a_key_names_its_cadence_and_period(key: str, cadence: Cadence) -> None:
    parsed_cadence, period = period_from_key(key, STOCKHOLM)

    assert parsed_cadence == cadence
    assert period.key == key
    assert period_of(period.start, cadence, STOCKHOLM) == period


@pytest.mark.parametrize("key", ["2026-Q5", "2026-13", "2025-W53", "26-11", "2026-w01"])
def test_malformed_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match=r"week|period key"):
        period_from_key(key, STOCKHOLM)


ZONES = st.sampled_from(
    [
        "Europe/Stockholm",
        "UTC",
        "America/Sao_Paulo",
        "Australia/Lord_Howe",
        "Asia/Kolkata",
        "Pacific/Apia",
        "America/St_Johns",
        "America/Asuncion",
    ]
).map(ZoneInfo)
MOMENTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC))  # noqa: DTZ001


@settings(database=None, deadline=None, max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(MOMENTS, st.sampled_from(CADENCES), ZONES)
def test_periods_contain_their_moment_and_tile_time_without_gaps(
    moment: datetime, cadence: Cadence, zone: ZoneInfo
) -> None:
    period = period_of(moment, cadence, zone)
    before = previous_period(period, cadence, zone)
    after = next_period(period, cadence, zone)

    assert period.contains(moment)
    assert before.end.astimezone(UTC) == period.start.astimezone(UTC)
    assert after.start.astimezone(UTC) == period.end.astimezone(UTC)
    assert period_of(period.start, cadence, zone) == period
    assert period_from_key(period.key, zone) == (cadence, period)
    assert period.start.astimezone(zone).time() <= time(1)  # local midnight, or the end of a DST gap there
