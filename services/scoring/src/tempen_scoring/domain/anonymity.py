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
3. Hide further groups ("differencing") until no publishable group's remainder has 1..min-1
   respondents. Hiding a part of P merges its remainder into P's; hiding P itself merges P's
   remainder into that of the publishable group P lies directly beneath, or, with none above it,
   out of everything published. Which groups, the tenant chooses (`complement`):

   - "smallest_part" (Viva Glint's complementary suppression): top down, while P's remainder is
     small, hide the smallest of P's parts. The loop always ends, because a part is hidden at each
     turn and P alone is at least min. Hiding a part changes only the remainder of the one group it
     lies directly beneath, so a single pass is enough.
   - "fewest_people": of all the sets of groups whose hiding leaves every remainder safe, the one
     that withholds the fewest people's results. A group hidden for differencing withholds its
     respondents' results; an *actionable* result (a unit group, which alerts judge, or the root's
     subtree group, the tenant's own index that alerts compare every unit with) is worth more than
     any number of roll-ups (the other subtree groups), which people read but nothing acts on. So
     the cost is the pair (respondents of the actionable groups hidden, respondents of the roll-ups
     hidden), compared in that order. A unit without respondents below it has one result in both
     scopes: hiding it costs its respondents in both parts of the pair. The choice is exact (dynamic
     programming over the tree, see `_hide_fewest_people`), so it never withholds more than
     "smallest_part" does on the same counts, and the same tree and counts always give the same
     choice.

Why the result is safe. Each publishable group's remainder is disjoint from every other group's
remainder, and every publishable group is a union of remainders. So the sums anyone can compute
from published groups are exactly the unions of remainders (the row space of a laminar family).
Every remainder has 0 or at least min respondents, so every computable group does too. Both
policies end only when every remainder is safe, so the argument holds for either.

Limits: the protection holds within one release: one period, one statistic, one tree. Call this
with the counts of the statistic you publish. A dimension's respondent count can be lower than
the group's when people skip items, and so can a question's. Differencing across periods, or
across org versions, is not covered here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tempen_shared.tenancy.models import ComplementarySuppression
from tempen_shared.tenancy.org import OrgTree

Scope = Literal["unit", "subtree"]
SuppressionReason = Literal["no_responses", "below_minimum", "differencing"]
Group = tuple[str, str]  # (unit id, scope)


@dataclass(frozen=True, slots=True)
class Visibility:
    publishable: bool
    reason: SuppressionReason | None  # None when publishable


PUBLISHABLE = Visibility(publishable=True, reason=None)


def visibility(
    tree: OrgTree,
    direct_respondents: Mapping[str, int],
    min_group_size: int,
    *,
    complement: ComplementarySuppression,
) -> dict[Group, Visibility]:
    """Whether each (unit id, scope) of `tree` may be published, and if not, why.

    `direct_respondents` maps unit ids to the respondents placed directly in them; units absent
    from it have none. `complement` says which further groups are hidden against differencing
    (step 3 above; the tenant's `complementary_suppression`). The keys of the result are every unit
    of the tree, in both scopes.

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

    if complement == "smallest_part":
        _hide_smallest_parts(tree, counts, hidden, min_group_size)
    else:
        _hide_fewest_people(tree, counts, hidden, min_group_size)

    return {
        group: Visibility(publishable=False, reason=hidden[group]) if group in hidden else PUBLISHABLE
        for group in counts
    }


def _hide_smallest_parts(
    tree: OrgTree, counts: Mapping[Group, int], hidden: dict[Group, SuppressionReason], minimum: int
) -> None:
    """Top down, while a publishable subtree's remainder is small, hide the smallest of its parts."""
    for unit_id in _top_down(tree):
        whole: Group = (unit_id, "subtree")
        if whole in hidden:
            continue
        while True:
            parts = _visible_parts(tree, whole, hidden, counts)
            remainder = counts[whole] - sum(counts[part] for part in parts)
            if not 0 < remainder < minimum:
                break
            smallest = min(parts, key=lambda part: (counts[part], part[1] != "unit", part[0]))
            hidden[smallest] = "differencing"


def _hide_fewest_people(
    tree: OrgTree, counts: Mapping[Group, int], hidden: dict[Group, SuppressionReason], minimum: int
) -> None:
    """Hide, against differencing, the groups that keep every remainder safe at the least cost.

    The cost (the module's docstring) is compared as one number: an actionable group's respondents
    count `scale` times, more than the roll-ups' respondents can add up to. Exact dynamic programming
    over the groups, children before their parents. A group's state is its open count: its
    respondents that no publishable group inside it (itself included) covers. Open counts of
    `minimum` or more are one state, since adding to them keeps them safe, so a group has at most
    minimum + 1 states. A group may be published only if its remainder (the open count of its parts)
    is 0 or at least `minimum`, and publishing it closes its open count to 0. For every group and
    state we keep the cheapest choice inside it, then follow the choices back down from the root's
    cheapest state. Time O(groups * (minimum + 1)^2).
    """
    scale = sum(n for (_, scope), n in counts.items() if scope == "subtree") + 1
    tables: dict[str, dict[int, int]] = {}  # unit id -> open count of its subtree group -> least cost
    merges: dict[str, list[dict[int, tuple[int, int]]]] = {}  # per child: open count -> (before it, child's)
    choices: dict[str, dict[int, int]] = {}  # open count of the subtree group -> open count of its parts
    for unit_id in reversed(_top_down(tree)):  # children before their parents
        own = counts[(unit_id, "unit")]
        below = {min(own, minimum): 0}
        if own >= minimum:  # shown (open 0), or hidden for differencing (open `minimum`)
            below = {0: 0, minimum: own * scale}
        steps: list[dict[int, tuple[int, int]]] = []
        for child in tree.children[unit_id]:
            combined: dict[int, int] = {}
            back: dict[int, tuple[int, int]] = {}
            for before, cost in below.items():
                for state, child_cost in tables[child].items():
                    total, open_count = cost + child_cost, min(before + state, minimum)
                    if open_count not in combined or total < combined[open_count]:
                        combined[open_count], back[open_count] = total, (before, state)
            below = combined
            steps.append(back)
        merges[unit_id] = steps
        whole = counts[(unit_id, "subtree")]
        if whole < minimum:  # empty or below the minimum: hidden whatever we choose, at no cost
            tables[unit_id], choices[unit_id] = below, {state: state for state in below}
            continue
        hiding = whole * (scale if unit_id == tree.root else 1)  # the root's group is the tenant's own index
        table = {state: cost + hiding for state, cost in below.items() if state}
        choice = {state: state for state in table}
        safe = [state for state in (0, minimum) if state in below]
        if safe:  # its remainder is 0 or at least the minimum: it may be shown, which closes it
            shown_from = min(safe, key=lambda state: below[state])
            table[0], choice[0] = below[shown_from], shown_from
        tables[unit_id], choices[unit_id] = table, choice

    root_table = tables[tree.root]
    stack = [(tree.root, min(root_table, key=lambda state: (root_table[state], state)))]
    while stack:
        unit_id, state = stack.pop()
        if state and (unit_id, "subtree") not in hidden:
            hidden[(unit_id, "subtree")] = "differencing"
        part_state = choices[unit_id][state]
        for child, back in zip(reversed(tree.children[unit_id]), reversed(merges[unit_id]), strict=True):
            part_state, child_state = back[part_state]
            stack.append((child, child_state))
        if part_state and (unit_id, "unit") not in hidden:
            hidden[(unit_id, "unit")] = "differencing"


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
