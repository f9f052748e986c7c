"""Units that cannot be shown, why, and whether they can raise an alert: what HR reads to merge teams,
encourage answers or change an instrument's cadence.

Everything here is computed from the verdicts scoring has stored and published (a group published, or
hidden with its reason), never from the respondent counts behind them. The scores API already serves
each group's verdict per period, so nothing here says more than it does:

- `no_responses` says 0 answered and `below_minimum` says 1..min-1; the scores API shows the second
  as a suppressed point and the first as no point. No count is ever given, only "fewer than min".
- The group a `differencing` verdict protects (`protected_by`) is a function of the published
  verdicts of that period and the org tree alone, which anyone reading the scores API has too.

Alerts judge published unit-scope scores only: a hidden period neither counts nor breaks a run
(docs/alerts.md, "A challenged period"), so a sustained challenge needs `sustained_periods` published
periods. `alert_reach` says whether a unit had that many in the span, and how long a run takes at the
share of periods it is published in.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tempen_scoring.domain.periods import Period, period_of, previous_period
from tempen_shared.tenancy.models import Cadence
from tempen_shared.tenancy.org import OrgTree

PUBLISHED = "published"
NO_RESPONSES = "no_responses"
BELOW_MINIMUM = "below_minimum"
DIFFERENCING = "differencing"
NOT_IN_ORG = "not_in_org"  # the unit was not in that period's org tree: neither shown nor hidden
UNMEASURED = "unmeasured"  # nobody answered the instrument at all in that period: nothing to hide
# Statuses that say nothing about the unit: left out of every count.
NOT_COUNTED = frozenset({NOT_IN_ORG, UNMEASURED})

Group = tuple[str, str]  # (unit id, scope)


@dataclass(frozen=True, slots=True)
class AlertReach:
    """Whether a unit's published periods are enough for an alert. `needed` is `sustained_periods`."""

    needed: int
    measured: int  # periods of the span in which the unit was measured
    published: int

    @property
    def can_alert(self) -> bool | None:
        """False: fewer published periods than a run needs. None: too few measured periods to tell."""
        if self.published >= self.needed:
            return True
        if self.measured < self.needed:
            return None
        return False

    @property
    def periods_to_alert(self) -> int | None:
        """About how many periods a sustained challenge takes to alert at this unit's share of published
        periods (`needed` when every period is published), to the nearest; None when none was published."""
        if self.published == 0:
            return None
        return math.floor(self.needed * self.measured / self.published + 0.5)


def alert_reach(statuses: Sequence[str], sustained_periods: int) -> AlertReach:
    """The unit-scope statuses of a span of periods, judged against the alert policy's `sustained_periods`."""
    counted = [s for s in statuses if s not in NOT_COUNTED]
    return AlertReach(sustained_periods, len(counted), sum(s == PUBLISHED for s in counted))


def latest_closed(cadence: Cadence, zone: ZoneInfo, now: datetime, grace: timedelta) -> Period:
    """The newest period that has ended, its grace for late answers included (alerts judge it then)."""
    period = previous_period(period_of(now, cadence, zone), cadence, zone)
    while period.end + grace > now:
        period = previous_period(period, cadence, zone)
    return period


def span(last: Period, count: int, cadence: Cadence, zone: ZoneInfo) -> list[Period]:
    """`count` periods ending with `last`, oldest first."""
    periods = [last]
    while len(periods) < count:
        periods.append(previous_period(periods[-1], cadence, zone))
    return periods[::-1]


def protected_by(tree: OrgTree, group: Group, published: Collection[Group]) -> str | None:
    """The unit whose published subtree result hiding `group` protects: the nearest published group that
    contains it. Subtracting the published groups inside that one would otherwise isolate a group below
    the minimum (domain/anonymity.py). None when no published group contains it."""
    unit, scope = group
    current: str | None = unit if scope == "unit" else tree.units[unit].parent
    while current is not None:
        if (current, "subtree") in published:
            return current
        current = tree.units[current].parent
    return None


