"""Which groups may be published: no group below the minimum size, and none revealed by differencing.

Scores are published per unit in two scopes: "unit" (the unit's direct members) and "subtree"
(the unit and everything below it). Everything we publish about a group (respondent count,
answer counts per value, sums of scores) is additive, so anyone can subtract published groups
from each other. The groups nest like a tree: the subtree of u is exactly u's own group plus the
subtrees of u's children. Suppressing small groups is therefore not enough. If a parent with 32
respondents is shown next to a child with 30, the parent minus the child reveals the other 2.

The rule, in three steps:

1. A group with no respondents is not publishable ("no_responses"). Neither is a group with
   1..min-1 respondents ("below_minimum").
2. For every publishable subtree group P, take the publishable groups directly beneath it: its
   own unit group and its children's subtrees. Where one of those is hidden, look further down
   through it, to the publishable groups that are not inside another publishable part of P.
   What P holds beyond those parts can be computed by subtraction. We call it P's remainder.
3. While a remainder has 1..min-1 respondents, also hide the smallest of those parts
   ("differencing"). That merges it into the remainder (Viva Glint's complementary suppression).
   The loop always ends, because a part is hidden at each turn and P alone is at least min.

Why the result is safe. Each publishable group's remainder is disjoint from every other group's
remainder, and every publishable group is a union of remainders. So the sums anyone can compute
from published groups are exactly the unions of remainders (the row space of a laminar family).
Every remainder has 0 or at least min respondents, so every computable group does too. Hiding a
part changes only the remainder of the one group it lies directly beneath, so a single pass is enough.

Limits: the protection holds within one release: one period, one statistic, one tree. Call this
with the counts of the statistic you publish. A dimension's respondent count can be lower than
the group's when people skip items, and so can a question's. Differencing across periods, or
across org versions, is not covered here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tempen_shared.tenancy.org import OrgTree

Scope = Literal["unit", "subtree"]
SuppressionReason = Literal["no_responses", "below_minimum", "differencing"]
Group = tuple[str, str]  # (unit id, scope)


@dataclass(frozen=True, slots=True)
class Visibility:
    publishable: bool
    reason: SuppressionReason | None  # None when publishable


PUBLISHABLE = Visibility(publishable=True, reason=None)


def visibility(tree: OrgTree, direct_respondents: Mapping[str, int], min_group_size: int) -> dict[Group, Visibility]:
    """Whether each (unit id, scope) of `tree` may be published, and if not, why.

    `direct_respondents` maps unit ids to the respondents placed directly in them; units absent
    from it have none. The keys of the result are every unit of the tree, in both scopes.

    Raises:
        ValueError: a count is negative, a unit is not in the tree, or `min_group_size` < 1.
    """
    if min_group_size < 1:
        raise ValueError("the minimum group size must be at least 1")
    unknown = sorted(set(direct_respondents) - set(tree.units))
    if unknown:
        raise ValueError(f"respondents counted for units not in the tree: {', '.join(unknown)}")
    negative = sorted(u for u, n in direct_respondents.items() if n < 0)
    if negative:
        raise ValueError(f"negative respondent counts for: {', '.join(negative)}")

    counts = _group_counts(tree, direct_respondents)
    hidden: dict[Group, SuppressionReason] = {}
    for group, n in counts.items():
        if n == 0:
            hidden[group] = "no_responses"
        elif n < min_group_size:
            hidden[group] = "below_minimum"

    for unit_id in _top_down(tree):
        whole: Group = (unit_id, "subtree")
        if whole in hidden:
            continue
        while True:
            parts = _visible_parts(tree, whole, hidden, counts)
            remainder = counts[whole] - sum(counts[part] for part in parts)
            if not 0 < remainder < min_group_size:
                break
            smallest = min(parts, key=lambda part: (counts[part], part[1] != "unit", part[0]))
            hidden[smallest] = "differencing"

    return {
        group: Visibility(publishable=False, reason=hidden[group]) if group in hidden else PUBLISHABLE
        for group in counts
    }


def _top_down(tree: OrgTree) -> list[str]:
    order: list[str] = []
    stack = [tree.root]
    while stack:
        current = stack.pop()
        order.append(current)
        stack.extend(reversed(tree.children[current]))
    return order


def _group_counts(tree: OrgTree, direct_respondents: Mapping[str, int]) -> dict[Group, int]:
    counts: dict[Group, int] = {}
    for unit_id in reversed(_top_down(tree)):  # children before their parents
        own = direct_respondents.get(unit_id, 0)
        counts[(unit_id, "unit")] = own
        counts[(unit_id, "subtree")] = own + sum(counts[(child, "subtree")] for child in tree.children[unit_id])
    return counts


def _parts(tree: OrgTree, group: Group) -> list[Group]:
    unit_id, scope = group
    if scope == "unit":
        return []
    return [(unit_id, "unit"), *((child, "subtree") for child in tree.children[unit_id])]


def _visible_parts(
    tree: OrgTree, whole: Group, hidden: Mapping[Group, SuppressionReason], counts: Mapping[Group, int]
) -> list[Group]:
    """The publishable groups inside `whole` that no other publishable group inside `whole` contains."""
    found: list[Group] = []
    stack = _parts(tree, whole)
    while stack:
        group = stack.pop()
        if counts[group] == 0:
            continue
        if group in hidden:
            stack.extend(_parts(tree, group))
        else:
            found.append(group)
    return found
