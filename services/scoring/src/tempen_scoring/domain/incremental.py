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

from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from operator import add
from sys import intern  # kept slices hold the same few ids thousands of times: one string each

from tempen_scoring.domain.anonymity import Visibility, visibility
from tempen_scoring.domain.index import DimensionResult, GroupAggregate, answered_dimensions, score_group
from tempen_scoring.domain.rescoring import (
    EXACT,
    SQUARES_PLACES,
    SUM_PLACES,
    AggregateDelta,
    Scope,
    ScoreRow,
    SliceKey,
    scaled,
)
from tempen_shared.tenancy.loader import Tenant
from tempen_shared.tenancy.org import OrgTree

Group = tuple[str, str]  # (unit id, scope)
SCOPES: tuple[Scope, Scope] = ("unit", "subtree")


class _Layout:
    """The (item, value) pairs a `Totals` counts, in one order, and where each one is. Groups of one
    instrument mostly count the same pairs, so they share one layout (`_layout_of`) and hold only an
    integer array aligned with it."""

    __slots__ = ("index", "keys", "shared")

    def __init__(self, keys: tuple[tuple[str, int], ...], *, shared: bool = False) -> None:
        self.keys = keys
        self.index = {key: i for i, key in enumerate(keys)}
        self.shared = shared  # in `_LAYOUTS`: kept groups may hold it


# Per set of items, the layout with every (item, value) pair seen for them so far: a group's layout only
# grows, so kept groups of one instrument come to share one layout however their answers arrived.
_LAYOUTS: dict[frozenset[str], _Layout] = {}
_EMPTY_LAYOUT = _Layout(())


def _layout_of(keys: Iterable[tuple[str, int]], *, share: bool) -> _Layout:
    """A layout with at least these pairs: the shared one of their items (widened if need be), unless
    `share` is False (a batch's deltas, short-lived and of every shape): those take the shared layout of
    their items only where it already has every pair, and have one of their own otherwise. Most of a
    burst's deltas answered every item, so they share the kept groups' layout, and hold an array each
    rather than a layout of their own (about 10 MB for a batch of 10,000 on 3,000 units, issue 14)."""
    wanted = set(keys)
    items = frozenset(item for item, _ in wanted)
    layout = _LAYOUTS.get(items)
    if not share:
        if layout is not None and layout.index.keys() >= wanted:
            return layout
        return _Layout(tuple(sorted(wanted)))
    if layout is not None and layout.index.keys() >= wanted:
        return layout
    if layout is not None:
        wanted |= layout.index.keys()
    elif len(_LAYOUTS) >= 1_000:  # bounded: a layout dropped here stays with the totals that hold it
        _LAYOUTS.clear()
    layout = _LAYOUTS[items] = _Layout(tuple(sorted((intern(item), value) for item, value in wanted)), shared=True)
    return layout


def _decimal(scaled: int, places: int) -> Decimal:
    return Decimal(scaled).scaleb(-places, context=EXACT)


def _fixed(scaled: int, places: int) -> str:
    """`_decimal(scaled, places)` as a string in fixed notation, without making the Decimal."""
    whole, fraction = divmod(-scaled if scaled < 0 else scaled, 10**places)
    return f"{'-' if scaled < 0 else ''}{whole}.{fraction:0{places}d}"


