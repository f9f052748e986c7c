"""Org trees and "the next management level", as pure functions over frozen values."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field


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
    headcount: int | None = None


class OrgTreeError(ValueError):
    """The units do not form one tree. `problems` lists (unit id, reason) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{unit}: {reason}" for unit, reason in problems))
        self.problems = problems


@dataclass(frozen=True)
class OrgTree:
    """One organisation as it stands at one date: a single root, no cycles, every parent known."""

    units: Mapping[str, OrgUnit]
    children: Mapping[str, tuple[str, ...]] = field(repr=False)
    root: str

    @classmethod
    def build(cls, units: Iterable[OrgUnit]) -> OrgTree:
        by_id: dict[str, OrgUnit] = {}
        problems: list[tuple[str, str]] = []
        for unit in units:
            if unit.id in by_id:
                problems.append((unit.id, "duplicate unit id"))
            by_id[unit.id] = unit
        roots = [u.id for u in by_id.values() if u.parent is None]
        if len(roots) != 1:
            problems.append((",".join(roots) or "-", f"expected exactly one root unit, found {len(roots)}"))
        for unit in by_id.values():
            if unit.parent is not None and unit.parent not in by_id:
                problems.append((unit.id, f"unknown parent {unit.parent!r}"))
        if not problems:
            problems.extend((uid, "is part of a cycle") for uid in _units_in_cycles(by_id))
        if problems:
            raise OrgTreeError(problems)
        children: dict[str, list[str]] = {uid: [] for uid in by_id}
        for unit in by_id.values():
            if unit.parent is not None:
                children[unit.parent].append(unit.id)
        return cls(units=by_id, children={k: tuple(v) for k, v in children.items()}, root=roots[0])

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self.units

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


def _units_in_cycles(by_id: Mapping[str, OrgUnit]) -> list[str]:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = known to reach the root
    in_cycle: set[str] = set()
    for start in by_id:
        path: list[str] = []
        current: str | None = start
        while current is not None and state.get(current) is None:
            state[current] = 1
            path.append(current)
            current = by_id[current].parent
        if current is not None and state.get(current) == 1:
            in_cycle.update(path[path.index(current) :])
        for uid in path:
            state[uid] = 2
    return sorted(in_cycle)


def management_chain(tree: OrgTree, unit_id: str) -> list[Manager]:
    """The distinct managers above the unit's own manager, nearest first.

    Vacant posts are skipped, and so is anyone who is the same person as someone already below in
    the chain (one manager heading two levels), so an alert never goes back to the manager it is
    about. The first element is "the next management level".
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
