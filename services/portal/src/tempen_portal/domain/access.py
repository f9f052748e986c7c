"""Who may see what in the portal. Pure: the org tree and the tenant's HR address decide.

A manager sees the units they manage and every unit below them; HR sees the whole tenant; nobody sees
another tenant. Signed in through the municipality's identity provider, a person may also be HR by a
role in their claims, and manage the units their groups map to (`domain/claims.py` reads those claims).
The person is identified by e-mail address, as the org tree and the alert e-mails do
(`Manager.identity`). Someone an alert was sent to may open that alert even if the tree no longer
shows them above its unit (a reorganisation since): they were told, so they may read what they were
told about.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tempen_shared.tenancy.org import OrgTree


def identity(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True, slots=True)
class Viewer:
    tenant: str
    person: str  # e-mail identity, lower case
    is_hr: bool
    units: frozenset[str]  # every unit this person may see (all of the tenant's for HR)
    managed: tuple[str, ...]  # the units they head themselves (then those their groups grant), in tree order

    def may_see_unit(self, unit: str) -> bool:
        return self.is_hr or unit in self.units

    def may_see_alert(self, unit: str, recipients: Iterable[str]) -> bool:
        return self.may_see_unit(unit) or self.person in {identity(r) for r in recipients}


def viewer_of(
    tenant: str,
    tree: OrgTree,
    *,
    hr_email: str,
    person: str,
    hr_role: bool = False,
    granted_units: Iterable[str] = (),
) -> Viewer:
    """What `person` may see: HR (the tenant's HR address, or `hr_role` from the identity provider) the whole
    tenant; anyone else the units they head in the tree and the `granted_units` (from their groups), each
    with every unit below it. A granted unit no longer in the tree grants nothing."""
    who = identity(person)
    managed = tuple(u.id for u in tree.units.values() if u.manager is not None and u.manager.identity == who)
    if hr_role or who == identity(hr_email):
        return Viewer(tenant, who, True, frozenset(tree.units), managed)
    heads = set(managed)
    extra = tuple(u for u in tree.units if u in set(granted_units) and u not in heads)  # in tree order
    units: set[str] = set()
    for unit in (*managed, *extra):
        units.update(tree.subtree(unit))
    return Viewer(tenant, who, False, frozenset(units), (*managed, *extra))
