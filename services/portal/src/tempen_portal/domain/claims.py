"""What the identity provider's claims say about a person, as the tenant's `portal.oidc` maps them. Pure.

The ID token's claims are the provider's word, validated by the OIDC client before they get here. This
decides only who the person is (the e-mail claim, lower case) and which roles the tenant's mapping gives
them: HR, and the units their groups are mapped to. What they may then see is `domain/access.py`'s call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tempen_portal.domain.access import identity
from tempen_shared.tenancy.addresses import AddressError, parse_address
from tempen_shared.tenancy.models import OidcConfig
from tempen_shared.tenancy.org import OrgTree

MAX_CLAIM_VALUES = 1000  # Entra ID sends at most 200 groups in a token; more than this is not a real token


class ClaimsError(ValueError):
    """The claims cannot identify a person; `reason` says which claim and why (never its value)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ClaimedPerson:
    person: str  # e-mail identity, lower case
    is_hr: bool
    units: tuple[str, ...]  # units granted through groups, in the mapping's order, no repeats


def person_of(oidc: OidcConfig, claims: Mapping[str, object]) -> ClaimedPerson:
    """The person the claims name and the roles the tenant's mapping gives them. Raises ClaimsError when
    the e-mail claim is missing or is not an address; a role claim of the wrong shape grants nothing."""
    raw = claims.get(oidc.email_claim)
    if not isinstance(raw, str) or not raw.strip():
        raise ClaimsError(f"the identity provider sent no {oidc.email_claim!r} claim")
    try:
        parse_address(raw.strip())
    except AddressError:
        raise ClaimsError(f"the {oidc.email_claim!r} claim is not an e-mail address") from None
    roles = _values(claims.get(oidc.hr_claim))
    groups = _values(claims.get(oidc.groups_claim))
    units: list[str] = []
    for group, mapped in oidc.unit_groups.items():
        if group in groups:
            units.extend(u for u in mapped if u not in units)
    return ClaimedPerson(person=identity(raw), is_hr=any(v in roles for v in oidc.hr_values), units=tuple(units))


def highest(tree: OrgTree, units: tuple[str, ...]) -> tuple[str, ...]:
    """The granted units that no other granted unit is above, in the given order; units no longer in the
    tree left out. They grant the same as all of `units` (each with everything below it), in fewer words:
    what the session keeps."""
    granted = {u for u in units if u in tree}
    return tuple(u for u in units if u in granted and not any(a.id in granted for a in tree.ancestors(u)))


def _values(claim: object) -> frozenset[str]:
    """A claim as a set of strings: a list of them (Entra ID's roles and groups), or one string."""
    if isinstance(claim, str):
        return frozenset({claim})
    if isinstance(claim, list | tuple) and len(claim) <= MAX_CLAIM_VALUES:
        return frozenset(v for v in claim if isinstance(v, str))
    return frozenset()
