"""The from-scratch side of scoring's equivalence tests: each unit's aggregate of the contributions that
count, built directly from them, for `rescoring.rescore_slice` to score."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from tempen_scoring.domain.index import Contribution, GroupAggregate
from tempen_scoring.domain.rescoring import EXACT, exact
from tempen_shared.tenancy.loader import Tenant


def reference_groups(tenant: Tenant, live: Mapping[str, tuple[str, Contribution]]) -> dict[str, GroupAggregate]:
    """Each unit's aggregate as the database holds it (scores rounded as `exact` stores them)."""
    per_unit: dict[str, list[Contribution]] = {}
    for unit, c in live.values():
        per_unit.setdefault(unit, []).append(c)
    out = {}
    for unit, contributions in per_unit.items():
        counts: dict[str, dict[int, int]] = {}
        sums: dict[str, tuple[int, Decimal, Decimal]] = {}
        for c in contributions:
            for item, value in c.item_values.items():
                counts.setdefault(item, {}).setdefault(value, 0)
                counts[item][value] += 1
            for dimension, score in c.dimension_scores.items():
                x = exact(score)
                n, s, ss = sums.get(dimension, (0, Decimal(0), Decimal(0)))
                sums[dimension] = (n + 1, EXACT.add(s, x), EXACT.add(ss, EXACT.multiply(x, x)))
        if unit in tenant.org:
            out[unit] = GroupAggregate(
                respondents=len(contributions),
                item_counts=counts,
                dimension_moments={d: (n, Fraction(s), Fraction(ss)) for d, (n, s, ss) in sums.items()},
            )
    return out
