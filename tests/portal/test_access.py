"""Who sees what in the portal: a manager their units and those below, HR everything, others nothing."""

from __future__ import annotations

from tempen_portal.domain.access import viewer_of
from tempen_shared.tenancy.org import Manager, OrgTree, OrgUnit

TREE = OrgTree.build(
    [
        OrgUnit("kommun", "Kommunen", None, Manager("Kim", "kim@k.se")),
        OrgUnit("forv", "Förvaltningen", "kommun", Manager("Bo", "bo@k.se")),
        OrgUnit("enhet", "Enheten", "forv", Manager("Cecilia", "cecilia@k.se")),
        OrgUnit("grupp", "Gruppen", "enhet", Manager("Cecilia", "Cecilia@K.se")),
        OrgUnit("annan", "Annan enhet", "kommun", Manager("Dana", "dana@k.se")),
    ]
)


def test_a_manager_sees_their_units_and_every_unit_below_but_not_beside_or_above() -> None:
    bo = viewer_of("t", TREE, hr_email="hr@k.se", person="BO@k.se ")
    assert bo.units == {"forv", "enhet", "grupp"}
    assert not bo.may_see_unit("annan")
    assert not bo.may_see_unit("kommun")
    assert bo.managed == ("forv",)


def test_one_person_heading_two_units_is_one_viewer_whatever_the_case_of_the_address() -> None:
    cecilia = viewer_of("t", TREE, hr_email="hr@k.se", person="cecilia@k.se")
    assert cecilia.managed == ("enhet", "grupp")
    assert cecilia.units == {"enhet", "grupp"}


def test_hr_sees_the_whole_tenant() -> None:
    hr = viewer_of("t", TREE, hr_email="HR@k.se", person="hr@k.se")
    assert hr.is_hr
    assert hr.units == set(TREE.units)


def test_someone_who_manages_nothing_sees_nothing_but_alerts_they_were_sent() -> None:
    stranger = viewer_of("t", TREE, hr_email="hr@k.se", person="someone@k.se")
    assert stranger.units == frozenset()
    assert not stranger.may_see_alert("grupp", ["bo@k.se"])
    assert stranger.may_see_alert("grupp", ["Someone@K.se"]), "told about it, so may read it"
