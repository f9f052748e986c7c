"""Rescoring a slice incrementally: only the groups a batch can have changed, from aggregates kept in memory.

A slice (tenant, instrument, model, period) spans every unit of the tenant, so rescoring it from scratch
costs O(units) for every batch, however small. A group's rows depend only on its aggregate and on its
verdict under the anonymity rule. After a batch, only these groups can therefore change:

* the unit group of each unit the batch touched;
* the subtree group of each such unit and of every unit above it;
* any group whose verdict changed. The differencing rule reaches across the tree, so verdicts are
  computed for the whole tree, from respondent counts alone, which is cheap.

Every other group's rows stay as stored. A group's rows (one per dimension) are stored together and
share one sequence number, so a group is rewritten whole when any of its rows changed. A stored row
whose group no longer has respondents (the last one was retracted) or whose unit is no longer in the
org tree the slice is rolled up against is *withdrawn*: rewritten with no respondents and no figures,
so nothing stale stays readable. Rows are never deleted, so a group that comes back continues its
sequence numbers.

`tenant.org` is the tree in force for the slice's period (the caller replaces the configured one).
`rescoring.rescore_slice`, the from-scratch recomputation,
is the specification this module is tested against (tests/scoring/unit/test_incremental_rescoring.py).
Pure: the adapter loads a `SliceState` from the database, keeps it between batches while nobody else
changed the slice, and writes what `rescore` reports as changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from sys import intern  # kept slices hold the same few ids thousands of times: one string each

from tempen_scoring.domain.anonymity import Visibility, visibility
from tempen_scoring.domain.index import DimensionResult, GroupAggregate, answered_dimensions, score_group
from tempen_scoring.domain.rescoring import EXACT, AggregateDelta, Scope, ScoreRow, SliceKey
from tempen_shared.tenancy.loader import Tenant
from tempen_shared.tenancy.org import OrgTree

Group = tuple[str, str]  # (unit id, scope)
SCOPES: tuple[Scope, Scope] = ("unit", "subtree")


@dataclass(slots=True)
class Totals:
    """One group's additive aggregate as the database rows hold it: counts per item and value, and
    moments with exact decimal sums. Zero counts and all-zero moments are dropped, as the database
    reads drop them, so equal contents compare equal however they were reached. (A group's moments
    with no respondents are all zero; a sum of deltas's need not be, see `SliceState.advance`.)"""

    respondents: int = 0
    counts: dict[str, dict[int, int]] = field(default_factory=dict)
    moments: dict[str, tuple[int, Decimal, Decimal]] = field(default_factory=dict)

    def add(self, other: Totals) -> None:
        self.respondents += other.respondents
        for item, values in other.counts.items():
            mine = self.counts.get(item)
            if mine is None:
                mine = self.counts[item] = {}
            for value, count in values.items():
                total = mine.get(value, 0) + count
                if total:
                    mine[value] = total
                else:
                    mine.pop(value, None)
            if not mine:
                del self.counts[item]
        for dimension, (n, s, ss) in other.moments.items():
            current = self.moments.get(dimension)
            if current is not None:
                n, s, ss = current[0] + n, EXACT.add(current[1], s), EXACT.add(current[2], ss)
            # A sum of deltas can have no net respondents and moved sums (a correction, one unit's
            # retraction and another's submission); a group's totals with none have zero sums.
            if n or s or ss:
                self.moments[dimension] = (n, s, ss)
            else:
                self.moments.pop(dimension, None)

    def aggregate(self) -> GroupAggregate:
        return GroupAggregate(
            respondents=self.respondents,
            item_counts={item: dict(values) for item, values in self.counts.items()},
            dimension_moments={d: (n, Fraction(s), Fraction(ss)) for d, (n, s, ss) in self.moments.items()},
        )


@dataclass(frozen=True, slots=True)
class StoredRow:
    """What the comparison with a new row and the next sequence number need of a stored score row."""

    respondents: int
    publishable: bool
    index: float | None
    standard_error: float | None
    favourable_pct: float | None
    sequence: int

    def same(self, row: ScoreRow) -> bool:
        return (self.respondents, self.publishable, self.index, self.standard_error, self.favourable_pct) == (
            row.respondents,
            row.publishable,
            row.index,
            row.standard_error,
            row.favourable_pct,
        )


@dataclass(slots=True)
class SliceState:
    """A slice's aggregates, verdicts and stored rows, as of database `version` of the slice."""

    version: int
    period_start: datetime
    period_end: datetime
    direct: dict[str, Totals]  # per unit: its own respondents
    subtree: dict[str, Totals]  # per unit with children: everything at and below it (a leaf's is `direct`)
    verdicts: dict[Group, Visibility]
    rows: dict[Group, dict[str, StoredRow]]  # per group, its stored rows by dimension
    shape: str  # the `OrgTree.shape` of the tree the state was built on; another tree means rebuild
    # Units outside the tree with respondents in this period: they roll up into nothing, but their
    # totals are kept (and saved) so that an org version that brings them in finds them.
    outside: dict[str, Totals] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        tenant: Tenant,
        *,
        version: int,
        period_start: datetime,
        period_end: datetime,
        direct: Mapping[str, Totals],
        rows: Mapping[Group, dict[str, StoredRow]],
    ) -> SliceState:
        """From the database's rows: units outside the org, or with no respondents, count for nothing."""
        tree = tenant.org
        kept = {unit: totals for unit, totals in direct.items() if unit in tree and totals.respondents > 0}
        outside = {unit: totals for unit, totals in direct.items() if unit not in tree and totals.respondents > 0}
        subtree: dict[str, Totals] = {}
        for unit in _post_order(tree):
            children = tree.children[unit]
            if not children:
                continue
            total = Totals()
            own = kept.get(unit)
            if own is not None:
                total.add(own)
            for child in children:
                part = subtree.get(child) if tree.children[child] else kept.get(child)
                if part is not None:
                    total.add(part)
            subtree[unit] = total
        return cls(version, period_start, period_end, dict(kept), subtree, {}, dict(rows), tree.shape, outside)

    def totals(self, tree: OrgTree, unit: str, scope: Scope) -> Totals | None:
        if scope == "unit" or not tree.children[unit]:
            return self.direct.get(unit)
        return self.subtree.get(unit)

    def unit_totals(self, unit: str) -> Totals:
        """A unit's own totals, in the tree or outside it (empty if it has none): what is saved for it."""
        return self.direct.get(unit) or self.outside.get(unit) or Totals()

    def advance(self, tree: OrgTree, deltas: Mapping[str, Totals]) -> set[str]:
        """Add one batch's deltas (per unit) to the unit and to every subtree above it; returns the units
        of the tree touched. A unit outside the tree only has its own totals changed: the from-scratch
        recomputation ignores it too.

        The subtrees are advanced bottom-up, level by level: a unit's subtree gets the sum of the deltas
        at and below it in one addition, and passes that sum on to its parent, so where a batch's units
        share ancestors (most of a large batch) each ancestor is added to once, not once per unit below
        it. A sum of one part is that part itself: a lone unit's delta costs one addition per level."""
        touched: set[str] = set()
        depths = tree.depths
        levels: dict[int, dict[str, list[Totals]]] = {}  # depth -> unit -> the parts its subtree gains

        def gain(unit: str, part: Totals) -> None:
            parts = levels.setdefault(depths[unit], {}).setdefault(unit, [])
            parts.append(part)

        for unit, delta in deltas.items():
            if unit not in tree:
                kept = self.outside.get(unit)
                if kept is None:
                    kept = self.outside[unit] = Totals()
                kept.add(delta)
                continue
            own = self.direct.get(unit)
            if own is None:
                own = self.direct[unit] = Totals()
            own.add(delta)
            touched.add(unit)
            above = unit if tree.children[unit] else tree.units[unit].parent  # a leaf's subtree is `direct`
            if above is not None:
                gain(above, delta)
        for depth in range(max(levels, default=-1), -1, -1):  # a level's sums go to the level above
            for unit, parts in levels.get(depth, {}).items():
                if len(parts) == 1:
                    total = parts[0]
                else:
                    total = Totals()
                    for part in parts:
                        total.add(part)
                self.subtree[unit].add(total)
                parent = tree.units[unit].parent
                if parent is not None:
                    gain(parent, total)
        return touched


