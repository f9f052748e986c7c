from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tempen_scoring.domain.anonymity import Group, Visibility, visibility
from tempen_shared.tenancy.org import OrgTree, OrgUnit

MIN = 5
HIDDEN_FOR_DIFFERENCING = Visibility(publishable=False, reason="differencing")
PUBLISHABLE = Visibility(publishable=True, reason=None)


def _tree(parents: Mapping[str, str | None]) -> OrgTree:
    return OrgTree.build(OrgUnit(id=u, name=u, parent=p, manager=None) for u, p in parents.items())


def _subtree_count(tree: OrgTree, unit_id: str, direct: Mapping[str, int]) -> int:
    return sum(direct.get(u, 0) for u in tree.subtree(unit_id))


def _unprotected_remainder(
    tree: OrgTree, unit_id: str, direct: Mapping[str, int], shown: Mapping[Group, Visibility]
) -> int:
    """Subtree n minus the publishable parts directly beneath it: what subtraction reveals."""
    own = direct.get(unit_id, 0) if shown[(unit_id, "unit")].publishable else 0
    children = sum(
        _subtree_count(tree, child, direct) for child in tree.children[unit_id] if shown[(child, "subtree")].publishable
    )
    return _subtree_count(tree, unit_id, direct) - own - children


def test_empty_groups_have_no_responses_and_small_ones_are_below_the_minimum() -> None:
    # The two small units together hold 7, so subtracting "big" from "top" reveals no small group.
    units = ("top", "small", "smaller", "big")
    tree = _tree({"top": None, "small": "top", "smaller": "top", "big": "top"})

    shown = visibility(tree, {"small": 4, "smaller": 3, "big": 5}, MIN)

    assert shown[("top", "unit")] == Visibility(publishable=False, reason="no_responses")
    assert shown[("small", "unit")] == Visibility(publishable=False, reason="below_minimum")
    assert shown[("smaller", "subtree")] == Visibility(publishable=False, reason="below_minimum")
    assert shown[("big", "unit")] == PUBLISHABLE
    assert shown[("top", "subtree")] == PUBLISHABLE
    assert set(shown) == {(u, scope) for u in units for scope in ("unit", "subtree")}


def test_a_large_sibling_of_a_two_person_unit_is_hidden_so_the_parent_cannot_be_subtracted() -> None:
    # Parent 32 = large 30 + small 2. Showing the parent and the large unit would reveal the two.
    tree = _tree({"parent": None, "large": "parent", "pair": "parent"})
    direct = {"large": 30, "pair": 2}

    shown = visibility(tree, direct, MIN)

    assert shown[("parent", "subtree")] == PUBLISHABLE
    assert shown[("pair", "subtree")].reason == "below_minimum"
    assert shown[("large", "subtree")] == HIDDEN_FOR_DIFFERENCING
    assert shown[("large", "unit")] == HIDDEN_FOR_DIFFERENCING  # the same 30 people, so hidden too
    assert _unprotected_remainder(tree, "parent", direct, shown) == 32


def test_two_direct_members_beside_big_subunits_cost_the_smallest_subunit_its_result() -> None:
    # The head office has 2 people of its own and two teams of 20 and 30 below it.
    tree = _tree({"office": None, "team-20": "office", "team-30": "office"})
    direct = {"office": 2, "team-20": 20, "team-30": 30}

    shown = visibility(tree, direct, MIN)

    assert shown[("office", "unit")].reason == "below_minimum"
    assert shown[("office", "subtree")] == PUBLISHABLE
    assert shown[("team-20", "subtree")] == HIDDEN_FOR_DIFFERENCING
    assert shown[("team-20", "unit")] == HIDDEN_FOR_DIFFERENCING
    assert shown[("team-30", "subtree")] == PUBLISHABLE
    assert _unprotected_remainder(tree, "office", direct, shown) == 22


def test_a_single_child_beside_a_tiny_own_group_is_hidden() -> None:
    tree = _tree({"unit": None, "only-child": "unit"})
    direct = {"unit": 3, "only-child": 40}

    shown = visibility(tree, direct, MIN)

    assert shown[("unit", "subtree")] == PUBLISHABLE
    assert shown[("only-child", "subtree")] == HIDDEN_FOR_DIFFERENCING
    assert shown[("only-child", "unit")] == HIDDEN_FOR_DIFFERENCING


def test_hiding_a_part_also_hides_the_publishable_groups_inside_it_that_would_give_it_away() -> None:
    # Under "dept" (no members of its own): "team" (12 = 10 direct + a 2-person "sub") and "other" (10).
    # Hiding "team" alone is not enough: dept - other - team's own 10 still leaves the pair.
    tree = _tree({"dept": None, "team": "dept", "sub": "team", "other": "dept"})
    direct = {"team": 10, "sub": 2, "other": 10}

    shown = visibility(tree, direct, MIN)

    assert shown[("team", "subtree")] == PUBLISHABLE  # 12 = 10 + 2 is itself a differencing risk ...
    assert shown[("team", "unit")] == HIDDEN_FOR_DIFFERENCING  # ... so team's own group is hidden
    assert shown[("dept", "subtree")] == PUBLISHABLE
    assert shown[("other", "subtree")] == PUBLISHABLE
    assert _unprotected_remainder(tree, "team", direct, shown) == 12


