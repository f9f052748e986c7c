"""The HME report's pure parts: the rounds bound, rounding, who sees which rows, and the CSV of a
monthly instrument (no Kolada KPI: Kolada's periods are years)."""

from __future__ import annotations

import copy

import pytest

from tempen_portal.domain.access import Viewer
from tempen_portal.domain.hme import one_decimal, parse_rounds, report_csv, visible_report
from tests.portal.test_hme_report import REPORT

HR = Viewer("testkommun", "hr@testkommun.example", True, frozenset(), ())
BO = Viewer("testkommun", "bo@testkommun.example", False, frozenset({"forv", "enhet-a"}), ("forv",))


@pytest.mark.parametrize(
    ("raw", "rounds"), [(None, 5), ("1", 1), ("20", 20), ("0", None), ("21", None), ("٣", None), (" 3", None)]
)
def test_rounds_are_a_whole_number_from_1_to_20(raw: str | None, rounds: int | None) -> None:
    assert parse_rounds(raw) == rounds


@pytest.mark.parametrize(
    ("value", "sv", "en"),
    [(73.75, "73,8", "73.8"), (71.25, "71,3", "71.3"), (0.05, "0,1", "0.1"), (100.0, "100,0", "100.0"), (None, "", "")],
)
def test_one_decimal_rounds_half_up(value: float | None, sv: str, en: str) -> None:
    assert (one_decimal(value, "sv"), one_decimal(value, "en")) == (sv, en)


def test_rows_are_cut_to_the_viewer_s_units_and_hidden_rows_keep_only_their_reason() -> None:
    everything = visible_report(REPORT, HR)
    (section,) = everything.sections
    assert [r.period for r in section.rounds] == ["2025", "2024"]
    hidden = section.rounds[0].rows[1]
    assert (hidden.published, hidden.reason, hidden.respondents, hidden.values) == (False, "differencing", None, ())
    mine = visible_report(REPORT, BO)
    assert [[row.unit for row in r.rows] for r in mine.sections[0].rounds] == [["forv"], ["forv"]]
    nobody = Viewer("testkommun", "x@testkommun.example", False, frozenset({"grupp-a1"}), ("grupp-a1",))
    assert visible_report(REPORT, nobody).empty


def test_a_monthly_instrument_s_rounds_carry_no_kolada_kpi() -> None:
    monthly = copy.deepcopy(REPORT)
    monthly["reports"][0]["cadence"] = "monthly"
    lines = report_csv(visible_report(monthly, HR)).splitlines()
    annual = report_csv(visible_report(REPORT, HR)).splitlines()
    assert any(";U00200;" in line for line in annual)
    assert not any(";U0020" in line for line in lines)
