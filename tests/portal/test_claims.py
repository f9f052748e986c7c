"""The identity provider's claims, as a tenant's portal.oidc maps them: who the person is and their roles."""

from __future__ import annotations

import pytest

from tempen_portal.domain.access import viewer_of
from tempen_portal.domain.claims import ClaimsError, highest, person_of
from tempen_shared.tenancy.models import OidcConfig, SecretRef
from tests.portal.test_access import TREE

ENTRA = OidcConfig(
    issuer="https://login.microsoftonline.com/tenant-guid/v2.0",
    client_id="client-guid",
    client_secret=SecretRef(env="TEMPEN_T_OIDC_SECRET"),
    email_claim="preferred_username",
    hr_values=("tempen.hr",),
    unit_groups={"g-forv": ("forv",), "g-annan": ("annan", "forv")},
)


def test_the_person_is_the_configured_claim_lower_cased() -> None:
    claimed = person_of(ENTRA, {"preferred_username": " Bo@K.se", "email": "other@k.se"})
    assert claimed.person == "bo@k.se"
    assert not claimed.is_hr
    assert claimed.units == ()


def test_one_of_the_hr_values_in_the_role_claim_makes_hr_and_another_role_does_not() -> None:
    assert person_of(ENTRA, {"preferred_username": "x@k.se", "roles": ["reader", "tempen.hr"]}).is_hr
    assert person_of(ENTRA, {"preferred_username": "x@k.se", "roles": "tempen.hr"}).is_hr  # one role as a string
    assert not person_of(ENTRA, {"preferred_username": "x@k.se", "roles": ["tempen.hrx", "TEMPEN.HR"]}).is_hr
    assert not person_of(ENTRA, {"preferred_username": "x@k.se", "groups": ["tempen.hr"]}).is_hr


def test_no_hr_values_means_no_role_makes_hr() -> None:
    plain = ENTRA.model_copy(update={"hr_values": ()})
    assert not person_of(plain, {"preferred_username": "x@k.se", "roles": ["tempen.hr"]}).is_hr


def test_groups_grant_their_mapped_units_once_each_and_unknown_groups_nothing() -> None:
    claimed = person_of(ENTRA, {"preferred_username": "x@k.se", "groups": ["g-annan", "g-forv", "g-unknown"]})
    assert claimed.units == ("forv", "annan")


@pytest.mark.parametrize("claim", [{"groups": {"g-forv": True}}, {"groups": 7}, {"groups": ["g-forv"] * 1001}])
def test_a_group_claim_of_the_wrong_shape_grants_nothing(claim: dict[str, object]) -> None:
    assert person_of(ENTRA, {"preferred_username": "x@k.se", **claim}).units == ()


@pytest.mark.parametrize("value", [None, "", "   ", 42, ["bo@k.se"], "not an address", "bo@k.se\r\nBcc: x@y"])
def test_claims_without_a_usable_address_identify_nobody(value: object) -> None:
    claims = {} if value is None else {"preferred_username": value}
    with pytest.raises(ClaimsError) as refused:
        person_of(ENTRA, {"email": "bo@k.se", **claims})
    assert "preferred_username" in refused.value.reason
    assert "bo@k.se" not in refused.value.reason


def test_an_hr_role_sees_the_whole_tenant_and_granted_units_their_subtrees() -> None:
    hr = viewer_of("t", TREE, hr_email="hr@k.se", person="someone@k.se", hr_role=True)
    assert hr.is_hr
    assert hr.units == set(TREE.units)
    granted = viewer_of("t", TREE, hr_email="hr@k.se", person="someone@k.se", granted_units=["enhet", "gone"])
    assert not granted.is_hr
    assert granted.units == {"enhet", "grupp"}
    assert granted.managed == ("enhet",)
    both = viewer_of("t", TREE, hr_email="hr@k.se", person="dana@k.se", granted_units=["enhet", "annan"])
    assert both.managed == ("annan", "enhet")
    assert both.units == {"annan", "enhet", "grupp"}


def test_the_session_keeps_only_the_highest_granted_units() -> None:
    assert highest(TREE, ("grupp", "enhet", "gone", "annan")) == ("enhet", "annan")
    assert highest(TREE, ("grupp",)) == ("grupp",)
    assert highest(TREE, ("kommun", "forv", "grupp")) == ("kommun",)
