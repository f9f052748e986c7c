"""Which units cannot be shown or cannot alert, and why: the pure rules HR's report is built from."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tempen_scoring.domain.anonymity import visibility
from tempen_scoring.domain.hidden import (
    NO_RESPONSES,
    PUBLISHED,
    actions,
    alert_reach,
    explain,
    hidden_groups,
    latest_closed,
    protected_by,
    span,
)
from tempen_shared.tenancy.models import ComplementarySuppression
from tempen_shared.tenancy.org import OrgTree, OrgUnit

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _tree(parents: Mapping[str, str | None]) -> OrgTree:
    return OrgTree.build(OrgUnit(id=u, name=u.title(), parent=p, manager=None) for u, p in parents.items())


def test_a_unit_with_fewer_published_periods_than_a_run_needs_cannot_alert() -> None:
    never = alert_reach(["below_minimum"] * 6, 2)
    assert (never.can_alert, never.published, never.measured, never.periods_to_alert) == (False, 0, 6, None)
    once = alert_reach(["below_minimum", PUBLISHED, "below_minimum"], 2)
    assert once.can_alert is False
    # Two published periods of six: a run spans the hidden ones, so it can alert, three times as late.
    sparse = alert_reach([PUBLISHED, "below_minimum", "differencing", PUBLISHED, NO_RESPONSES, NO_RESPONSES], 2)
    assert (sparse.can_alert, sparse.periods_to_alert) == (True, 6)
    assert alert_reach([PUBLISHED] * 4, 2).periods_to_alert == 2
    assert alert_reach([PUBLISHED] * 5 + ["below_minimum"], 2).periods_to_alert == 2  # 2.4: hardly late
    assert alert_reach([PUBLISHED] * 4 + ["below_minimum"] * 2, 2).periods_to_alert == 3
    assert alert_reach([PUBLISHED] * 3, 4).can_alert is None  # a span shorter than a run cannot tell


def test_periods_the_unit_was_not_measured_or_not_in_the_org_do_not_count() -> None:
    reach = alert_reach(["unmeasured", "not_in_org", "below_minimum"], 2)
    assert (reach.measured, reach.can_alert) == (1, None)  # one period cannot tell
    assert alert_reach(["unmeasured", PUBLISHED, PUBLISHED], 2).can_alert is True


def test_the_latest_closed_period_waits_for_the_grace_hours() -> None:
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert latest_closed("monthly", STOCKHOLM, now, timedelta(0)).key == "2026-11"
    early = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 00:30 on 1 December in Stockholm
    assert latest_closed("monthly", STOCKHOLM, early, timedelta(0)).key == "2026-11"
    assert latest_closed("monthly", STOCKHOLM, early, timedelta(hours=24)).key == "2026-10"
    assert latest_closed("quarterly", STOCKHOLM, now, timedelta(0)).key == "2026-Q3"
    last = latest_closed("monthly", STOCKHOLM, now, timedelta(0))
    assert [p.key for p in span(last, 3, "monthly", STOCKHOLM)] == ["2026-09", "2026-10", "2026-11"]


def test_a_large_team_hidden_for_differencing_protects_its_parent() -> None:
    tree = _tree({"top": None, "parent": "top", "big": "parent", "small": "parent", "other": "top"})
    seen = visibility(tree, {"big": 30, "small": 2, "other": 20}, 5, complement="smallest_part")
    assert seen[("big", "unit")].reason == "differencing"
    published = {g for g, v in seen.items() if v.publishable}
    assert protected_by(tree, ("big", "unit"), published) == "parent"
    assert protected_by(tree, ("big", "subtree"), published) == "parent"


@st.composite
def _trees(draw: st.DrawFn) -> tuple[OrgTree, dict[str, int]]:
    size = draw(st.integers(2, 9))
    parents: dict[str, str | None] = {"u0": None}
    for n in range(1, size):
        parents[f"u{n}"] = f"u{draw(st.integers(0, n - 1))}"
    counts = {u: draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 8, 12, 30])) for u in parents}
    return _tree(parents), counts


@pytest.mark.parametrize("complement", ["smallest_part", "fewest_people"])
@settings(max_examples=300, deadline=None)
@given(drawn=_trees())
def test_every_group_hidden_for_differencing_names_a_published_group_that_contains_it(
    complement: ComplementarySuppression, drawn: tuple[OrgTree, dict[str, int]]
) -> None:
    tree, counts = drawn
    seen = visibility(tree, counts, 5, complement=complement)
    published = {g for g, v in seen.items() if v.publishable}
    for (unit, scope), verdict in seen.items():
        if verdict.reason != "differencing":
            continue
        around = protected_by(tree, (unit, scope), published)
        assert around is not None, (unit, scope)
        assert (around, "subtree") in published
        assert unit in set(tree.subtree(around))
        assert (scope, around) != ("subtree", unit)  # a subtree never protects itself


def test_hidden_groups_lists_what_was_hidden_those_that_cannot_alert_first() -> None:
    tree = _tree({"top": None, "team": "top", "tiny": "top", "fine": "top"})
    periods = ["2026-09", "2026-10", "2026-11"]
    statuses = {
        **{(p, "top", s): PUBLISHED for p in periods for s in ("unit", "subtree")},
        **{(p, "fine", "unit"): PUBLISHED for p in periods},
        ("2026-09", "team", "unit"): PUBLISHED,
        ("2026-10", "team", "unit"): "below_minimum",
        ("2026-11", "team", "unit"): PUBLISHED,
        ("2026-09", "tiny", "unit"): "below_minimum",
        # 2026-10: no row, nobody answered in "tiny"
        ("2026-11", "tiny", "unit"): "below_minimum",
    }
    found = hidden_groups(periods, [tree] * 3, [True] * 3, statuses, tree, 2)
    assert [(g.unit, g.scope) for g in found] == [("tiny", "unit"), ("team", "unit")]
    tiny, team = found
    assert tiny.periods == (("2026-09", "below_minimum"), ("2026-10", NO_RESPONSES), ("2026-11", "below_minimum"))
    assert tiny.reach is not None
    assert tiny.reach.can_alert is False
    assert tiny.reasons == {"below_minimum": 2, NO_RESPONSES: 1}
    assert team.reach is not None
    assert team.reach.can_alert is True
    text = explain(tiny, tree, 5)
    assert "fewer than 5 answered" in text
    assert "Cannot alert: 2 published periods are needed" in text


def test_an_unmeasured_period_or_a_unit_new_in_the_org_hides_nothing() -> None:
    before = _tree({"top": None, "a": "top"})
    after = _tree({"top": None, "a": "top", "new": "top"})
    statuses = {(p, u, "unit"): PUBLISHED for p in ("2026-10", "2026-11") for u in ("top", "a", "new")}
    statuses |= {(p, "top", "subtree"): PUBLISHED for p in ("2026-10", "2026-11")}
    found = hidden_groups(
        ["2026-09", "2026-10", "2026-11"], [before, before, after], [False, True, True], statuses, after, 2
    )
    assert found == []


def test_a_parent_with_nobody_placed_in_it_is_not_a_team_nobody_answers_for() -> None:
    units = [
        OrgUnit("top", "Top", None, None),
        OrgUnit("office", "Office", "top", None, headcount=4),
        OrgUnit("team", "Team", "office", None),
        OrgUnit("quiet", "Quiet", "top", None),
    ]
    tree = OrgTree.build(units)
    periods = ["2026-10", "2026-11"]
    statuses = {(p, u, s): PUBLISHED for p in periods for u in ("top", "team") for s in ("unit", "subtree")}
    statuses |= {(p, "office", "subtree"): PUBLISHED for p in periods}
    found = hidden_groups(periods, [tree] * 2, [True] * 2, statuses, tree, 2)
    # "top" has nobody of its own; "office" has 4 placed in it who never answered; "quiet" is a team.
    assert [(g.unit, g.scope, g.latest) for g in found] == [
        ("office", "unit", NO_RESPONSES),
        ("quiet", "unit", NO_RESPONSES),
    ]


def test_a_team_hidden_now_and_then_needs_answers_one_hidden_mostly_a_larger_group() -> None:
    tree = _tree({"top": None, "team": "top"})
    periods = ["2026-09", "2026-10", "2026-11"]
    top = {(p, "top", s): PUBLISHED for p in periods for s in ("unit", "subtree")}

    def codes(team: list[str], min_group_size: int = 5) -> list[str]:
        statuses = top | {(p, "team", "unit"): s for p, s in zip(periods, team, strict=True)}
        (group,) = hidden_groups(periods, [tree] * 3, [True] * 3, statuses, tree, 2)
        return [a.code for a in actions(group, tree, min_group_size)]

    assert codes([PUBLISHED, "below_minimum", PUBLISHED]) == ["encourage_answers"]
    assert codes(["below_minimum", "below_minimum", PUBLISHED]) == [
        "merge_team",
        "encourage_answers",
        "change_cadence",
        "lower_minimum",
    ]
    assert "lower_minimum" not in codes(["below_minimum"] * 3, min_group_size=3)
    assert codes([NO_RESPONSES] * 3) == ["check_survey_reaches", "encourage_answers"]