def test_nothing_is_hidden_for_differencing_when_no_small_group_exists() -> None:
    tree = _tree({"root": None, "a": "root", "b": "root", "a1": "a"})

    shown = visibility(tree, {"root": 6, "a": 5, "b": 9, "a1": 7}, MIN)

    assert all(v == PUBLISHABLE for v in shown.values())


@pytest.mark.parametrize(
    ("direct", "min_group_size", "message"),
    [({"nowhere": 3}, 5, "not in the tree"), ({"root": -1}, 5, "negative"), ({"root": 3}, 0, "at least 1")],
)
def test_impossible_inputs_are_refused(direct: dict[str, int], min_group_size: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        visibility(_tree({"root": None}), direct, min_group_size)


@st.composite
def org_with_counts(draw: st.DrawFn, max_units: int = 9) -> tuple[OrgTree, dict[str, int], int]:
    size = draw(st.integers(1, max_units))
    parents: dict[str, str | None] = {"u0": None}
    for n in range(1, size):
        parents[f"u{n}"] = f"u{draw(st.integers(0, n - 1))}"
    counts = {u: draw(st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 8, 12, 30])) for u in parents}
    return _tree(parents), counts, draw(st.integers(2, 6))


TREE_SETTINGS = settings(
    database=None, deadline=None, max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@TREE_SETTINGS
@given(org_with_counts())
def test_no_published_subtree_minus_its_published_parts_leaves_a_small_group(
    case: tuple[OrgTree, dict[str, int], int],
) -> None:
    tree, direct, minimum = case

    shown = visibility(tree, direct, minimum)

    for unit_id in tree.units:
        if shown[(unit_id, "subtree")].publishable:
            assert not 0 < _unprotected_remainder(tree, unit_id, direct, shown) < minimum


@TREE_SETTINGS
@given(org_with_counts())
def test_reasons_follow_group_sizes(case: tuple[OrgTree, dict[str, int], int]) -> None:
    tree, direct, minimum = case

    shown = visibility(tree, direct, minimum)

    for (unit_id, scope), seen in shown.items():
        n = direct.get(unit_id, 0) if scope == "unit" else _subtree_count(tree, unit_id, direct)
        expected_reason = "no_responses" if n == 0 else "below_minimum" if n < minimum else seen.reason
        assert seen.reason == expected_reason
        assert seen.publishable == (seen.reason is None)
        assert seen.reason in (None, "no_responses", "below_minimum", "differencing")


@TREE_SETTINGS
@given(org_with_counts(), st.integers(2, 6))
def test_nothing_is_hidden_for_differencing_when_every_unit_is_empty_or_large_enough(
    case: tuple[OrgTree, dict[str, int], int], minimum: int
) -> None:
    tree, direct, _ = case
    safe = {u: n if n == 0 or n >= minimum else minimum for u, n in direct.items()}

    shown = visibility(tree, safe, minimum)

    assert all(v.reason != "differencing" for v in shown.values())


def _in_row_space(rows: Sequence[Sequence[Fraction]], vector: Sequence[Fraction]) -> bool:
    """Gaussian elimination over the rationals: is `vector` a linear combination of `rows`?"""
    basis: list[tuple[int, list[Fraction]]] = []  # (pivot column, row with 1 at the pivot)
    for row in rows:
        reduced = _reduce(list(row), basis)
        pivot = next((i for i, x in enumerate(reduced) if x), None)
        if pivot is not None:
            basis.append((pivot, [x / reduced[pivot] for x in reduced]))
    return not any(_reduce(list(vector), basis))


def _reduce(vector: list[Fraction], basis: Sequence[tuple[int, list[Fraction]]]) -> list[Fraction]:
    for pivot, row in basis:
        if vector[pivot]:
            factor = vector[pivot]
            vector = [x - factor * y for x, y in zip(vector, row, strict=True)]
    return vector


@settings(database=None, deadline=None, max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(org_with_counts(max_units=7))
def test_no_set_of_units_with_one_to_min_minus_one_respondents_can_be_computed_from_published_groups(
    case: tuple[OrgTree, dict[str, int], int],
) -> None:
    # An attacker knows every published group's sums; any linear combination of them is computable.
    tree, direct, minimum = case
    shown = visibility(tree, direct, minimum)
    members = sorted(u for u in tree.units if direct.get(u, 0))

    def indicator(units: set[str]) -> list[Fraction]:
        return [Fraction(1 if u in units else 0) for u in members]

    published = [
        indicator({unit_id} if scope == "unit" else set(tree.subtree(unit_id)))
        for (unit_id, scope), seen in shown.items()
        if seen.publishable
    ]
    for size in range(1, len(members) + 1):
        for chosen in combinations(members, size):
            if 0 < sum(direct[u] for u in chosen) < minimum:
                assert not _in_row_space(published, indicator(set(chosen))), chosen
