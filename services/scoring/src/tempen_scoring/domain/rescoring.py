"""Scoring's use case, pure: from stored and incoming contributions to aggregate deltas, and from a
slice's aggregates to the score rows that changed. The adapter runs these inside one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Literal

from tempen_scoring.domain.anonymity import visibility
from tempen_scoring.domain.index import Contribution, GroupAggregate, score_group
from tempen_scoring.domain.periods import Period
from tempen_shared.tenancy.loader import Tenant
from tempen_shared.tenancy.org import OrgTree

Scope = Literal["unit", "subtree"]


@dataclass(frozen=True, slots=True)
class GroupKey:
    tenant: str
    unit: str
    instrument: str
    model: str
    period: str

    @property
    def slice(self) -> SliceKey:
        return SliceKey(self.tenant, self.instrument, self.model, self.period)


@dataclass(frozen=True, slots=True)
class SliceKey:
    """Everything scored together: one tenant's instrument, model and period across all its units."""

    tenant: str
    instrument: str
    model: str
    period: str


@dataclass(frozen=True, slots=True)
class IncomingContribution:
    tenant: str
    submission_id: str
    revision: int
    group: GroupKey
    period: Period
    contribution: Contribution
    respondent: str | None


@dataclass(frozen=True, slots=True)
class StoredContribution:
    revision: int
    group: GroupKey
    contribution: Contribution


# Sums of squares of 1e-9-rounded scores over a million answers need ~30 significant digits; the
# default context keeps 28 and would round, making add-then-remove drift.
EXACT = Context(prec=80)


def exact(value: float) -> Decimal:
    """Respondent-level scores are stored rounded to 1e-9 so adding and later removing one is exact."""
    return Decimal(repr(round(value, 9)))


# A respondent's dimension score is rounded to 1e-9 (`exact`), so any sum of scores is a whole number of
# 1e-9 and any sum of their squares of 1e-18: moments are added as those integers, exact in any order, and
# with no Decimal on the hot path (issue 14).
SUM_PLACES, SQUARES_PLACES = 9, 18


def scaled(value: Decimal, places: int) -> int:
    """An exact decimal as the whole number of 10**-places it is; ValueError if it is not one."""
    scaled_value = value.scaleb(places, context=EXACT)
    whole = int(scaled_value)
    if whole != scaled_value:
        raise ValueError(f"{value} has more than {places} decimals: not a sum of scores rounded to 1e-9")
    return whole


# A respondent's dimension score takes few distinct values (a mean of a handful of answers), so its
# scaled integers are worked out once per value, not once per submission.
_SCALED_PAIRS: dict[float, tuple[int, int]] = {}


def scaled_pair(value: float) -> tuple[int, int]:
    """A respondent's score as exact integers: (score * 10**9, score**2 * 10**18), the score rounded as
    `exact` rounds it."""
    pair = _SCALED_PAIRS.get(value)
    if pair is None:
        whole = scaled(exact(value), SUM_PLACES)
        pair = (whole, whole * whole)
        if len(_SCALED_PAIRS) >= 100_000:
            _SCALED_PAIRS.clear()
        _SCALED_PAIRS[value] = pair
    return pair


@dataclass(slots=True)
class GroupDelta:
    """What one batch changes in one group: respondents, answer counts per (item, value), and moments
    per dimension as exact integers (n, sum * 10**9, sum of squares * 10**18), see `scaled_pair`."""

    respondents: int = 0
    counts: Counter[tuple[str, int]] = field(default_factory=Counter)
    moments: dict[str, tuple[int, int, int]] = field(default_factory=dict)


@dataclass
class AggregateDelta:
    groups: dict[GroupKey, GroupDelta] = field(default_factory=dict)
    periods: dict[GroupKey, Period] = field(default_factory=dict)

    def add(self, group: GroupKey, c: Contribution, sign: int) -> None:
        delta = self.groups.get(group)
        if delta is None:
            delta = self.groups[group] = GroupDelta()
        delta.respondents += sign
        counts = delta.counts
        if sign > 0:
            counts.update(c.item_values.items())  # counted in C: a submission answers some twenty items
        else:
            counts.subtract(c.item_values.items())
        moments = delta.moments
        for dimension, score in c.dimension_scores.items():
            x, xx = scaled_pair(score)
            current = moments.get(dimension)
            if current is None:
                moments[dimension] = (sign, x, xx) if sign > 0 else (sign, -x, -xx)
            elif sign > 0:
                moments[dimension] = (current[0] + 1, current[1] + x, current[2] + xx)
            else:
                moments[dimension] = (current[0] - 1, current[1] - x, current[2] - xx)

    @property
    def respondents(self) -> dict[GroupKey, int]:
        return {group: delta.respondents for group, delta in self.groups.items()}

    @property
    def counts(self) -> dict[tuple[GroupKey, str, int], int]:
        return {(g, item, value): n for g, d in self.groups.items() for (item, value), n in d.counts.items()}

    @property
    def moments(self) -> dict[tuple[GroupKey, str], tuple[int, int, int]]:
        """Per group and dimension (n, sum * 10**9, sum of squares * 10**18), as `GroupDelta` holds them."""
        return {(g, dimension): m for g, d in self.groups.items() for dimension, m in d.moments.items()}

    @property
    def touched_slices(self) -> set[SliceKey]:
        return {g.slice for g in self.groups}


@dataclass(frozen=True, slots=True)
class IncomingRetraction:
    """A submission withdrawn (GDPR erasure): remove whatever it contributed, to every model."""

    tenant: str
    submission_id: str
    revision: int


