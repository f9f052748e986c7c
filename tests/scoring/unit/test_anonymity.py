from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from itertools import combinations
from typing import get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tempen_scoring.domain.anonymity import Group, Visibility, visibility
from tempen_shared.tenancy.models import ComplementarySuppression
from tempen_shared.tenancy.org import OrgTree, OrgUnit

MIN = 5
HIDDEN_FOR_DIFFERENCING = Visibility(publishable=False, reason="differencing")
PUBLISHABLE = Visibility(publishable=True, reason=None)
POLICIES: tuple[ComplementarySuppression, ...] = get_args(ComplementarySuppression)
Case = tuple[OrgTree, dict[str, int], int]


def _tree(parents: Mapping[str, str | None]) -> OrgTree:
    return OrgTree.build(OrgUnit(id=u, name=u, parent=p, manager=None) for u, p in parents.items())


def _subtree_count(tree: OrgTree, unit_id: str, direct: Mapping[str, int]) -> int:
    return sum(direct.get(u, 0) for u in tree.subtree(unit_id))


def _count(tree: OrgTree, group: Group, direct: Mapping[str, int]) -> int:
    unit_id, scope = group
    return direct.get(unit_id, 0) if scope == "unit" else _subtree_count(tree, unit_id, direct)


def _unprotected_remainder(
    tree: OrgTree, unit_id: str, direct: Mapping[str, int], shown: Mapping[Group, Visibility]
) -> int:
    """Subtree n minus the publishable parts directly beneath it: what subtraction reveals."""
    own = direct.get(unit_id, 0) if shown[(unit_id, "unit")].publishable else 0
    children = sum(
        _subtree_count(tree, child, direct) for child in tree.children[unit_id] if shown[(child, "subtree")].publishable
    )
    return _subtree_count(tree, unit_id, direct) - own - children


def _remainders(tree: OrgTree, direct: Mapping[str, int], published: set[Group]) -> dict[Group, int]:
    """Each published group's respondents that no published group inside it holds (looking through hidden ones)."""
    out: dict[Group, int] = {}
    for group in published:
        inside, stack = (
            0,
            [] if group[1] == "unit" else [(group[0], "unit"), *((c, "subtree") for c in tree.children[group[0]])],
        )
        while stack:
            part = stack.pop()
            if part in published:
                inside += _count(tree, part, direct)
            elif part[1] == "subtree":
                stack.extend([(part[0], "unit"), *((c, "subtree") for c in tree.children[part[0]])])
        out[group] = _count(tree, group, direct) - inside
    return out


def _withheld(tree: OrgTree, direct: Mapping[str, int], hidden: set[Group]) -> tuple[int, int]:
    """(respondents of actionable groups, of roll-ups) among `hidden`, as docs/privacy.md defines them."""
    actionable = sum(_count(tree, g, direct) for g in hidden if g[1] == "unit" or g[0] == tree.root)
    return actionable, sum(_count(tree, g, direct) for g in hidden) - actionable


def _hidden_for_differencing(shown: Mapping[Group, Visibility]) -> set[Group]:
    return {group for group, seen in shown.items() if seen.reason == "differencing"}


@pytest.mark.parametrize("complement", POLICIES)
def test_empty_groups_have_no_responses_and_small_ones_are_below_the_minimum(
    complement: ComplementarySuppression,
) -> None:
    # The two small units together hold 7, so subtracting "big" from "top" reveals no small group.
    units = ("top", "small", "smaller", "big")
    tree = _tree({"top": None, "small": "top", "smaller": "top", "big": "top"})

    shown = visibility(tree, {"small": 4, "smaller": 3, "big": 5}, MIN, complement=complement)

    assert shown[("top", "unit")] == Visibility(publishable=False, reason="no_responses")
    assert shown[("small", "unit")] == Visibility(publishable=False, reason="below_minimum")
    assert shown[("smaller", "subtree")] == Visibility(publishable=False, reason="below_minimum")
    assert shown[("big", "unit")] == PUBLISHABLE
    assert shown[("top", "subtree")] == PUBLISHABLE
    assert set(shown) == {(u, scope) for u in units for scope in ("unit", "subtree")}


def test_smallest_part_a_large_sibling_of_a_two_person_unit_is_hidden_so_the_parent_cannot_be_subtracted() -> None:
    # Parent 32 = large 30 + small 2. Showing the parent and the large unit would reveal the two.
    tree = _tree({"parent": None, "large": "parent", "pair": "parent"})
    direct = {"large": 30, "pair": 2}

    shown = visibility(tree, direct, MIN, complement="smallest_part")

    assert shown[("parent", "subtree")] == PUBLISHABLE
    assert shown[("pair", "subtree")].reason == "below_minimum"
    assert shown[("large", "subtree")] == HIDDEN_FOR_DIFFERENCING
    assert shown[("large", "unit")] == HIDDEN_FOR_DIFFERENCING  # the same 30 people, so hidden too
    assert _unprotected_remainder(tree, "parent", direct, shown) == 32


