"""Org trees, their history, and "the next management level", as pure functions over frozen values."""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Literal


@dataclass(frozen=True, slots=True)
class Manager:
    name: str
    email: str

    @property
    def identity(self) -> str:
        # One person may head several units; the e-mail address is what makes them the same person.
        return self.email.strip().lower()


@dataclass(frozen=True, slots=True)
class OrgUnit:
    id: str
    name: str
    parent: str | None
    manager: Manager | None  # None: the post is vacant
    headcount: int | None = None  # people placed directly in this unit, not counting the units below it


TreeProblemKind = Literal["duplicate", "root", "unknown-parent", "cycle"]


@dataclass(frozen=True, slots=True)
class TreeProblem:
    """Why a list of units is not one tree. `index` is the offending unit's position in the input."""

    kind: TreeProblemKind
    index: int | None  # None: the list as a whole (no root at all)
    unit_id: str
    reason: str
    duplicate_of: int | None = None  # for a repeated id: the index of its first definition


class OrgTreeError(ValueError):
    """The units do not form one tree. `problems` lists (unit id, reason) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{unit}: {reason}" for unit, reason in problems))
        self.problems = problems


def tree_problems(units: Sequence[OrgUnit]) -> list[TreeProblem]:
    """Every reason `units` do not form one tree: duplicate ids, unknown parents, root count, cycles.

    All of them are reported at once, in input order, so a whole file can be fixed in one pass.
    """
    problems: list[TreeProblem] = []
    first_index: dict[str, int] = {}
    for index, unit in enumerate(units):
        if unit.id in first_index:
            problems.append(
                TreeProblem("duplicate", index, unit.id, "duplicate unit id", duplicate_of=first_index[unit.id])
            )
        else:
            first_index[unit.id] = index
    parent_of = {unit.id: unit.parent for unit in units}
    roots = [index for index, unit in enumerate(units) if unit.parent is None]
    if not roots:
        problems.append(TreeProblem("root", None, "", "no root unit: exactly one unit must have an empty parent"))
    elif len(roots) > 1:
        problems.extend(
            TreeProblem(
                "root", i, units[i].id, f"one of {len(roots)} units without a parent; only the top unit has none"
            )
            for i in roots
        )
    for index, unit in enumerate(units):
        if unit.parent is not None and unit.parent not in parent_of:
            problems.append(TreeProblem("unknown-parent", index, unit.id, f"unknown parent {unit.parent!r}"))
    cycles = _cycles(parent_of)
    for index, unit in enumerate(units):
        if unit.id in cycles and first_index.get(unit.id) == index:
            problems.append(TreeProblem("cycle", index, unit.id, f"is part of a cycle: {cycles[unit.id]}"))
    return sorted(problems, key=lambda p: -1 if p.index is None else p.index)


def _cycles(parent_of: Mapping[str, str | None]) -> dict[str, str]:
    """Each unit on a cycle, mapped to the cycle written out (`a -> b -> a`)."""
    done: set[str] = set()
    found: dict[str, str] = {}
    for start in parent_of:
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = start
        while current is not None and current in parent_of and current not in done and current not in on_path:
            path.append(current)
            on_path.add(current)
            current = parent_of[current]
        if current is not None and current in on_path:
            loop = path[path.index(current) :]
            text = " -> ".join([*loop, current])
            found.update(dict.fromkeys(loop, text))
        done.update(path)
    return found


@dataclass(frozen=True)
class OrgTree:
    """One organisation as it stands at one date: a single root, no cycles, every parent known."""

    units: Mapping[str, OrgUnit]
    children: Mapping[str, tuple[str, ...]] = field(repr=False)
    root: str

    @classmethod
    def build(cls, units: Iterable[OrgUnit]) -> OrgTree:
        """Build the tree, or raise OrgTreeError listing every problem (see `tree_problems`)."""
        listed = list(units)
        problems = tree_problems(listed)
        if problems:
            raise OrgTreeError([(p.unit_id or "-", p.reason) for p in problems])
        by_id = {unit.id: unit for unit in listed}
        children: dict[str, list[str]] = {uid: [] for uid in by_id}
        for unit in listed:
            if unit.parent is not None:
                children[unit.parent].append(unit.id)
        root = next(unit.id for unit in listed if unit.parent is None)
        return cls(units=by_id, children={k: tuple(v) for k, v in children.items()}, root=root)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self.units

    def __len__(self) -> int:
        return len(self.units)

    def ancestors(self, unit_id: str) -> Iterator[OrgUnit]:
        """The units above `unit_id`, nearest first."""
        parent = self.units[unit_id].parent
        while parent is not None:
            unit = self.units[parent]
            yield unit
            parent = unit.parent

    def subtree(self, unit_id: str) -> Iterator[str]:
        """`unit_id` and every unit below it."""
        stack = [unit_id]
        while stack:
            current = stack.pop()
            yield current
            stack.extend(self.children[current])

    def is_leaf(self, unit_id: str) -> bool:
        return not self.children[unit_id]

    @cached_property
    def depths(self) -> Mapping[str, int]:
        """Each unit's distance from the root (the root's is 0)."""
        out = {self.root: 0}
        stack = [self.root]
        while stack:
            current = stack.pop()
            for child in self.children[current]:
                out[child] = out[current] + 1
                stack.append(child)
        return out

    @cached_property
    def shape(self) -> str:
        """A digest of which units exist and where they hang: what roll-ups and the anonymity rule depend
        on. Names, managers and headcounts leave it unchanged, so renaming a unit rescores nothing."""
        digest = hashlib.sha256()
        for unit_id in sorted(self.units):
            digest.update(f"{unit_id}\x1f{self.units[unit_id].parent or ''}\x1e".encode())
        return digest.hexdigest()[:32]


def org_day(period_end: datetime) -> date:
    """The day whose org tree a period is scored and routed against: its last day.

    `period_end` is exclusive (midnight starting the next period in the tenant's zone); the instant
    before it falls on the period's last day in that zone and, for zones at or east of UTC, in UTC too.
    """
    return (period_end - timedelta(microseconds=1)).date()


def management_chain(tree: OrgTree, unit_id: str) -> list[Manager]:
    """The distinct managers above the unit's own manager, nearest first.

    Vacant posts are skipped, and so is anyone who is the same person (by case-insensitive e-mail)
    as someone already below in the chain (one manager heading two levels), so an alert never goes
    back to the manager it is about. The first element is "the next management level"; the list is
    empty for the root unit, or when nobody above is both present and a different person.

    Raises:
        KeyError: `unit_id` is not in the tree.
    """
    own = tree.units[unit_id].manager
    seen = {own.identity} if own else set()
    chain: list[Manager] = []
    for unit in tree.ancestors(unit_id):
        manager = unit.manager
        if manager is None or manager.identity in seen:
            continue
        seen.add(manager.identity)
        chain.append(manager)
    return chain


def next_management_level(tree: OrgTree, unit_id: str) -> Manager | None:
    """The manager an alert about `unit_id` goes to first: `management_chain(tree, unit_id)[0]`, or None."""
    chain = management_chain(tree, unit_id)
    return chain[0] if chain else None


class NoOrgVersionError(LookupError):
    """No org version was in force on `day` (it lies before the first effective date, or there is none)."""

    def __init__(self, day: date, first_effective: date | None) -> None:
        if first_effective is None:
            message = f"no org version is stored, so none was in force on {day.isoformat()}"
        else:
            message = (
                f"no org version was in force on {day.isoformat()}: "
                f"the first one takes effect on {first_effective.isoformat()}"
            )
        super().__init__(message)
        self.day = day
        self.first_effective = first_effective


@dataclass(frozen=True, slots=True)
class OrgVersion:
    effective_from: date
    tree: OrgTree


@dataclass(frozen=True, slots=True)
class OrgHistory:
    """The org trees of one tenant over time, so a past period is routed against the org as it was then.

    A version is in force from its effective date (inclusive) until the next version's date.
    """

    versions: tuple[OrgVersion, ...] = ()

    def __post_init__(self) -> None:
        dates = [v.effective_from for v in self.versions]
        if dates != sorted(set(dates)):
            raise ValueError("org versions must have distinct effective dates, oldest first")

    @classmethod
    def of(cls, versions: Iterable[tuple[date, OrgTree]]) -> OrgHistory:
        """A history from (effective date, tree) pairs in any order; raises ValueError on a repeated date."""
        return cls(tuple(OrgVersion(d, t) for d, t in sorted(versions, key=lambda pair: pair[0])))

    def with_version(self, effective_from: date, tree: OrgTree) -> OrgHistory:
        """A new history with `tree` in force from `effective_from`; a version with the same date is replaced."""
        kept = [v for v in self.versions if v.effective_from != effective_from]
        return OrgHistory.of([*((v.effective_from, v.tree) for v in kept), (effective_from, tree)])

    def at(self, day: date) -> OrgTree:
        """The org tree in force on `day`.

        Raises:
            NoOrgVersionError: `day` lies before the first version (the org is not known then).
        """
        position = bisect.bisect_right([v.effective_from for v in self.versions], day)
        if position == 0:
            raise NoOrgVersionError(day, self.versions[0].effective_from if self.versions else None)
        return self.versions[position - 1].tree