@dataclass(frozen=True, slots=True)
class HiddenGroup:
    """A group (unit, scope) hidden in at least one period of the span."""

    unit: str
    scope: str
    periods: tuple[tuple[str, str], ...]  # (period key, status), oldest first
    protects: tuple[str, ...]  # units a differencing verdict protected, newest first
    reach: AlertReach | None  # the unit scope only: alerts judge unit scores

    @property
    def latest(self) -> str:
        return self.periods[-1][1]

    @property
    def counted(self) -> int:
        return sum(status not in NOT_COUNTED for _, status in self.periods)

    @property
    def reasons(self) -> dict[str, int]:
        """How many periods of the span each reason hid the group in."""
        return dict(Counter(s for _, s in self.periods if s != PUBLISHED and s not in NOT_COUNTED))

    @property
    def hidden(self) -> int:
        return sum(self.reasons.values())


def hidden_groups(
    periods: Sequence[str],
    trees: Sequence[OrgTree | None],
    measured: Sequence[bool],
    statuses: Mapping[tuple[str, str, str], str],
    current: OrgTree,
    sustained_periods: int,
) -> list[HiddenGroup]:
    """Every group of `current`'s units hidden in a measured period of the span, those that cannot alert first.

    `periods` oldest first, with the org tree in force in each (None: none known then) and whether
    anything was measured in it; `statuses` maps (period, unit, scope) to PUBLISHED or the stored
    suppression reason; a group with no stored row had no respondents. A leaf's subtree is its own
    group, so only units with children are listed in the subtree scope; and the own group of a unit
    with children, no headcount and never an answer of its own is empty by design, not listed.
    """
    published: dict[str, set[Group]] = {}
    for (period, unit, scope), status in statuses.items():
        if status == PUBLISHED:
            published.setdefault(period, set()).add((unit, scope))
    found: list[HiddenGroup] = []
    for unit in current.units:
        for scope in ("unit", "subtree") if current.children[unit] else ("unit",):
            seen: list[tuple[str, str]] = []
            protects: list[str] = []
            for period, tree, was_measured in zip(periods, trees, measured, strict=True):
                if not was_measured:
                    status = UNMEASURED
                elif tree is None or unit not in tree:
                    status = NOT_IN_ORG
                else:
                    status = statuses.get((period, unit, scope), NO_RESPONSES)
                    if status == "outside_org":  # a withdrawn row of a unit that left the org
                        status = NOT_IN_ORG
                if status == DIFFERENCING and tree is not None:
                    protector = protected_by(tree, (unit, scope), published.get(period, set()))
                    if protector is not None and protector not in protects:
                        protects.insert(0, protector)
                seen.append((period, status))
            statuses_only = [status for _, status in seen]
            if all(status == PUBLISHED or status in NOT_COUNTED for status in statuses_only):
                continue
            if scope == "unit" and _container(current, unit, statuses_only):
                continue
            reach = alert_reach(statuses_only, sustained_periods) if scope == "unit" else None
            found.append(HiddenGroup(unit, scope, tuple(seen), tuple(protects), reach))
    found.sort(key=lambda g: (g.reach is None or g.reach.can_alert is not False, -g.hidden, g.unit, g.scope))
    return found


def _container(tree: OrgTree, unit: str, statuses: Sequence[str]) -> bool:
    """A unit with units below it, nobody placed directly in it (no headcount) and no answers of its own:
    its own group is empty by design, not a team that goes unheard."""
    return (
        bool(tree.children[unit])
        and not tree.units[unit].headcount
        and all(status == NO_RESPONSES or status in NOT_COUNTED for status in statuses)
    )


@dataclass(frozen=True, slots=True)
class Action:
    code: str  # stable, for a portal to word in its own language
    text: str


def explain(group: HiddenGroup, tree: OrgTree, min_group_size: int) -> str:
    """Why the group is hidden, in words and in numbers safe to show: periods, never respondents."""
    name = _name(tree, group.unit, group.scope)
    period, latest = group.periods[-1]
    if latest == PUBLISHED:
        now = f"{name} is shown in {period}"
    elif latest in NOT_COUNTED:
        now = f"{name} was not measured in {period}"
    else:
        now = f"{name} is hidden in {period}: {_reason(latest, group, tree, min_group_size)}"
    reasons = ", ".join(f"{_REASON_NAMES.get(r, r)} in {n}" for r, n in sorted(group.reasons.items()))
    text = f"{now}. Hidden in {group.hidden} of {group.counted} measured periods: {reasons}."
    if group.reach is not None:
        text += " " + _reach_text(group.reach)
    return text


