"""The HME report's rows: the municipality and its förvaltningar, published figures only, on the
adversarial trees the anonymity rule's own tests use."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from tempen_scoring.domain.anonymity import visibility
from tempen_scoring.domain.report import StoredFigure, report_rows, report_units, response_rate
from tempen_shared.tenancy.org import OrgTree, OrgUnit

INDICES = ["hme", "motivation", "ledarskap", "styrning"]


def _tree(*units: tuple[str, str | None, int | None]) -> OrgTree:
    return OrgTree.build(OrgUnit(u, u.title(), parent, None, headcount) for u, parent, headcount in units)


def _stored(tree: OrgTree, direct: Mapping[str, int], *, minimum: int = 5) -> dict[str, dict[str, StoredFigure]]:
    """What scoring stores for every subtree group with respondents, its verdicts from the real rule."""
    seen = visibility(tree, direct, minimum, complement="fewest_people")
    out: dict[str, dict[str, StoredFigure]] = {}
    for unit in tree.units:
        n = sum(direct.get(u, 0) for u in tree.subtree(unit))
        if n == 0:
            continue
        verdict = seen[(unit, "subtree")]
        out[unit] = {
            d: StoredFigure(n, verdict.publishable, verdict.reason, 70.0 if verdict.publishable else None)
            for d in INDICES
        }
    return out


def test_the_municipality_is_the_root_and_the_forvaltningar_its_children() -> None:
    tree = _tree(("kommun", None, 2), ("b", "kommun", 3), ("a", "kommun", 4), ("a1", "a", 10))
    assert report_units(tree) == [("kommun", "municipality"), ("b", "forvaltning"), ("a", "forvaltning")]


def test_a_published_row_has_its_figures_and_response_rate() -> None:
    tree = _tree(("kommun", None, 0), ("a", "kommun", 10), ("b", "kommun", None))
    rows = report_rows(tree, _stored(tree, {"a": 6, "b": 7}), INDICES)
    kommun, a, b = rows
    assert (kommun.published, kommun.respondents, kommun.response_rate) == (True, 13, None)  # b's headcount unknown
    assert (a.published, a.respondents, a.response_rate) == (True, 6, 0.6)
    assert a.indices == {"hme": 70.0, "motivation": 70.0, "ledarskap": 70.0, "styrning": 70.0}
    assert (b.response_rate, b.level) == (None, "forvaltning")


def test_a_dimension_nobody_answered_has_no_index() -> None:
    tree = _tree(
        ("kommun", None, None),
    )
    stored = {"kommun": {"hme": StoredFigure(6, True, None, 60.0), "motivation": StoredFigure(6, True, None, 50.0)}}
    (row,) = report_rows(tree, stored, INDICES)
    assert row.indices == {"hme": 60.0, "motivation": 50.0, "ledarskap": None, "styrning": None}


def test_a_forvaltning_nobody_answered_in_is_hidden_as_no_responses() -> None:
    tree = _tree(("kommun", None, None), ("a", "kommun", None), ("b", "kommun", None))
    rows = report_rows(tree, _stored(tree, {"a": 9}), INDICES)
    assert (rows[2].published, rows[2].reason, rows[2].respondents) == (False, "no_responses", None)


# The adversarial trees of docs/scoring.md §4 and tests/scoring/unit/test_anonymity.py, each under a
# municipality: parent = child of 30 + child of 2; an office of 2 with teams of 20 and 30; a unit of 3
# with a single child of 40; a team of 10 with a sub-team of 2 beside another team.
ADVERSARIAL = [
    (
        [("kommun", None, None), ("big", "kommun", None), ("small", "kommun", None)],
        {"big": 30, "small": 2},
    ),
    (
        [("kommun", None, None), ("office", "kommun", None), ("t20", "office", None), ("t30", "office", None)],
        {"office": 2, "t20": 20, "t30": 30},
    ),
    (
        [("kommun", None, None), ("u", "kommun", None), ("only", "u", None), ("other", "kommun", None)],
        {"u": 3, "only": 40, "other": 9},
    ),
    (
        [("kommun", None, 3), ("x", "kommun", None), ("y", "kommun", None), ("z", "kommun", None)],
        {"kommun": 3, "x": 11, "y": 9, "z": 3},
    ),
    (
        [("kommun", None, None), ("team", "kommun", None), ("sub", "team", None), ("beside", "kommun", None)],
        {"team": 10, "sub": 2, "beside": 8},
    ),
]


@pytest.mark.parametrize(("units", "direct"), ADVERSARIAL)
def test_no_hidden_row_says_how_many_and_the_rows_shown_never_subtract_to_a_small_group(
    units: list[tuple[str, str | None, int | None]], direct: dict[str, int]
) -> None:
    tree = _tree(*units)
    rows = report_rows(tree, _stored(tree, direct), INDICES)
    for r in rows:
        if not r.published:
            assert (r.respondents, r.response_rate, r.indices) == (None, None, None)
            assert r.reason in ("no_responses", "below_minimum", "differencing")
    shown = {r.unit: r.respondents or 0 for r in rows if r.published}
    # Every combination the rows allow: the municipality (if shown) minus any set of förvaltningar shown.
    totals = [n for u, n in shown.items() if u != tree.root]
    sums = {0}
    for n in totals:
        sums |= {s + n for s in sums}
    candidates = set(sums) - {0}
    if tree.root in shown:
        candidates |= {shown[tree.root] - s for s in sums}
    assert all(c == 0 or c >= 5 for c in candidates), sorted(candidates)


def test_the_rows_would_reveal_a_small_group_if_they_ignored_the_verdicts() -> None:
    """The check above can fail: the same tree with every group shown regardless reveals the 2."""
    tree = _tree(("kommun", None, None), ("big", "kommun", None), ("small", "kommun", None))
    stored = _stored(tree, {"big": 30, "small": 2})
    rows = report_rows(tree, stored, INDICES)
    assert [r.published for r in rows] != [True, True, False]  # scoring did not leave kommun and big both shown
    leaky = {
        u: {d: StoredFigure(f.respondents, True, None, 1.0) for d, f in dims.items()} for u, dims in stored.items()
    }
    shown = {r.unit: r.respondents for r in report_rows(tree, leaky, INDICES) if r.published}
    assert shown["kommun"] - shown["big"] == 2


def test_response_rate_needs_every_headcount_of_the_group() -> None:
    tree = _tree(("kommun", None, 0), ("a", "kommun", 10), ("a1", "a", 10), ("b", "kommun", None))
    assert response_rate(tree, "a", "subtree", 5) == 0.25
    assert response_rate(tree, "a", "unit", 5) == 0.5
    assert response_rate(tree, "kommun", "subtree", 5) is None
    assert response_rate(tree, "kommun", "unit", 5) is None  # nobody placed in it: no rate, not a division by 0
    assert response_rate(None, "a", "subtree", 5) is None