class Totals:
    """One group's additive aggregate as the database rows hold it: counts per item and value, and
    moments with exact decimal sums. Zero counts and all-zero moments are dropped, as the database
    reads drop them, so equal contents compare equal however they were reached. (A group's moments
    with no respondents are all zero; a sum of deltas's need not be, see `SliceState.advance`.)

    Kept slices hold thousands of groups, so a group is held small (issue 14, docs/benchmarks.md): its
    counts as one array of 64-bit integers aligned with a layout shared by the groups that answered the
    same items (`_layout_of`), not a dict per item, and its moments as scaled integers, not Decimals. Both
    stay exact integers; `counts` and `moments` give them in the database's form."""

    __slots__ = ("_counts", "_layout", "_moments", "respondents")

    def __init__(
        self,
        respondents: int = 0,
        counts: Mapping[str, Mapping[int, int]] | None = None,
        moments: dict[str, tuple[int, Decimal, Decimal]] | None = None,
    ) -> None:
        self.respondents = respondents
        self._layout = _EMPTY_LAYOUT
        self._counts = array("q")
        # Per dimension (n, sum * 10**9, sum of squares * 10**18): exact integers, as a score is rounded
        # to 1e-9 (`rescoring.exact`), and a tenth of a Decimal's size.
        self._moments: dict[str, tuple[int, int, int]] = {}
        if moments:
            self.add_moments(moments)
        if counts:
            self.add_counts({(item, value): n for item, values in counts.items() for value, n in values.items()})

    @property
    def counts(self) -> dict[str, dict[int, int]]:
        """Counts per item and value, zeros left out (a copy: change them with `add` or `add_counts`)."""
        out: dict[str, dict[int, int]] = {}
        for (item, value), n in zip(self._layout.keys, self._counts, strict=True):
            if n:
                values = out.get(item)
                if values is None:
                    values = out[item] = {}
                values[value] = n
        return out

    @property
    def moments(self) -> dict[str, tuple[int, Decimal, Decimal]]:
        """Moments per dimension with exact decimal sums (a copy: change them with `add` or `add_moments`)."""
        return {
            d: (n, _decimal(s, SUM_PLACES), _decimal(ss, SQUARES_PLACES)) for d, (n, s, ss) in self._moments.items()
        }

    def fixed_moments(self) -> dict[str, tuple[int, str, str]]:
        """Moments per dimension with the sums as exact decimal strings ("125.000000000"), written
        straight from the integers held: what the database row stores, with no Decimal in between."""
        return {d: (n, _fixed(s, SUM_PLACES), _fixed(ss, SQUARES_PLACES)) for d, (n, s, ss) in self._moments.items()}

    def add_moments(self, moments: Mapping[str, tuple[int, Decimal, Decimal]]) -> None:
        """Add moments per dimension, (n, sum, sum of squares) as exact decimals."""
        self._add_moments(
            (intern(d), (n, scaled(s, SUM_PLACES), scaled(ss, SQUARES_PLACES))) for d, (n, s, ss) in moments.items()
        )

    def _add_moments(self, moments: Iterable[tuple[str, tuple[int, int, int]]]) -> None:
        mine = self._moments
        for dimension, (n, s, ss) in moments:
            current = mine.get(dimension)
            if current is not None:
                n, s, ss = current[0] + n, current[1] + s, current[2] + ss
            # A sum of deltas can have no net respondents and moved sums (a correction, one unit's
            # retraction and another's submission); a group's totals with none have zero sums.
            if n or s or ss:
                mine[dimension] = (n, s, ss)
            else:
                mine.pop(dimension, None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Totals):
            return NotImplemented
        return (self.respondents, self.counts, self._moments) == (other.respondents, other.counts, other._moments)

    def __repr__(self) -> str:
        return f"Totals({self.respondents!r}, {self.counts!r}, {self.moments!r})"

    def _widen(self, keys: Iterable[tuple[str, int]], *, share: bool = True) -> None:
        """Make room for pairs not in the layout yet; the pairs counted zero are left out of the new one."""
        kept = [(key, n) for key, n in zip(self._layout.keys, self._counts, strict=True) if n]
        layout = _layout_of({key for key, _ in kept} | set(keys), share=share)
        counts = array("q", bytes(8 * len(layout.keys)))
        index = layout.index
        for key, n in kept:
            counts[index[key]] = n
        self._layout, self._counts = layout, counts

    def add_counts(self, counts: Mapping[tuple[str, int], int], *, share: bool = True) -> None:
        """Add counts per (item, value); `share` False for a batch's deltas (see `_layout_of`)."""
        index = self._layout.index
        if any(key not in index for key in counts):
            self._widen(counts, share=share)
            index = self._layout.index
        mine = self._counts
        for key, n in counts.items():
            mine[index[key]] += n

    def add(self, other: Totals, *, share: bool = True) -> None:
        """Add `other`; `share` False for a short-lived sum of deltas (see `_layout_of`)."""
        self.respondents += other.respondents
        if other._layout is self._layout:
            self._counts = array("q", map(add, self._counts, other._counts))
        elif self._layout is _EMPTY_LAYOUT and (other._layout.shared or not share):
            # Empty, as a new unit's totals and every sum of a batch's parts start: a copy of the other's
            # counts on its layout, where widening would give the same pairs after sets and sorting.
            self._layout, self._counts = other._layout, array("q", other._counts)
        elif other._counts:
            index = self._layout.index
            if not other._layout.index.keys() <= index.keys():
                self._widen(other._layout.keys, share=share)
                index = self._layout.index
            mine = self._counts
            for key, n in zip(other._layout.keys, other._counts, strict=True):
                if n:
                    mine[index[key]] += n
        if self._moments:
            self._add_moments(other._moments.items())
        else:  # the other's hold no all-zero moments either (`_add_moments`): its own, copied
            self._moments = dict(other._moments)

    def aggregate(self) -> GroupAggregate:
        return GroupAggregate(
            respondents=self.respondents,
            item_counts=self.counts,
            dimension_moments={
                d: (n, Fraction(s, 10**SUM_PLACES), Fraction(ss, 10**SQUARES_PLACES))
                for d, (n, s, ss) in self._moments.items()
            },
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
                        total.add(part, share=False)
                self.subtree[unit].add(total)
                parent = tree.units[unit].parent
                if parent is not None:
                    gain(parent, total)
        return touched


def deltas_by_slice(delta: AggregateDelta, *, consume: bool = False) -> dict[SliceKey, dict[str, Totals]]:
    """A batch's aggregate delta regrouped per slice and unit. `consume`: take each group's delta out of
    `delta.groups` as it is regrouped, so a batch does not hold its deltas twice (a dict of counts per
    group and the same as `Totals`, some 25 MB each for 10,000 submissions on 3,000 units, issue 14);
    `delta.periods` stays."""
    out: dict[SliceKey, dict[str, Totals]] = {}

    def totals_of(slice_key: SliceKey, unit: str) -> Totals:
        per_unit = out.setdefault(slice_key, {})
        found = per_unit.get(unit)
        if found is None:
            found = per_unit[unit] = Totals()
        return found

    groups = delta.groups
    for group in list(groups) if consume else groups:
        change = groups.pop(group) if consume else groups[group]
        totals = totals_of(group.slice, intern(group.unit))
        totals.respondents += change.respondents
        totals.add_counts({key: n for key, n in change.counts.items() if n}, share=False)
        totals._add_moments((intern(d), m) for d, m in change.moments.items())  # integers as Totals holds them
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
    groups, tenant_index = rescore_groups(tenant, key, state, touched)
    return [pair for group in groups for pair in group], tenant_index


def rescore_groups(
    tenant: Tenant, key: SliceKey, state: SliceState, touched: Iterable[str] | None
) -> tuple[Iterator[list[tuple[ScoreRow, int]]], dict[str, float]]:
    """`rescore`, one changed group at a time: the tenant's own index at once, and an iterator over the
    changed groups (each group's rows whole, with its next sequence number) that scores a group only when
    asked for it. A slice rescored whole is some 23,000 rows on 3,000 units; the store streams them to
    the database rather than holding them all (issue 14, docs/benchmarks.md).

    `state.verdicts` is updated at once. The iterator reads `state.rows` of each group only when it gets
    to it, so the caller may update a group's stored rows once it has that group's new ones."""
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
    tenant_index: dict[str, float] = {}
    root = state.totals(tree, tree.root, "subtree")
    root_results: dict[str, DimensionResult] | None = None
    if root is not None and root.respondents > 0 and seen[(tree.root, "subtree")].publishable:
        root_results = score_group(instrument, model, root.aggregate())
        tenant_index = {dimension: result.index for dimension, result in root_results.items()}
    # Groups of units no longer in the tree are withdrawn (the tree may have changed); listed now, before
    # the caller updates `state.rows` as it takes the groups.
    outside = [group for group in state.rows if group[0] not in tree] if dirty is None else []

    def changed_groups() -> Iterator[list[tuple[ScoreRow, int]]]:
        for unit in tree.units:
            # A leaf's two groups share totals: their aggregate is built, and scored, once.
            aggregated: tuple[Totals, GroupAggregate] | None = None
            scored: tuple[Totals, dict[str, DimensionResult]] | None = None
            for scope in SCOPES:
                if dirty is not None and (unit, scope) not in dirty:
                    continue
                totals = state.totals(tree, unit, scope)
                rows: list[ScoreRow] = []
                if totals is not None and totals.respondents > 0:
                    verdict = seen[(unit, scope)]
                    if aggregated is not None and aggregated[0] is totals:
                        aggregate = aggregated[1]
                    else:
                        aggregate = totals.aggregate()
                        aggregated = (totals, aggregate)
                    if verdict.publishable:
                        if totals is root and root_results is not None:
                            results = root_results
                        elif scored is not None and scored[0] is totals:
                            results = scored[1]
                        else:
                            results = score_group(instrument, model, aggregate)
                            scored = (totals, results)
                        rows = [_published(unit, scope, aggregate.respondents, result) for result in results.values()]
                    else:
                        rows = [
                            ScoreRow(
                                unit,
                                scope,
                                dimension,
                                aggregate.respondents,
                                False,
                                verdict.reason,
                                None,
                                None,
                                None,
                                {},
                            )
                            for dimension in answered_dimensions(instrument, model, aggregate)
                        ]
                changed = _if_changed(tree, (unit, scope), rows, state.rows.get((unit, scope), {}))
                if changed:
                    yield changed
        for group in outside:
            changed = _if_changed(tree, group, [], state.rows[group])
            if changed:
                yield changed

    return changed_groups(), tenant_index


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