def deltas_by_slice(delta: AggregateDelta) -> dict[SliceKey, dict[str, Totals]]:
    """A batch's aggregate delta regrouped per slice and unit."""
    out: dict[SliceKey, dict[str, Totals]] = {}

    def totals_of(slice_key: SliceKey, unit: str) -> Totals:
        per_unit = out.setdefault(slice_key, {})
        found = per_unit.get(unit)
        if found is None:
            found = per_unit[unit] = Totals()
        return found

    for group, change in delta.groups.items():
        totals = totals_of(group.slice, intern(group.unit))
        totals.respondents += change.respondents
        for (item, value), n in change.counts.items():
            if n:
                values = totals.counts.setdefault(intern(item), {})
                values[value] = values.get(value, 0) + n
        totals.moments.update((intern(d), m) for d, m in change.moments.items())
    return out


def rescore(
    tenant: Tenant, key: SliceKey, state: SliceState, touched: Iterable[str] | None
) -> tuple[list[tuple[ScoreRow, int]], dict[str, float]]:
    """The rows of every group whose rows differ from `state.rows`, each group's rows whole and with the
    group's next sequence number, and the tenant's own index per dimension. `touched` None rescores
    every group, as `rescore_slice` does.

    A group's rows are stored together (one row per group and scope), so a group with one changed row
    is rewritten whole: its stored dimensions that are no longer produced are included withdrawn.
    Updates `state.verdicts`; the caller updates `state.rows` once the rows are written.
    """
    tree = tenant.org
    instrument = tenant.instruments[key.instrument]
    model = tenant.models[key.model]
    counts = {unit: totals.respondents for unit, totals in state.direct.items() if totals.respondents > 0}
    seen = visibility(tree, counts, tenant.config.min_group_size, complement=tenant.config.complementary_suppression)
    dirty: set[Group] | None = None
    if touched is not None:
        dirty = set()
        for unit in touched:
            dirty.add((unit, "unit"))
            dirty.add((unit, "subtree"))
            dirty.update((a.id, "subtree") for a in tree.ancestors(unit))
        dirty.update(group for group, verdict in seen.items() if state.verdicts.get(group) != verdict)
        dirty.add((tree.root, "subtree"))  # the tenant's own index goes into every event
    state.verdicts = seen
    changed: list[tuple[ScoreRow, int]] = []
    tenant_index: dict[str, float] = {}
    scored: dict[int, dict[str, DimensionResult]] = {}  # a leaf's unit and subtree groups share one aggregate
    for unit in tree.units:
        for scope in SCOPES:
            if dirty is not None and (unit, scope) not in dirty:
                continue
            totals = state.totals(tree, unit, scope)
            rows: list[ScoreRow] = []
            if totals is not None and totals.respondents > 0:
                verdict = seen[(unit, scope)]
                aggregate = totals.aggregate()
                if verdict.publishable:
                    results = scored.get(id(totals))
                    if results is None:
                        results = scored[id(totals)] = score_group(instrument, model, aggregate)
                    rows = [_published(unit, scope, aggregate.respondents, result) for result in results.values()]
                    if unit == tree.root and scope == "subtree":
                        tenant_index = {dimension: result.index for dimension, result in results.items()}
                else:
                    rows = [
                        ScoreRow(
                            unit, scope, dimension, aggregate.respondents, False, verdict.reason, None, None, None, {}
                        )
                        for dimension in answered_dimensions(instrument, model, aggregate)
                    ]
            changed.extend(_if_changed(tree, (unit, scope), rows, state.rows.get((unit, scope), {})))
    if dirty is None:  # the tree may have changed: groups of units no longer in it are withdrawn
        for group, before in state.rows.items():
            if group[0] not in tree:
                changed.extend(_if_changed(tree, group, [], before))
    return changed, tenant_index