def test_smallest_part_two_direct_members_beside_big_subunits_cost_the_smallest_subunit_its_result() -> None:
    # The head office has 2 people of its own and two teams of 20 and 30 below it.
    tree = _tree({"office": None, "team-20": "office", "team-30": "office"})
    direct = {"office": 2, "team-20": 20, "team-30": 30}

    shown = visibility(tree, direct, MIN, complement="smallest_part")

    assert shown[("office", "unit")].reason == "below_minimum"
    assert shown[("office", "subtree")] == PUBLISHABLE
    assert shown[("team-20", "subtree")] == HIDDEN_FOR_DIFFERENCING
    assert shown[("team-20", "unit")] == HIDDEN_FOR_DIFFERENCING
    assert shown[("team-30", "subtree")] == PUBLISHABLE
    assert _unprotected_remainder(tree, "office", direct, shown) == 22


def test_smallest_part_a_single_child_beside_a_tiny_own_group_is_hidden() -> None:
    tree = _tree({"unit": None, "only-child": "unit"})
    direct = {"unit": 3, "only-child": 40}

    shown = visibility(tree, direct, MIN, complement="smallest_part")

    assert shown[("unit", "subtree")] == PUBLISHABLE
    assert shown[("only-child", "subtree")] == HIDDEN_FOR_DIFFERENCING
    assert shown[("only-child", "unit")] == HIDDEN_FOR_DIFFERENCING


def test_smallest_part_hiding_a_part_also_hides_the_publishable_groups_inside_it_that_would_give_it_away() -> None:
    # Under "dept" (no members of its own): "team" (12 = 10 direct + a 2-person "sub") and "other" (10).
    # Hiding "team" alone is not enough: dept - other - team's own 10 still leaves the pair.
    tree = _tree({"dept": None, "team": "dept", "sub": "team", "other": "dept"})
    direct = {"team": 10, "sub": 2, "other": 10}

    shown = visibility(tree, direct, MIN, complement="smallest_part")

    assert shown[("team", "subtree")] == PUBLISHABLE  # 12 = 10 + 2 is itself a differencing risk ...
    assert shown[("team", "unit")] == HIDDEN_FOR_DIFFERENCING  # ... so team's own group is hidden
    assert shown[("dept", "subtree")] == PUBLISHABLE
    assert shown[("other", "subtree")] == PUBLISHABLE
    assert _unprotected_remainder(tree, "team", direct, shown) == 12


@pytest.mark.parametrize("complement", POLICIES)
def test_nothing_is_hidden_for_differencing_when_no_small_group_exists(complement: ComplementarySuppression) -> None:
    tree = _tree({"root": None, "a": "root", "b": "root", "a1": "a"})

    shown = visibility(tree, {"root": 6, "a": 5, "b": 9, "a1": 7}, MIN, complement=complement)

    assert all(v == PUBLISHABLE for v in shown.values())


