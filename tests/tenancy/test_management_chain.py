from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from tempen_shared.tenancy.org import Manager, OrgTree, OrgUnit, management_chain, next_management_level
from tests.tenancy.support import manager, tree, unit

PEOPLE = ("anna", "bo", "cecilia", "dan", "eva")  # few people, so the same person heads several units


@dataclass(frozen=True, slots=True)
class Case:
    tree: OrgTree
    unit_id: str


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A random tree (each unit's parent drawn among earlier units), random vacancies, repeated managers
    whose addresses differ in case, and one unit of it."""
    size = draw(st.integers(min_value=1, max_value=25))
    units = []
    for index in range(size):
        parent = None if index == 0 else f"u{draw(st.integers(min_value=0, max_value=index - 1))}"
        person = draw(st.none() | st.sampled_from(PEOPLE))
        boss = None
        if person is not None:
            shout = draw(st.booleans())
            boss = Manager(name=person.title(), email=f"{person.upper() if shout else person}@kommun.example ")
        units.append(OrgUnit(id=f"u{index}", name=f"Unit {index}", parent=parent, manager=boss))
    order = draw(st.permutations(units))
    return Case(OrgTree.build(order), f"u{draw(st.integers(min_value=0, max_value=size - 1))}")


def _ancestor_managers(case: Case) -> list[Manager]:
    return [a.manager for a in case.tree.ancestors(case.unit_id) if a.manager is not None]


@given(cases())
def test_chain_never_contains_the_units_own_manager(case: Case) -> None:
    own = case.tree.units[case.unit_id].manager
    chain = management_chain(case.tree, case.unit_id)
    assert own is None or own.identity not in {m.identity for m in chain}


@given(cases())
def test_chain_names_each_person_once(case: Case) -> None:
    identities = [m.identity for m in management_chain(case.tree, case.unit_id)]
    assert len(identities) == len(set(identities))


@given(cases())
def test_every_manager_in_the_chain_heads_an_ancestor(case: Case) -> None:
    above = _ancestor_managers(case)
    assert all(m in above for m in management_chain(case.tree, case.unit_id))


@given(cases())
def test_chain_follows_the_order_of_the_ancestors(case: Case) -> None:
    above = [m.identity for m in _ancestor_managers(case)]
    positions = [above.index(m.identity) for m in management_chain(case.tree, case.unit_id)]
    assert positions == sorted(positions)


@given(cases())
def test_chain_leaves_out_nobody_present_above_but_the_units_own_manager(case: Case) -> None:
    own = case.tree.units[case.unit_id].manager
    expected = {m.identity for m in _ancestor_managers(case)} - ({own.identity} if own else set())
    assert {m.identity for m in management_chain(case.tree, case.unit_id)} == expected


def test_vacant_posts_are_skipped_up_to_the_first_present_manager() -> None:
    org = tree(
        unit("kommun", None, "kim"),
        unit("forvaltning", "kommun", "bo"),
        unit("verksamhet", "forvaltning"),
        unit("enhet", "verksamhet"),
        unit("grupp", "enhet", "dan"),
    )
    assert management_chain(org, "grupp") == [manager("bo"), manager("kim")]


def test_a_manager_over_two_levels_is_passed_over_for_the_next_person_up() -> None:
    org = tree(
        unit("kommun", None, "kim"),
        unit("skola", "kommun", "rektor"),
        unit("fritids", "skola", "rektor"),
    )
    assert next_management_level(org, "fritids") == manager("kim")


def test_the_same_person_is_recognised_whatever_the_case_of_the_address() -> None:
    org = tree(
        OrgUnit("kommun", "Kommun", None, Manager("Kim", "kim@kommun.example")),
        OrgUnit("skola", "Skola", "kommun", Manager("Rektor", "Rektor@Kommun.example")),
        OrgUnit("fritids", "Fritids", "skola", Manager("Rektor", "rektor@kommun.example")),
    )
    assert management_chain(org, "fritids") == [Manager("Kim", "kim@kommun.example")]


def test_the_root_unit_has_no_next_management_level() -> None:
    org = tree(unit("kommun", None, "kim"), unit("enhet", "kommun", "bo"))
    assert management_chain(org, "kommun") == []
    assert next_management_level(org, "kommun") is None


def test_a_vacant_unit_goes_to_the_manager_above_it() -> None:
    org = tree(unit("kommun", None, "kim"), unit("enhet", "kommun"))
    assert next_management_level(org, "enhet") == manager("kim")