def _published(unit: str, scope: Scope, respondents: int, result: DimensionResult) -> ScoreRow:
    return ScoreRow(
        unit=unit,
        scope=scope,
        dimension=result.dimension,
        respondents=respondents,
        publishable=True,
        suppression_reason=None,
        index=result.index,
        standard_error=result.standard_error,
        favourable_pct=result.favourable_pct,
        details={
            "question_indices": dict(result.question_indices),
            "distribution": {str(k): v for k, v in result.distribution.items()},
            "dimension_respondents": result.respondents,
        },
    )


def _if_changed(
    tree: OrgTree, group: Group, rows: list[ScoreRow], before: Mapping[str, StoredRow]
) -> list[tuple[ScoreRow, int]]:
    """The group's rows whole with its next sequence number, if any differs from what is stored.

    A stored dimension this rescoring no longer produces (its last respondent was retracted, or the
    unit left the org tree) is kept, withdrawn: no respondents and no figures, so nothing stale stays
    readable, and a dimension that comes back continues its sequence numbers."""
    unit = group[0]
    scope: Scope = "unit" if group[1] == "unit" else "subtree"
    produced = {row.dimension for row in rows}
    for dimension in before:
        if dimension not in produced:
            reason = "no_responses" if unit in tree else "outside_org"
            rows.append(ScoreRow(unit, scope, dimension, 0, False, reason, None, None, None, {}))
    if len(rows) == len(before) and all(
        (stored := before.get(row.dimension)) is not None and stored.same(row) for row in rows
    ):
        return []
    sequence = max((stored.sequence for stored in before.values()), default=0) + 1
    return [(row, sequence) for row in rows]


def _post_order(tree: OrgTree) -> list[str]:
    order: list[str] = []
    stack: list[tuple[str, bool]] = [(tree.root, False)]
    while stack:
        unit, expanded = stack.pop()
        if expanded:
            order.append(unit)
            continue
        stack.append((unit, True))
        stack.extend((child, False) for child in tree.children[unit])
    return order
