"""Who hears about an alert: the management level it sits with, the unit's own manager, or HR."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from tempen_shared.tenancy.org import OrgTree, management_chain

# "previous_level": whoever the alert sat with before it escalated, told for their information that it moved on.
RecipientRole = Literal["next_level", "unit_manager", "hr", "previous_level"]

UNIT_MANAGER_LEVEL = 0  # the unit's own manager sits below level 1, the next management level
HR_NAME = "HR"


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    name: str
    role: RecipientRole
    level: int  # the alert's level for "next_level" and "hr", the level it left for "previous_level";
    # UNIT_MANAGER_LEVEL for the unit's manager

    @property
    def identity(self) -> str:
        return _identity(self.email)


def levels_available(tree: OrgTree, unit_id: str) -> int:
    """How many management levels an alert about `unit_id` can climb: 0 when nobody is above, or the unit is gone."""
    if unit_id not in tree:
        return 0
    return len(management_chain(tree, unit_id))


def recipients(
    tree: OrgTree, unit_id: str, *, level: int, inform_unit_manager: bool, hr_email: str
) -> tuple[Recipient, ...]:
    """Who an alert at `level` about `unit_id` goes to, main recipient first, each person once.

    Level N goes to `management_chain(tree, unit_id)[N - 1]`: vacant posts are skipped and one person
    heading several levels counts once. Beyond the chain, or when nobody is above the unit's manager,
    it goes to HR. A unit missing from the tree (removed or moved in a reorganisation) goes to HR only,
    since nobody can tell from the tree who should act. The unit's own manager is added, to be
    informed, when `inform_unit_manager` is set, the post is filled, and they are not the main recipient.

    Raises:
        ValueError: `level` is below 1.
    """
    if level < 1:
        raise ValueError(f"an alert's level starts at 1, got {level}")
    hr = Recipient(email=hr_email, name=HR_NAME, role="hr", level=level)
    if unit_id not in tree:
        return (hr,)
    chain = management_chain(tree, unit_id)
    if level <= len(chain):
        manager = chain[level - 1]
        main = Recipient(email=manager.email, name=manager.name, role="next_level", level=level)
    else:
        main = hr
    chosen = [main]
    own = tree.units[unit_id].manager
    if inform_unit_manager and own is not None:
        chosen.append(Recipient(email=own.email, name=own.name, role="unit_manager", level=UNIT_MANAGER_LEVEL))
    return _each_person_once(chosen)


def moved_past(
    tree: OrgTree, unit_id: str, *, from_level: int, to_level: int, inform_unit_manager: bool, hr_email: str
) -> tuple[Recipient, ...]:
    """Who is told, for their information, that an alert escalated from `from_level` to `to_level`: the
    main recipient at `from_level` (a manager, or HR), with the role "previous_level".

    Nobody who hears of the escalation anyway is told twice: not someone among the recipients at
    `to_level`, such as the unit's own manager (`inform_unit_manager`), whose copy already says it moved.

    Raises:
        ValueError: a level is below 1, or `to_level` is not above `from_level`.
    """
    if to_level <= from_level:
        raise ValueError(f"an escalation goes up: from level {from_level} to {to_level}")
    before = recipients(tree, unit_id, level=from_level, inform_unit_manager=False, hr_email=hr_email)[0]
    told = {
        r.identity
        for r in recipients(tree, unit_id, level=to_level, inform_unit_manager=inform_unit_manager, hr_email=hr_email)
    }
    if before.identity in told:
        return ()
    return (Recipient(email=before.email, name=before.name, role="previous_level", level=from_level),)


def _each_person_once(candidates: Iterable[Recipient]) -> tuple[Recipient, ...]:
    seen: set[str] = set()
    kept: list[Recipient] = []
    for candidate in candidates:
        if candidate.identity in seen:
            continue
        seen.add(candidate.identity)
        kept.append(candidate)
    return tuple(kept)


def _identity(email: str) -> str:
    # The same rule as Manager.identity, so HR's address and a manager's compare alike.
    return email.strip().lower()