TOMBSTONE = ""  # the model column of a retraction's tombstone row: it covers every model


@dataclass
class Plan:
    delta: AggregateDelta
    winners: list[IncomingContribution]
    tombstones: list[IncomingRetraction]
    ignored: int
    # What is stored per (tenant, submission, model) once the batch is applied, tombstones included
    after: dict[tuple[str, str, str], StoredContribution] = field(default_factory=dict)


def plan_changes(
    incoming: Sequence[IncomingContribution | IncomingRetraction],
    stored: Mapping[tuple[str, str, str], StoredContribution],
) -> Plan:
    """Which incoming events change anything, in order, and the aggregate delta they make.

    A revision not newer than the stored one (or than a retraction's tombstone) is a redelivery or
    arrives out of order: ignored. A newer one replaces the stored contribution (remove old, add
    new). A retraction removes the submission's contributions to every model and leaves a tombstone
    at its revision, so nothing older can ever bring them back.
    """
    delta = AggregateDelta()
    current: dict[tuple[str, str, str], StoredContribution] = dict(stored)
    winners: dict[tuple[str, str, str], IncomingContribution] = {}
    tombstones: dict[tuple[str, str], IncomingRetraction] = {}
    ignored = 0
    for item in incoming:
        tombstone = current.get((item.tenant, item.submission_id, TOMBSTONE))
        if tombstone is not None and tombstone.revision >= item.revision:
            ignored += 1
            continue
        if isinstance(item, IncomingRetraction):
            for key in [k for k in current if k[:2] == (item.tenant, item.submission_id) and k[2] != TOMBSTONE]:
                removed = current.pop(key)
                delta.add(removed.group, removed.contribution, -1)
                winners.pop(key, None)
            current[(item.tenant, item.submission_id, TOMBSTONE)] = StoredContribution(
                item.revision, GroupKey(item.tenant, "", "", TOMBSTONE, ""), Contribution({}, {})
            )
            tombstones[(item.tenant, item.submission_id)] = item
            continue
        key = (item.tenant, item.submission_id, item.group.model)
        previous = current.get(key)
        if previous is not None and previous.revision >= item.revision:
            ignored += 1
            continue
        if previous is not None:
            delta.add(previous.group, previous.contribution, -1)
        delta.add(item.group, item.contribution, +1)
        delta.periods[item.group] = item.period
        current[key] = StoredContribution(item.revision, item.group, item.contribution)
        winners[key] = item
    return Plan(delta, list(winners.values()), list(tombstones.values()), ignored, current)


@dataclass(frozen=True, slots=True)
class ScoreRow:
    unit: str
    scope: Scope
    dimension: str
    respondents: int
    publishable: bool
    suppression_reason: str | None
    index: float | None
    standard_error: float | None
    favourable_pct: float | None
    details: Mapping[str, object]

    def same_as(self, other: ScoreRow | None) -> bool:
        return other is not None and (
            self.respondents,
            self.publishable,
            self.index,
            self.standard_error,
            self.favourable_pct,
        ) == (other.respondents, other.publishable, other.index, other.standard_error, other.favourable_pct)


def rescore_slice(
    tenant: Tenant, key: SliceKey, groups: Mapping[str, GroupAggregate]
) -> tuple[list[ScoreRow], dict[str, float]]:
    """Every unit's and subtree's scores in one slice, with the anonymity rule applied.

    Returns the rows and the tenant's own index per dimension (the root subtree, used by the
    "below the tenant's own index" rule), which is only given when publishable.
    """
    instrument = tenant.instruments[key.instrument]
    model = tenant.models[key.model]
    tree = tenant.org
    direct = {unit: groups[unit].respondents if unit in groups else 0 for unit in tree.units}
    seen = visibility(tree, direct, tenant.config.min_group_size, complement=tenant.config.complementary_suppression)
    subtree_aggs: dict[str, GroupAggregate] = {}
    for unit in _post_order(tree):
        agg = groups.get(unit, GroupAggregate.empty())
        for child in tree.children[unit]:
            agg = agg.merge(subtree_aggs[child])
        subtree_aggs[unit] = agg
    rows: list[ScoreRow] = []
    tenant_index: dict[str, float] = {}
    for unit in tree.units:
        scopes: tuple[tuple[Scope, GroupAggregate | None], ...] = (
            ("unit", groups.get(unit)),
            ("subtree", subtree_aggs[unit]),
        )
        for scope, aggregate in scopes:
            if aggregate is None or aggregate.respondents == 0:
                continue
            verdict = seen[(unit, scope)]
            results = score_group(instrument, model, aggregate)
            for dimension, result in results.items():
                publishable = verdict.publishable
                rows.append(
                    ScoreRow(
                        unit=unit,
                        scope=scope,
                        dimension=dimension,
                        respondents=aggregate.respondents,
                        publishable=publishable,
                        suppression_reason=verdict.reason,
                        index=result.index if publishable else None,
                        standard_error=result.standard_error if publishable else None,
                        favourable_pct=result.favourable_pct if publishable else None,
                        details={
                            "question_indices": dict(result.question_indices),
                            "distribution": {str(k): v for k, v in result.distribution.items()},
                            "dimension_respondents": result.respondents,
                        }
                        if publishable
                        else {},
                    )
                )
                if publishable and unit == tree.root and scope == "subtree":
                    tenant_index[dimension] = result.index
    return rows, tenant_index


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