@pytest.mark.parametrize(
    ("direct", "min_group_size", "message"),
    [({"nowhere": 3}, 5, "not in the tree"), ({"root": -1}, 5, "negative"), ({"root": 3}, 0, "at least 1")],
)
def test_impossible_inputs_are_refused(direct: dict[str, int], min_group_size: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        visibility(_tree({"root": None}), direct, min_group_size, complement="fewest_people")


def test_fewest_people_hides_the_parents_roll_up_where_smallest_part_hides_two_teams() -> None:
    # The parent of 11, 9 and 3, under a unit with 2 people of its own and a team of 8.
    # smallest_part hides the 8 (the unit's remainder of 2) and the 9 (the parent's remainder of 3).
    # Hiding the parent's roll-up instead merges its 3 with the unit's 2: five, safe, no team lost.
    tree = _tree({"unit": None, "parent": "unit", "t11": "parent", "t9": "parent", "t3": "parent", "t8": "unit"})
    direct = {"unit": 2, "t11": 11, "t9": 9, "t3": 3, "t8": 8}

    glint = visibility(tree, direct, MIN, complement="smallest_part")
    fewest = visibility(tree, direct, MIN, complement="fewest_people")

    assert _hidden_for_differencing(glint) == {("t9", "unit"), ("t9", "subtree"), ("t8", "unit"), ("t8", "subtree")}
    assert _hidden_for_differencing(fewest) == {("parent", "subtree")}
    assert fewest[("t9", "unit")] == fewest[("t8", "unit")] == fewest[("unit", "subtree")] == PUBLISHABLE
    assert _remainders(tree, direct, {g for g, v in fewest.items() if v.publishable})[("unit", "subtree")] == 5


UNDER_A_KOMMUN = {"kommun": None, "parent": "kommun", "x": "kommun"}


@pytest.mark.parametrize(
    ("children", "direct", "glint_hides"),
    [
        ({"large": "parent", "pair": "parent"}, {"large": 30, "pair": 2}, "large"),
        ({"team-20": "parent", "team-30": "parent"}, {"parent": 2, "team-20": 20, "team-30": 30}, "team-20"),
    ],
)
def test_under_a_kommun_with_people_of_its_own_a_small_remainder_joins_theirs(
    children: dict[str, str], direct: dict[str, int], glint_hides: str
) -> None:
    # docs/scoring.md: two of smallest_part's examples, under a kommun with 3 people of its own and a
    # unit of 20. smallest_part hides a team and then the unit of 20; fewest_people only the roll-up.
    tree = _tree(UNDER_A_KOMMUN | children)
    direct = {"kommun": 3, "x": 20, **direct}

    glint = visibility(tree, direct, MIN, complement="smallest_part")
    fewest = visibility(tree, direct, MIN, complement="fewest_people")

    assert _hidden_for_differencing(glint) == {(u, scope) for u in (glint_hides, "x") for scope in ("unit", "subtree")}
    assert _hidden_for_differencing(fewest) == {("parent", "subtree")}


def test_fewest_people_keeps_the_tenants_own_index_and_hides_a_team_when_nothing_else_will_do() -> None:
    # The same parent as the whole tenant: its roll-up is the index every unit is compared with.
    tree = _tree({"tenant": None, "t11": "tenant", "t9": "tenant", "t3": "tenant"})

    shown = visibility(tree, {"t11": 11, "t9": 9, "t3": 3}, MIN, complement="fewest_people")

    assert _hidden_for_differencing(shown) == {("t9", "unit"), ("t9", "subtree")}
    assert shown[("tenant", "subtree")] == PUBLISHABLE


def test_a_remainder_moved_up_by_hiding_a_roll_up_is_checked_again_above() -> None:
    # Hiding "parent" moves its 3 into "dept", whose own 6 are shown: dept's remainder becomes 3, so
    # dept's own group must go too. That costs 6 people's team result against the 9-team's 9.
    tree = _tree({"root": None, "dept": "root", "parent": "dept", "t11": "parent", "t9": "parent", "t3": "parent"})
    direct = {"root": 8, "dept": 6, "t11": 11, "t9": 9, "t3": 3}

    shown = visibility(tree, direct, MIN, complement="fewest_people")

    assert _hidden_for_differencing(shown) == {("parent", "subtree"), ("dept", "unit")}
    assert shown[("t9", "unit")] == PUBLISHABLE
    published = {g for g, v in shown.items() if v.publishable}
    assert all(n == 0 or n >= MIN for n in _remainders(tree, direct, published).values())


def test_fewest_people_hides_a_team_rather_than_every_roll_up_up_to_the_tenant() -> None:
    # Nothing above "parent" has people of its own to merge the 3 with: hiding roll-ups would climb to
    # the tenant's own index. The 9-team is the cheapest choice, as with smallest_part.
    tree = _tree({"root": None, "dept": "root", "parent": "dept", "t11": "parent", "t9": "parent", "t3": "parent"})
    direct = {"t11": 11, "t9": 9, "t3": 3}

    shown = visibility(tree, direct, MIN, complement="fewest_people")

    assert _hidden_for_differencing(shown) == {("t9", "unit"), ("t9", "subtree")}


def _adversarial(draw: st.DrawFn, max_units: int) -> Case:
    """Chains, stars and everything between; counts crowded around the minimum, where differencing bites."""
    minimum = draw(st.integers(3, 7))
    size = draw(st.integers(1, max_units))
    chainy = draw(st.booleans())
    parents: dict[str, str | None] = {"u0": None}
    for n in range(1, size):
        low = max(0, n - 2) if chainy else 0
        parents[f"u{n}"] = f"u{draw(st.integers(low, n - 1))}"
    near = [0, 0, 1, 2, minimum - 2, minimum - 1, minimum, minimum + 1, 2 * minimum - 1, 3 * minimum + 2]
    counts = {u: draw(st.sampled_from(sorted({max(0, n) for n in near}))) for u in parents}
    return _tree(parents), counts, minimum


@st.composite
def adversarial_org(draw: st.DrawFn, max_units: int = 10) -> Case:
    return _adversarial(draw, max_units)


@st.composite
def org_with_counts(draw: st.DrawFn, max_units: int = 9) -> Case:
    size = draw(st.integers(1, max_units))
    parents: dict[str, str | None] = {"u0": None}
    for n in range(1, size):
        parents[f"u{n}"] = f"u{draw(st.integers(0, n - 1))}"
    counts = {u: draw(st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 8, 12, 30])) for u in parents}
    return _tree(parents), counts, draw(st.integers(2, 6))


