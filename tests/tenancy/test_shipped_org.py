"""Facts about the example tenants' org files that demos and other tests rely on."""

from __future__ import annotations

import runpy
from collections import defaultdict

import pytest

from tempen_shared.tenancy.loader import Catalog, load_catalog
from tempen_shared.tenancy.org import OrgTree, management_chain
from tests.tenancy.support import SHIPPED_CONFIG

TENANTS = ("hjo", "ljungby")
EXPECTED_SIZE = {"hjo": 700, "ljungby": 2500}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(SHIPPED_CONFIG)


def org(catalog: Catalog, tenant: str) -> OrgTree:
    return catalog.tenants[tenant].org


def first_line_units(tree: OrgTree) -> list[str]:
    return [uid for uid in tree.units if tree.is_leaf(uid)]


@pytest.mark.parametrize("tenant", TENANTS)
def test_headcounts_add_up_to_about_the_municipalitys_size(catalog: Catalog, tenant: str) -> None:
    total = sum(u.headcount or 0 for u in org(catalog, tenant).units.values())
    assert abs(total - EXPECTED_SIZE[tenant]) <= EXPECTED_SIZE[tenant] * 0.05


@pytest.mark.parametrize("tenant", TENANTS)
def test_first_line_units_have_fifteen_to_sixty_people(catalog: Catalog, tenant: str) -> None:
    tree = org(catalog, tenant)
    spans = {uid: tree.units[uid].headcount for uid in first_line_units(tree)}
    assert all(span is not None and 15 <= span <= 60 for span in spans.values()), spans


@pytest.mark.parametrize("tenant", TENANTS)
def test_no_first_line_manager_has_more_than_sixty_people_across_their_units(catalog: Catalog, tenant: str) -> None:
    tree = org(catalog, tenant)
    span: dict[str, int] = defaultdict(int)
    for uid in first_line_units(tree):
        unit = tree.units[uid]
        if unit.manager is not None:
            span[unit.manager.identity] += unit.headcount or 0
    assert max(span.values()) <= 60


@pytest.mark.parametrize("tenant", TENANTS)
def test_some_posts_are_vacant(catalog: Catalog, tenant: str) -> None:
    vacant = [u.id for u in org(catalog, tenant).units.values() if u.manager is None]
    assert 2 <= len(vacant) <= 8


@pytest.mark.parametrize("tenant", TENANTS)
def test_one_manager_heads_two_units(catalog: Catalog, tenant: str) -> None:
    headed: dict[str, list[str]] = defaultdict(list)
    for unit in org(catalog, tenant).units.values():
        if unit.manager is not None:
            headed[unit.manager.identity].append(unit.id)
    assert [len(units) for units in headed.values() if len(units) > 1] == [2]


@pytest.mark.parametrize("tenant", TENANTS)
def test_every_address_is_on_the_tenants_example_domain(catalog: Catalog, tenant: str) -> None:
    config = catalog.tenants[tenant].config
    addresses = [u.manager.email for u in org(catalog, tenant).units.values() if u.manager is not None]
    addresses += [config.hr_email, config.notifications.from_address]
    assert all(a.endswith(f"@{tenant}.example") for a in addresses)


@pytest.mark.parametrize("tenant", TENANTS)
def test_each_manager_is_one_person_with_one_name(catalog: Catalog, tenant: str) -> None:
    names: dict[str, set[str]] = defaultdict(set)
    for unit in org(catalog, tenant).units.values():
        if unit.manager is not None:
            names[unit.manager.identity].add(unit.manager.name)
    assert all(len(n) == 1 for n in names.values())


def test_demo_unit_with_a_present_manager_above_goes_to_the_rektor(catalog: Catalog) -> None:
    tree = org(catalog, "hjo")
    parent = tree.units["hjo-skola-ostra"]
    assert tree.units["hjo-skola-ostra-f3"].parent == parent.id
    assert management_chain(tree, "hjo-skola-ostra-f3")[0] == parent.manager


def test_demo_unit_under_a_vacant_post_goes_to_the_level_above_it(catalog: Catalog) -> None:
    tree = org(catalog, "hjo")
    assert tree.units["hjo-vo-hemtjanst"].manager is None
    assert tree.units["hjo-vo-hemtjanst-norra"].parent == "hjo-vo-hemtjanst"
    assert management_chain(tree, "hjo-vo-hemtjanst-norra")[0] == tree.units["hjo-vo"].manager


def test_demo_unit_headed_by_its_parents_manager_goes_past_that_person(catalog: Catalog) -> None:
    tree = org(catalog, "hjo")
    assert tree.units["hjo-skola-ostra-fritids"].manager == tree.units["hjo-skola-ostra"].manager
    assert management_chain(tree, "hjo-skola-ostra-fritids")[0] == tree.units["hjo-bou"].manager


def _render_with_generator(tenant: str) -> str:
    namespace = runpy.run_path(str(SHIPPED_CONFIG / "org" / "generate.py"), run_name="org_generate")
    text: str = namespace["render"](tenant)
    return text


@pytest.mark.parametrize("tenant", TENANTS)
def test_the_org_files_are_what_the_generator_produces(tenant: str) -> None:
    shipped = (SHIPPED_CONFIG / "org" / f"{tenant}.csv").read_text(encoding="utf-8")
    assert shipped == _render_with_generator(tenant)