def actions(group: HiddenGroup, tree: OrgTree, min_group_size: int) -> list[Action]:
    """What HR can do about it, the likeliest help first. A group hidden now and then for want of answers
    needs answers; one hidden in most periods needs a larger group or a longer period."""
    name = tree.units[group.unit].name
    reasons = group.reasons
    below, silent = reasons.get(BELOW_MINIMUM, 0), reasons.get(NO_RESPONSES, 0)
    mostly_small = (below + silent) * 2 > group.counted
    out: list[Action] = []
    if reasons.get(DIFFERENCING):
        around = ", ".join(tree.units[u].name for u in group.protects if u in tree) or "the group above it"
        out.append(
            Action(
                "merge_small_group",
                f"{name} is large enough itself: the small group is another part of {around} (a small team, or"
                f" members placed directly in {around}). Merge that group with a sibling in the org file"
                " (tempen org import) and this one can be shown again.",
            )
        )
    if silent:
        out.append(
            Action(
                "check_survey_reaches",
                f"Check that the survey reaches {name} (its unit id in the survey platform): nobody answered"
                f" in {silent} of {group.counted} periods.",
            )
        )
    if below and mostly_small:
        out.append(
            Action(
                "merge_team",
                f"Merge {name} with a sibling in the org file (tempen org import), so that together they reach"
                f" {min_group_size} answers.",
            )
        )
    if below or silent:
        out.append(
            Action(
                "encourage_answers",
                f"Encourage answers: a group is shown only in periods when at least {min_group_size} of it answer.",
            )
        )
    if below and mostly_small:
        out.append(
            Action(
                "change_cadence",
                "Measure less often (the instrument's cadence, say quarterly instead of monthly): a longer"
                " period gathers more people's answers.",
            )
        )
        if min_group_size > MIN_GROUP_SIZE_FLOOR:
            out.append(
                Action(
                    "lower_minimum",
                    f"The tenant's min_group_size is {min_group_size}; it can be lowered to {MIN_GROUP_SIZE_FLOOR}"
                    " at the least. That weakens anonymity: a decision for the data protection officer.",
                )
            )
    return out


MIN_GROUP_SIZE_FLOOR = 3  # TenantConfig refuses a min_group_size below it

_REASON_NAMES = {
    BELOW_MINIMUM: "too few answers",
    NO_RESPONSES: "no answers",
    DIFFERENCING: "protecting a smaller group",
}


def _name(tree: OrgTree, unit: str, scope: str) -> str:
    name = tree.units[unit].name
    return f"{name} with the units below it" if scope == "subtree" else name


def _reason(status: str, group: HiddenGroup, tree: OrgTree, min_group_size: int) -> str:
    if status == BELOW_MINIMUM:
        return f"fewer than {min_group_size} answered"
    if status == NO_RESPONSES:
        return "nobody answered"
    if status == DIFFERENCING:
        around = next((u for u in group.protects if u in tree), None)
        if around is None:
            return (
                "enough answered, but subtracting published results would reveal a group of fewer than"
                f" {min_group_size}"
            )
        return (
            f"enough answered, but {tree.units[around].name}'s result minus the published groups inside it"
            f" would reveal a group of fewer than {min_group_size}"
        )
    return f"hidden ({status})"


def _reach_text(reach: AlertReach) -> str:
    can = reach.can_alert
    if can is None:
        return (
            f"Too few measured periods to tell whether it can alert: {reach.measured}, and an alert needs"
            f" {reach.needed} published."
        )
    if can is False:
        return (
            f"Cannot alert: {reach.needed} published periods are needed, it had {reach.published} of the last"
            f" {reach.measured}."
        )
    late = reach.periods_to_alert
    if late is not None and late > reach.needed:
        return (
            f"Alerts late: published in {reach.published} of {reach.measured} periods, so a sustained challenge"
            f" takes about {late} periods to alert instead of {reach.needed}."
        )
    return f"Can alert: published in {reach.published} of {reach.measured} periods."