TREE_SETTINGS = settings(
    database=None, deadline=None, max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
trees = st.one_of(org_with_counts(), adversarial_org())


@pytest.mark.parametrize("complement", POLICIES)
@TREE_SETTINGS
@given(trees)
def test_no_published_group_has_a_small_remainder(complement: ComplementarySuppression, case: Case) -> None:
    tree, direct, minimum = case

    shown = visibility(tree, direct, minimum, complement=complement)

    published = {group for group, seen in shown.items() if seen.publishable}
    for group, remainder in _remainders(tree, direct, published).items():
        assert not 0 < remainder < minimum, group
    for unit_id in tree.units:
        if shown[(unit_id, "subtree")].publishable:
            assert not 0 < _unprotected_remainder(tree, unit_id, direct, shown) < minimum


@pytest.mark.parametrize("complement", POLICIES)
@TREE_SETTINGS
@given(trees)
def test_reasons_follow_group_sizes(complement: ComplementarySuppression, case: Case) -> None:
    tree, direct, minimum = case

    shown = visibility(tree, direct, minimum, complement=complement)

    for group, seen in shown.items():
        n = _count(tree, group, direct)
        expected_reason = "no_responses" if n == 0 else "below_minimum" if n < minimum else seen.reason
        assert seen.reason == expected_reason
        assert seen.publishable == (seen.reason is None)
        assert seen.reason in (None, "no_responses", "below_minimum", "differencing")


@pytest.mark.parametrize("complement", POLICIES)
@TREE_SETTINGS
@given(trees, st.integers(2, 7))
def test_nothing_is_hidden_for_differencing_when_every_unit_is_empty_or_large_enough(
    complement: ComplementarySuppression, case: Case, minimum: int
) -> None:
    tree, direct, _ = case
    safe = {u: n if n == 0 or n >= minimum else minimum for u, n in direct.items()}

    shown = visibility(tree, safe, minimum, complement=complement)

    assert all(v.reason != "differencing" for v in shown.values())


@TREE_SETTINGS
@given(trees)
def test_fewest_people_never_withholds_more_than_smallest_part(case: Case) -> None:
    tree, direct, minimum = case

    glint = visibility(tree, direct, minimum, complement="smallest_part")
    fewest = visibility(tree, direct, minimum, complement="fewest_people")

    assert _withheld(tree, direct, _hidden_for_differencing(fewest)) <= _withheld(
        tree, direct, _hidden_for_differencing(glint)
    )


@settings(database=None, deadline=None, max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(org_with_counts(max_units=6), adversarial_org(max_units=6)))
def test_fewest_people_withholds_no_more_than_the_best_of_every_safe_choice(case: Case) -> None:
    # Exhaustive: every set of groups large enough to show, hidden or not, kept if every remainder is safe.
    tree, direct, minimum = case
    shown = visibility(tree, direct, minimum, complement="fewest_people")
    eligible = sorted(group for group in shown if _count(tree, group, direct) >= minimum)

    best: tuple[int, int] | None = None
    for mask in range(1 << len(eligible)):
        hidden = {group for i, group in enumerate(eligible) if mask >> i & 1}
        published = set(eligible) - hidden
        if all(r == 0 or r >= minimum for r in _remainders(tree, direct, published).values()):
            cost = _withheld(tree, direct, hidden)
            best = cost if best is None else min(best, cost)

    assert best is not None  # hiding everything is always safe
    assert _withheld(tree, direct, _hidden_for_differencing(shown)) == best


@pytest.mark.parametrize("complement", POLICIES)
@TREE_SETTINGS
@given(trees)
def test_the_same_counts_give_the_same_verdicts(complement: ComplementarySuppression, case: Case) -> None:
    tree, direct, minimum = case
    shuffled = dict(reversed(direct.items()))  # the order counts arrive in must not matter

    assert visibility(tree, direct, minimum, complement=complement) == visibility(
        tree, shuffled, minimum, complement=complement
    )


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


@pytest.mark.parametrize("complement", POLICIES)
@settings(database=None, deadline=None, max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(org_with_counts(max_units=7), adversarial_org(max_units=8)))
def test_no_set_of_units_with_one_to_min_minus_one_respondents_can_be_computed_from_published_groups(
    complement: ComplementarySuppression, case: Case
) -> None:
    # An attacker knows every published group's sums; any linear combination of them is computable.
    tree, direct, minimum = case
    shown = visibility(tree, direct, minimum, complement=complement)
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
