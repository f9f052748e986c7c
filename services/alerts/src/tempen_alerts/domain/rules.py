"""The alert policy as pure functions: when a unit's score on a dimension is challenged, when that is
sustained, and when an alert opens, escalates or resolves. docs/alerts.md explains every rule."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Literal, TypeAlias

from tempen_shared.events.alerts import AlertState
from tempen_shared.tenancy.models import AlertPolicy

ACTIVE_STATES: frozenset[AlertState] = frozenset({"open", "acknowledged", "escalated"})

# "not_alerted": closed because the policy's alert_on no longer covers the series (`not_alerted`).
Rule = Literal["sustained_challenge", "no_improvement", "unacknowledged", "recovered", "not_alerted"]


@dataclass(frozen=True, slots=True)
class PeriodScore:
    """One closed period of one unit, model and dimension, as the alert rules see it."""

    period: str  # "2026-11", "2026-Q4", ...: sorts in time order
    period_end: datetime
    index: float | None  # None: suppressed by the anonymity rule, so nothing about it may be shown
    respondents: int
    standard_error: float | None
    tenant_index: float | None  # the whole tenant's index on the same dimension and period

    def __post_init__(self) -> None:
        if self.period_end.utcoffset() is None:
            raise ValueError(f"period_end of {self.period} must be timezone-aware")
        if self.standard_error is not None and self.standard_error < 0:
            raise ValueError(f"standard_error of {self.period} must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertSnapshot:
    """The one alert of a unit and dimension, as stored between decisions.

    `level` 1 is the next management level above the unit's own manager, 2 the one above that.
    `baseline_period`/`baseline_index` are the scored period when the alert opened or last
    escalated: improvement and the periods that count towards escalation are measured from there.
    The number of scored periods since then is derived from the history rather than stored, so
    judging the same history twice (a redelivered score) can never count a period twice.
    """

    state: AlertState
    level: int
    opened_period: str
    opened_at: datetime
    baseline_period: str
    baseline_index: float
    acknowledged_at: datetime | None = None
    last_escalated_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.level < 1:
            raise ValueError(f"an alert's level starts at 1, got {self.level}")
        if self.state == "acknowledged" and self.acknowledged_at is None:
            raise ValueError("an acknowledged alert needs acknowledged_at")
        if self.state == "escalated" and self.last_escalated_at is None:
            raise ValueError("an escalated alert needs last_escalated_at")

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def level_started_at(self) -> datetime:
        return self.last_escalated_at or self.opened_at

    @property
    def acknowledged_at_this_level(self) -> bool:
        # An acknowledgement from a lower level does not count: the new level must answer for itself.
        return self.acknowledged_at is not None and self.acknowledged_at >= self.level_started_at


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenAlert:
    reason: str
    evidence: tuple[PeriodScore, ...]  # the challenged scored periods that made it sustained, oldest first
    rule: Rule = "sustained_challenge"
    level: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalate:
    """One level up. From the highest management level (`levels_available`) the next level is HR
    (`to_hr`): routing sends a level beyond the chain to HR, and an alert there escalates no further."""

    to_level: int
    reason: str
    evidence: tuple[PeriodScore, ...]  # scored periods since the level started; the last is the new baseline
    rule: Rule
    to_hr: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolve:
    reason: str
    evidence: tuple[PeriodScore, ...]  # the recovered scored periods
    rule: Rule = "recovered"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoChange:
    reason: str


StateChange: TypeAlias = OpenAlert | Escalate | Resolve
Decision: TypeAlias = OpenAlert | Escalate | Resolve | NoChange


@dataclass(frozen=True, slots=True)
class Transition:
    """A state change found by `evaluate_history`: in which period, judged when, and why."""

    period: str
    judged_at: datetime
    decision: StateChange


def shortfalls(score: PeriodScore, policy: AlertPolicy, *, guarded: bool = True) -> tuple[str, ...]:
    """The lines a scored period falls short of, in words; empty when it is not challenged or was suppressed.

    A period falls short of the absolute line when index < threshold, and of the tenant-relative line
    when index <= tenant_index - below_tenant_by (never when below_tenant_by is None). When the standard
    error is known (and `guarded`), the shortfall must also exceed noise_z standard errors, so one noisy
    period in a small group does not count.
    """
    if score.index is None:
        return ()
    guarded = guarded and score.standard_error is not None
    guard = policy.noise_z * score.standard_error if guarded and score.standard_error is not None else 0.0
    found: list[str] = []
    if _falls_short(score.index, policy.threshold, guard, inclusive=False):
        found.append(f"below the threshold {_num(policy.threshold)}")
    if score.tenant_index is not None and policy.below_tenant_by is not None:
        line = score.tenant_index - policy.below_tenant_by
        if _falls_short(score.index, line, guard, inclusive=True):
            found.append(
                f"at or below the tenant line {_num(line)} "
                f"(tenant {_num(score.tenant_index)} - {_num(policy.below_tenant_by)})"
            )
    return tuple(found)


def is_challenged(score: PeriodScore, policy: AlertPolicy) -> bool:
    """Whether one period counts towards a sustained run: below the line by its own noise guard
    ("each_period"), or just below the line ("pooled", where the guard is applied to the run's mean)."""
    return bool(shortfalls(score, policy, guarded=policy.detection == "each_period"))


def pooled(window: Sequence[PeriodScore]) -> PeriodScore:
    """The scored periods of `window` taken together: the respondent-weighted mean of their indices, and
    its standard error from theirs (sqrt(sum of (n_i * SE_i)^2) / sum of n_i, the periods' sampling errors
    being independent). Two periods of 6 respondents with SE 9 each give a mean with SE 6.4.

    Raises:
        ValueError: the window is empty or holds a suppressed period.
    """
    if not window or any(score.index is None for score in window):
        raise ValueError("pooling needs one or more scored periods")
    total = sum(score.respondents for score in window)
    index = sum(score.respondents * _index_of(score) for score in window) / total
    errors = [score.standard_error for score in window]
    error = (
        math.sqrt(sum((score.respondents * e) ** 2 for score, e in zip(window, errors, strict=True) if e is not None))
        / total
        if all(e is not None for e in errors)
        else None
    )
    tenants = [score.tenant_index for score in window]
    tenant_index = (
        sum(score.respondents * t for score, t in zip(window, tenants, strict=True) if t is not None) / total
        if all(t is not None for t in tenants)
        else None
    )
    label = window[0].period if len(window) == 1 else f"{window[0].period}..{window[-1].period}"
    return PeriodScore(label, window[-1].period_end, index, total, error, tenant_index)


def run_is_sustained(run: Sequence[PeriodScore], policy: AlertPolicy) -> bool:
    """Whether a run of challenged periods, as long as `sustained_periods`, is a sustained challenge. With
    "pooled" detection the run's mean must also fall short by noise_z of its own, smaller, standard error."""
    if policy.detection == "each_period":
        return True
    return bool(shortfalls(pooled(run), policy))


def is_recovered(score: PeriodScore, policy: AlertPolicy) -> bool:
    """At or above threshold + resolve_margin, and above the tenant-relative line where there is one."""
    if score.index is None:
        return False
    if score.index < policy.threshold + policy.resolve_margin:
        return False
    if score.tenant_index is None or policy.below_tenant_by is None:
        return True
    return score.index > score.tenant_index - policy.below_tenant_by


def decide(
    history: Sequence[PeriodScore],
    alert: AlertSnapshot | None,
    policy: AlertPolicy,
    *,
    now: datetime,
    levels_available: int,
) -> Decision:
    """Judge one unit and dimension: open, escalate or resolve its alert, or leave it as it is.

    Args:
        history: the closed periods only, oldest first, reaching back at least to the alert's
            baseline period. Suppressed periods (index None) neither count nor break a run.
        alert: the current alert; None or a resolved one means there is no active alert.
        policy: the tenant's alert policy.
        now: when the judgement is made; only the unacknowledged-for-D-days rule reads it.
        levels_available: how many management levels exist above the unit's own manager
            (`routing.levels_available`). From the highest the alert escalates once more, to HR
            (level levels_available + 1), and stays there.

    Returns:
        Exactly one decision, each with a reason naming the rule and its numbers. An active alert
        is never opened a second time.

    Raises:
        ValueError: the history is not in time order, or has a period twice.
    """
    _check_time_order(history)
    if levels_available < 0:
        raise ValueError(f"levels_available must not be negative, got {levels_available}")
    scored = [score for score in history if score.index is not None]
    if alert is None or not alert.is_active:
        return _consider_opening(scored, policy)
    return _consider_active(scored, alert, policy, now=now, levels_available=levels_available)


def apply_decision(alert: AlertSnapshot | None, decision: Decision, *, now: datetime) -> AlertSnapshot | None:
    """The alert as it stands after `decision` was carried out at `now`.

    Raises:
        ValueError: escalating or resolving when there is no alert.
    """
    if isinstance(decision, NoChange):
        return alert
    if isinstance(decision, OpenAlert):
        latest = decision.evidence[-1]
        return AlertSnapshot(
            state="open",
            level=decision.level,
            opened_period=latest.period,
            opened_at=now,
            baseline_period=latest.period,
            baseline_index=_index_of(latest),
        )
    if alert is None:
        raise ValueError(f"cannot apply {type(decision).__name__} without an alert")
    if isinstance(decision, Resolve):
        return replace(alert, state="resolved")
    if not decision.evidence:
        return replace(alert, state="escalated", level=decision.to_level, last_escalated_at=now)
    latest = decision.evidence[-1]
    return replace(
        alert,
        state="escalated",
        level=decision.to_level,
        last_escalated_at=now,
        baseline_period=latest.period,
        baseline_index=_index_of(latest),
    )


def not_alerted(policy: AlertPolicy) -> Resolve:
    """The end of an active alert on a series that `policy.alert_on` leaves out (the tenant changed it since the
    alert opened): closed, not judged further, since nobody is to be asked about that dimension any more."""
    chosen = (
        policy.alert_on
        if isinstance(policy.alert_on, str)
        else "; ".join(f"{model}: {', '.join(ids)}" for model, ids in policy.alert_on.items())
    )
    return Resolve(
        reason=(
            f"not alerted: alert_policy.alert_on ({chosen}) leaves this dimension out, so its alert is closed "
            "without judging its scores further"
        ),
        evidence=(),
        rule="not_alerted",
    )


def acknowledge(alert: AlertSnapshot, *, now: datetime) -> AlertSnapshot:
    """The alert once the person it sits with has acknowledged it (the action plan is the caller's)."""
    if not alert.is_active:
        raise ValueError(f"a {alert.state} alert cannot be acknowledged")
    return replace(alert, state="acknowledged", acknowledged_at=now)


def closed_by(policy: AlertPolicy, now: datetime) -> datetime:
    """Periods that ended at or before this instant have closed for judging: a period is judged only once
    its grace hours have passed, so that late answers still count. Only closed periods are judged, so a
    change to a period still open decides nothing until it closes."""
    return now - timedelta(hours=policy.period_grace_hours)


def closes_at(policy: AlertPolicy, period_end: datetime) -> datetime:
    """When a period that ends at `period_end` closes for judging: its end plus the grace hours."""
    return period_end + timedelta(hours=policy.period_grace_hours)


def evaluate_history(
    history: Sequence[PeriodScore],
    policy: AlertPolicy,
    *,
    levels_available: int,
    assume_acknowledged: bool = True,
) -> list[Transition]:
    """Replay `history` period by period from no alert and return every state change, for a backtest.

    Each period is judged when it closes plus the policy's grace hours. With `assume_acknowledged`
    every alert is acknowledged the moment it reaches someone, so only the score rules fire; without
    it, the unacknowledged-for-D-days rule fires too, judged only at period ends.
    """
    transitions: list[Transition] = []
    alert: AlertSnapshot | None = None
    for end in range(1, len(history) + 1):
        closed = history[:end]
        now = closes_at(policy, closed[-1].period_end)  # when closed_by passes it
        decision = decide(closed, alert, policy, now=now, levels_available=levels_available)
        if isinstance(decision, NoChange):
            continue
        transitions.append(Transition(period=closed[-1].period, judged_at=now, decision=decision))
        alert = apply_decision(alert, decision, now=now)
        if assume_acknowledged and alert is not None and alert.is_active:
            alert = acknowledge(alert, now=now)
    return transitions


def _consider_opening(scored: Sequence[PeriodScore], policy: AlertPolicy) -> Decision:
    needed = policy.sustained_periods
    run = _trailing(scored, lambda score: is_challenged(score, policy))
    # "pooled" weighs the whole run: the longer a unit stays below the line, the surer its mean.
    window = run[-needed:] if policy.detection == "each_period" else run
    if len(run) >= needed and run_is_sustained(window, policy):
        evidence = tuple(window)
        return OpenAlert(reason=_sustained_reason(evidence, policy), evidence=evidence)
    if len(run) >= needed:
        return NoChange(
            reason=(
                f"no alert yet: {len(run)} consecutive scored period(s) below the line, but together "
                f"{_describe(pooled(run))} not short by more than {_num(policy.noise_z)} standard error(s)"
            )
        )
    if not scored:
        return NoChange(reason="no alert: no scored period yet")
    if not run:
        return NoChange(reason=f"no alert: the latest scored period is not challenged ({_describe(scored[-1])})")
    return NoChange(
        reason=(
            f"no alert yet: {len(run)} of {needed} consecutive scored period(s) challenged "
            f"(latest {_explain(scored[-1], policy)})"
        )
    )


def _consider_active(
    scored: Sequence[PeriodScore],
    alert: AlertSnapshot,
    policy: AlertPolicy,
    *,
    now: datetime,
    levels_available: int,
) -> Decision:
    recovered = _trailing(scored, lambda score: is_recovered(score, policy))
    if len(recovered) >= policy.resolve_periods:
        evidence = tuple(recovered[-policy.resolve_periods :])
        return Resolve(
            reason=(
                f"recovered: {policy.resolve_periods} consecutive scored period(s) at or above "
                f"{_num(policy.threshold + policy.resolve_margin)} (threshold {_num(policy.threshold)} + margin "
                f"{_num(policy.resolve_margin)})"
                + (" and above the tenant line: " if policy.below_tenant_by is not None else ": ")
                + "; ".join(_describe(score) for score in evidence)
            ),
            evidence=evidence,
        )

    since = [score for score in scored if score.period > alert.baseline_period]
    due = policy.escalate_after_periods
    if len(since) >= due:
        latest = since[-1]
        improvement = _index_of(latest) - alert.baseline_index
        if is_challenged(latest, policy) and improvement < policy.escalate_min_improvement:
            return _escalate_or_stop(
                alert,
                levels_available=levels_available,
                rule="no_improvement",
                reason=(
                    f"no improvement: after {len(since)} scored period(s) at level {alert.level} the latest is "
                    f"{_explain(latest, policy)}, {_signed(improvement)} points against "
                    f"{_num(alert.baseline_index)} in {alert.baseline_period}; stopping escalation needs an "
                    f"improvement of at least {_num(policy.escalate_min_improvement)}"
                ),
                evidence=tuple(since),
            )

    waited = now - alert.level_started_at
    if not alert.acknowledged_at_this_level and waited >= timedelta(days=policy.escalate_unacknowledged_days):
        return _escalate_or_stop(
            alert,
            levels_available=levels_available,
            rule="unacknowledged",
            reason=(
                f"unacknowledged: nobody acknowledged the alert within {policy.escalate_unacknowledged_days} "
                f"day(s) of level {alert.level} starting on {alert.level_started_at.date().isoformat()} "
                f"({waited.days} day(s) ago)"
            ),
            evidence=(scored[-1],) if scored else (),
        )
    return NoChange(reason=_why_active_alert_stays(scored, since, alert, policy))


def _sustained_reason(evidence: Sequence[PeriodScore], policy: AlertPolicy) -> str:
    if policy.detection == "each_period":
        return (
            f"sustained challenge: {len(evidence)} consecutive scored period(s) challenged, "
            f"each short by more than {_num(policy.noise_z)} standard error(s) where known: "
            + "; ".join(_explain(score, policy) for score in evidence)
        )
    together = pooled(evidence)
    return (
        f"sustained challenge: {len(evidence)} consecutive scored period(s) below the line, and together "
        f"{_explain(together, policy)} by more than {_num(policy.noise_z)} standard error(s) of their mean: "
        + "; ".join(_explain(score, policy, guarded=False) for score in evidence)
    )


def _escalate_or_stop(
    alert: AlertSnapshot, *, levels_available: int, rule: Rule, reason: str, evidence: tuple[PeriodScore, ...]
) -> Decision:
    if alert.level > levels_available:
        return NoChange(
            reason=(
                f"with HR: level {alert.level} is beyond the {levels_available} management level(s) above the "
                f"unit's manager, so the alert stays with HR; would have escalated on {reason}"
            )
        )
    if alert.level == levels_available:
        return Escalate(
            to_level=levels_available + 1,
            reason=(
                f"{reason}; level {alert.level} is the highest management level for this unit, so the alert goes to HR"
            ),
            evidence=evidence,
            rule=rule,
            to_hr=True,
        )
    return Escalate(to_level=alert.level + 1, reason=reason, evidence=evidence, rule=rule)


def _why_active_alert_stays(
    scored: Sequence[PeriodScore], since: Sequence[PeriodScore], alert: AlertSnapshot, policy: AlertPolicy
) -> str:
    at_level = f"alert {alert.state} at level {alert.level}"
    if not since:
        return f"{at_level}: no scored period since {alert.baseline_period}"
    latest = scored[-1]
    if is_recovered(latest, policy):
        recovered = len(_trailing(scored, lambda score: is_recovered(score, policy)))
        return f"{at_level}: {recovered} of {policy.resolve_periods} recovered scored period(s) ({_describe(latest)})"
    if not is_challenged(latest, policy):
        return (
            f"{at_level}: {_describe(latest)} is no longer challenged but resolving needs "
            f"{_num(policy.threshold + policy.resolve_margin)}"
        )
    improvement = _index_of(latest) - alert.baseline_index
    if len(since) >= policy.escalate_after_periods:
        return (
            f"{at_level}: improved {_signed(improvement)} points since {alert.baseline_period} "
            f"(at least {_num(policy.escalate_min_improvement)}), so it does not escalate"
        )
    return (
        f"{at_level}: {len(since)} of {policy.escalate_after_periods} scored period(s) since "
        f"{alert.baseline_period} before escalation is considered"
    )


def _falls_short(index: float, line: float, guard: float, *, inclusive: bool) -> bool:
    shortfall = line - index
    if guard > 0:
        return shortfall > guard
    return shortfall >= 0 if inclusive else shortfall > 0


def _trailing(scored: Sequence[PeriodScore], holds: Callable[[PeriodScore], bool]) -> list[PeriodScore]:
    run: list[PeriodScore] = []
    for score in reversed(scored):
        if not holds(score):
            break
        run.append(score)
    run.reverse()
    return run


def _check_time_order(history: Sequence[PeriodScore]) -> None:
    for earlier, later in pairwise(history):
        if earlier.period >= later.period:
            raise ValueError(
                f"history must be oldest first with each period once: {earlier.period} came before {later.period}"
            )


def _index_of(score: PeriodScore) -> float:
    if score.index is None:
        raise ValueError(f"period {score.period} was suppressed and has no index")
    return score.index


def _describe(score: PeriodScore) -> str:
    if score.index is None:
        return f"{score.period}: too few responses"
    error = f", SE {_num(score.standard_error)}" if score.standard_error is not None else ""
    return f"{score.period}: {_num(score.index)} (n={score.respondents}{error})"


def _explain(score: PeriodScore, policy: AlertPolicy, *, guarded: bool = True) -> str:
    found = shortfalls(score, policy, guarded=guarded)
    return f"{_describe(score)} {' and '.join(found)}" if found else f"{_describe(score)} not challenged"


def _num(value: float) -> str:
    return f"{value:.1f}"


def _signed(value: float) -> str:
    return f"{value:+.1f}"
