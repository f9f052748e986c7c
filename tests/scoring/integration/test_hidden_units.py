"""HR's report of units that cannot be shown or cannot alert, through the real scoring app on real
PostgreSQL, and `tempen units hidden` against it, on the six months of support.py (judged on 7 December
2026): Grupp B1 is a small team every month; Enhet B's own group is hidden to protect it; Grupp A1 has 8
a month but 4 in September.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tempen.cli import main
from tempen_scoring.adapters.postgres import PostgresScoringStore
from tempen_shared.access.tokens import Scope
from tests.auth.helpers import admin_headers, issue_token
from tests.scoring.integration.support import MONTHS, read_only_headers, submissions

pytestmark = pytest.mark.integration

HIDDEN = "/v1/tenants/testkommun/hidden-units"


def _by_unit(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    (report,) = body["reports"]
    return {(u["unit"], u["scope"]): u for u in report["units"]}


async def test_hr_sees_which_units_are_hidden_why_and_whether_they_can_alert(
    six_months: tuple[str, PostgresScoringStore], database_url: str
) -> None:
    base, _ = six_months
    async with httpx.AsyncClient(base_url=base, headers=await read_only_headers(database_url)) as http:
        response = await http.get(HIDDEN)  # the latest closed month and the five before it
    assert response.status_code == 200, response.text
    body = response.json()
    (report,) = body["reports"]
    assert [p["period"] for p in report["periods"]] == [
        "2026-06",
        "2026-07",
        "2026-08",
        "2026-09",
        "2026-10",
        "2026-11",
    ]
    assert all(p["measured"] for p in report["periods"])
    units = _by_unit(body)

    small = units[("grupp-b1", "unit")]
    assert (small["latest"], small["hidden_periods"], small["measured_periods"]) == ("below_minimum", 6, 6)
    assert small["alerts"] == {
        "can_alert": False,
        "needed": 2,
        "published_periods": 0,
        "measured_periods": 6,
        "periods_to_alert": None,
    }
    assert "fewer than 5 answered" in small["explanation"]
    assert "Cannot alert: 2 published periods are needed, it had 0 of the last 6" in small["explanation"]
    assert {"merge_team", "encourage_answers", "change_cadence", "lower_minimum"} <= {
        a["action"] for a in small["actions"]
    }

    office = units[("enhet-b", "unit")]
    # In September Grupp A1's 4 hide Enhet B's whole roll-up instead (Förvaltningen minus it would
    # reveal them), which leaves Enhet B's own 6 nothing small to reveal: shown that month.
    assert office["reasons"] == {"differencing": 5}
    assert [p["status"] for p in office["periods"]][3] == "published"
    assert office["protects"] == [{"unit": "enhet-b", "unit_name": "Enhet B"}]
    assert "Enhet B's result minus the published groups inside it" in office["explanation"]
    assert office["actions"][0]["action"] == "merge_small_group"

    once = units[("grupp-a1", "unit")]
    assert [p["status"] for p in once["periods"]] == ["published"] * 3 + ["below_minimum"] + ["published"] * 2
    assert once["alerts"]["can_alert"] is True
    # Enhet A has 20 people placed directly in it (its headcount) and none of them answered.
    silent = units[("enhet-a", "unit")]
    assert (silent["reasons"], silent["alerts"]["can_alert"]) == ({"no_responses": 6}, False)
    assert "check_survey_reaches" in {a["action"] for a in silent["actions"]}
    # Those that cannot alert come first.
    order = [u["alerts"] is not None and u["alerts"]["can_alert"] is False for u in report["units"]]
    assert order == sorted(order, reverse=True)
    # Nobody is placed directly in the municipality or the administration: their empty own groups are not teams.
    assert ("kommun", "unit") not in units
    assert ("forv", "unit") not in units


async def test_a_span_and_a_period_of_choice(six_months: tuple[str, PostgresScoringStore], database_url: str) -> None:
    base, _ = six_months
    async with httpx.AsyncClient(base_url=base, headers=await admin_headers(database_url)) as http:
        response = await http.get(HIDDEN, params={"period": "2026-08", "periods": "4", "instrument": "test-puls"})
    assert response.status_code == 200, response.text
    (report,) = response.json()["reports"]
    assert [(p["period"], p["measured"]) for p in report["periods"]] == [
        ("2026-05", False),
        ("2026-06", True),
        ("2026-07", True),
        ("2026-08", True),
    ]
    units = _by_unit(response.json())
    assert ("grupp-a1", "unit") not in units  # its hidden September is after the span
    assert units[("grupp-b1", "unit")]["measured_periods"] == 3  # May was not measured: it does not count


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "2026-12"}, "period"),  # still open on 7 December
        ({"period": "2027-13"}, "period"),
        ({"period": "2026"}, "period"),  # no annual instrument
        ({"periods": "0"}, "periods"),
        ({"periods": "61"}, "periods"),
        ({"periods": "six"}, "periods"),
        ({"instrument": "nope"}, "instrument"),
        ({"model": "nope"}, "model"),
    ],
)
async def test_a_bad_query_is_refused_naming_the_field_and_what_to_ask_instead(
    six_months: tuple[str, PostgresScoringStore], database_url: str, params: dict[str, str], field: str
) -> None:
    base, _ = six_months
    async with httpx.AsyncClient(base_url=base, headers=await admin_headers(database_url)) as http:
        response = await http.get(HIDDEN, params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    (error,) = response.json()["errors"]
    assert error["field"] == field
    if params == {"period": "2026-12"}:
        assert error["reason"] == "2026-12 has not closed yet; the latest closed one is 2026-11"


def _numbers(value: Any, key: str = "") -> list[tuple[str, int]]:
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _numbers(v, k)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v, key)]
    if isinstance(value, int) and not isinstance(value, bool):
        return [(key, value)]
    return []


# Every number the report may hold: settings and counts of periods, never of people.
PERIOD_COUNTS = {
    "min_group_size",
    "sustained_periods",
    "hidden_periods",
    "measured_periods",
    "needed",
    "published_periods",
    "periods_to_alert",
    "below_minimum",
    "no_responses",
    "differencing",
}


async def test_no_answer_says_how_many_answered_in_a_hidden_group(
    six_months: tuple[str, PostgresScoringStore], database_url: str
) -> None:
    base, store = six_months
    async with httpx.AsyncClient(base_url=base, headers=await admin_headers(database_url)) as http:
        with_two = (await http.get(HIDDEN)).json()
        # Grupp B1 grows from 2 to 4 answers a month: still hidden, and nothing in the report may change.
        await store.apply([c for month in MONTHS for c in submissions("grupp-b1", month, 2, 2)], [])
        with_four = (await http.get(HIDDEN)).json()
    assert with_four == with_two
    numbers = _numbers(with_two)
    assert numbers
    assert {key for key, _ in numbers} <= PERIOD_COUNTS
    # The same team, now with enough answers: the report changes, so the comparison above could fail.
    await store.apply([c for month in MONTHS for c in submissions("grupp-b1", month, 4, 1)], [])
    async with httpx.AsyncClient(base_url=base, headers=await admin_headers(database_url)) as http:
        with_five = (await http.get(HIDDEN)).json()
    assert with_five != with_two
    # Shown now, but in September, when Grupp A1's 4 had to be protected inside Förvaltningen, hidden
    # for differencing (Förvaltningen minus Enhet B's 6 and Grupp B1's 5 would reveal them).
    grown = _by_unit(with_five)[("grupp-b1", "unit")]
    assert (grown["reasons"], grown["protects"]) == (
        {"differencing": 1},
        [{"unit": "forv", "unit_name": "Förvaltningen"}],
    )
    assert grown["alerts"]["can_alert"] is True


async def test_the_units_hidden_command_prints_what_hr_can_act_on(
    six_months: tuple[str, PostgresScoringStore], database_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base, _ = six_months
    token = await issue_token(database_url, tenant="testkommun", scopes={Scope.READ})
    code = await asyncio.to_thread(main, ["units", "hidden", "testkommun", "--url", base, "--token", token])
    out = capsys.readouterr().out
    refused = await asyncio.to_thread(
        main, ["units", "hidden", "testkommun", "--url", base, "--token", token, "--period", "2026-12"]
    )
    err = capsys.readouterr().err
    other = await issue_token(database_url, tenant="grannkommun", scopes={Scope.READ})
    foreign = await asyncio.to_thread(main, ["units", "hidden", "testkommun", "--url", base, "--token", other])
    capsys.readouterr()
    down = await asyncio.to_thread(
        main, ["units", "hidden", "testkommun", "--url", "http://127.0.0.1:9", "--token", token]
    )
    assert code == 0, out
    assert "Grupp B1" in out
    assert "cannot alert" in out
    assert "Cannot alert: 2 published periods are needed, it had 0 of the last 6." in out
    assert "Merge Grupp B1 with a sibling in the org file" in out
    assert "6 of 6" in out
    assert refused == 2
    assert "has not closed yet; the latest closed one is 2026-11" in err
    assert foreign == 2
    assert down == 3
