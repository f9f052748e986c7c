"""A calibration study of the alert rules on simulated small units: how often they alert on noise, and how
soon they catch a real, sustained drop. Pure and seeded: the same arguments give the same figures.

The simulated unit (docs/alerts.md, "Small units: the calibration study", argues each number):
- `size` members, each with a lasting personal tendency (normal, `person_sd` on the 1-5 scale) that is
  part of the unit's true level: the level is the mean of its members' latent answers. The first
  members' tendencies are centred, so the unit starts exactly at its baseline level.
- Each period every member leaves with probability `turnover` and is replaced by a newcomer with a
  fresh tendency; each member answers with the unit's response rate (drawn once per unit from
  `response_rates`), and answers `items` items of a 1-5 scale: the latent answer plus answer noise
  (`answer_sd`), rounded and clamped to the scale.
- Each period's index and standard error are computed as scoring computes them (the mean of the
  respondents' 0-100 scores; their sample standard deviation over sqrt(n)), and a period with fewer
  respondents than the tenant's minimum group size is suppressed, as it is in production.
- "No change": the level stays at the baseline for the whole simulated span. "A drop of D points":
  the level falls by D after `drop_after` periods and stays there.

The rules judged are the production ones (`rules.evaluate_history`), period by period.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from tempen_alerts.domain.rules import OpenAlert, PeriodScore, evaluate_history
from tempen_shared.tenancy.models import AlertPolicy

SIZES: tuple[int, ...] = (5, 6, 8, 10, 15, 25, 50)
DROPS: tuple[int, ...] = (10, 15, 20, 30)
_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class UnitModel:
    """How simulated people answer. Defaults: see the module docstring and docs/alerts.md."""

    baseline: float = 75.0  # the unit's true index before any drop (municipal HME indices lie around 70-80)
    person_sd: float = 0.8  # lasting differences between people, on the 1-5 scale
    answer_sd: float = 0.8  # one answer's noise around the person's own level, on the 1-5 scale
    items: int = 3  # items of the dimension (HME: 3 per dimension)
    response_rates: tuple[float, float] = (0.60, 0.95)
    turnover: float = 0.015  # per period: about 17 % of a team replaced in a year of monthly pulses
    min_group_size: int = 5


@dataclass(frozen=True, slots=True)
class Study:
    periods_per_year: int = 12
    baseline_years: int = 4  # no-change units are watched this long
    drop_after: int = 12  # periods of baseline before a drop starts
    caught_within: int = 3  # a drop counts as caught when an alert opens within this many periods
    units: int = 400  # simulated units per size and scenario
    # True levels of the units that never change. 75 is a typical municipal unit; 70 is the hard case, a
    # healthy unit 5 points above the default line, where noise alone comes closest to the line.
    quiet_levels: tuple[float, ...] = (75.0, 70.0)
    seed: int = 20261207


@dataclass(frozen=True, slots=True)
class Outcome:
    """One policy at one unit size: false alerts on no change, and what it does with each drop."""

    size: int
    false_alerts_per_unit_year: dict[float, float]  # true level of the unchanged units -> alerts per unit-year
    unit_years: float  # simulated per level
    caught: dict[int, float] = field(default_factory=dict)  # drop -> share caught within `caught_within`
    periods_to_catch: dict[int, float | None] = field(default_factory=dict)  # drop -> mean periods, if caught
    suppressed_share: float = 0.0  # periods hidden by the minimum group size
    median_standard_error: float | None = None  # of one scored period, as scoring reports it
    # Units with at least 2 scored (published) periods among the first `caught_within` after a drop: the
    # most a rule of 2 sustained periods on published scores can catch in time.
    reachable: float = 1.0


def simulate_unit(
    rng: random.Random, size: int, model: UnitModel, *, periods: int, drop: float = 0.0, drop_after: int = 0
) -> list[PeriodScore]:
    """One simulated unit's closed periods, oldest first, as the alert rules see them.

    In every period the unit's true index (what its members would answer on average, were every answer
    noise-free in expectation) is exactly the scenario's level: `model.baseline`, less `drop` from
    period `drop_after` on. Turnover changes who is there, not the level."""
    rate = rng.uniform(*model.response_rates)
    people = [rng.gauss(0.0, model.person_sd) for _ in range(size)]
    history: list[PeriodScore] = []
    solved: tuple[float, tuple[float, ...]] | None = None
    shift = 0.0
    for period in range(periods):
        people = [rng.gauss(0.0, model.person_sd) if rng.random() < model.turnover else p for p in people]
        level = model.baseline - (drop if period >= drop_after else 0.0)
        if solved != (level, tuple(people)):
            solved, shift = (level, tuple(people)), _shift_for(level, people, model)
        scores = []
        for person in people:
            if rng.random() >= rate:
                continue
            answers = [_answer(shift + person + rng.gauss(0.0, model.answer_sd)) for _ in range(model.items)]
            scores.append(100.0 * (sum(answers) / model.items - 1.0) / 4.0)
        history.append(_period_score(period, scores, model.min_group_size))
    return history


def true_index(latents: Sequence[float], answer_sd: float) -> float:
    """The expected 0-100 index of people whose latent answers are `latents`: each answer is the latent plus
    normal noise, rounded to the nearest value of the 1-5 scale and clamped to it."""
    expected = 0.0
    for latent in latents:
        below = 0.0
        for value in range(1, 5):  # P(answer <= value) at the boundary value + 0.5
            upper = _normal_cdf((value + 0.5 - latent) / answer_sd)
            expected += value * (upper - below)
            below = upper
        expected += 5 * (1.0 - below)
    return 25.0 * (expected / len(latents) - 1.0)


def _shift_for(level: float, people: Sequence[float], model: UnitModel) -> float:
    """The common latent level at which these people's true index is `level` (bisection; it is monotone)."""
    low, high = -3.0, 9.0
    for _ in range(40):
        middle = (low + high) / 2
        if true_index([middle + p for p in people], model.answer_sd) < level:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _answer(latent: float) -> int:
    return min(5, max(1, math.floor(latent + 0.5)))


def _normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def study(
    policies: dict[str, AlertPolicy],
    model: UnitModel,
    settings: Study,
    sizes: Sequence[int] = SIZES,
    drops: Sequence[int] = DROPS,
    *,
    progress: Callable[[int], None] | None = None,
) -> dict[str, list[Outcome]]:
    """Every policy at every size, judged on the same simulated units (common random numbers, so the
    policies' differences are theirs, not the dice's). `progress(size)` is called as each size is done."""
    results: dict[str, list[Outcome]] = {name: [] for name in policies}
    periods = settings.periods_per_year * settings.baseline_years
    unit_years = settings.units * settings.baseline_years
    for size in sizes:
        # Not for secrets: a seeded generator, so the study reruns to the same figures.
        rng = random.Random(f"{settings.seed}:{size}")  # noqa: S311
        quiet = {
            level: [
                simulate_unit(rng, size, replace(model, baseline=level), periods=periods) for _ in range(settings.units)
            ]
            for level in settings.quiet_levels
        }
        dropped = {
            drop: [
                simulate_unit(
                    rng, size, model, periods=settings.drop_after + 12, drop=drop, drop_after=settings.drop_after
                )
                for _ in range(settings.units)
            ]
            for drop in drops
        }
        every = [s for histories in quiet.values() for h in histories for s in h]
        scored = [s for s in every if s.standard_error is not None]
        suppressed = sum(1 for s in every if s.index is None) / len(every) if every else 0.0
        median_error = (
            statistics.median(s.standard_error for s in scored if s.standard_error is not None) if scored else None
        )
        after = [
            h[settings.drop_after : settings.drop_after + settings.caught_within] for hs in dropped.values() for h in hs
        ]
        reachable = sum(1 for window in after if sum(s.index is not None for s in window) >= 2) / max(1, len(after))
        for name, policy in policies.items():
            false_alerts = {
                level: sum(_openings(h, policy) for h in histories) / unit_years for level, histories in quiet.items()
            }
            caught: dict[int, float] = {}
            to_catch: dict[int, float | None] = {}
            for drop, histories in dropped.items():
                delays = [_periods_to_catch(h, policy, settings.drop_after) for h in histories]
                caught[drop] = sum(1 for d in delays if d is not None and d <= settings.caught_within) / len(histories)
                found = [d for d in delays if d is not None]
                to_catch[drop] = sum(found) / len(found) if found else None
            results[name].append(
                Outcome(
                    size=size,
                    false_alerts_per_unit_year=false_alerts,
                    unit_years=unit_years,
                    caught=caught,
                    periods_to_catch=to_catch,
                    suppressed_share=suppressed,
                    median_standard_error=median_error,
                    reachable=reachable,
                )
            )
        if progress is not None:
            progress(size)
    return results


def _openings(history: Sequence[PeriodScore], policy: AlertPolicy) -> int:
    transitions = evaluate_history(history, policy, levels_available=2)
    return sum(1 for t in transitions if isinstance(t.decision, OpenAlert))


def _periods_to_catch(history: Sequence[PeriodScore], policy: AlertPolicy, drop_after: int) -> int | None:
    """Periods from the drop until an alert opens (1: in the first dropped period), or None if none does.

    An alert already open when the drop starts is the baseline's noise, not a catch; such a unit counts
    as caught only if an alert opens again after it."""
    for transition in evaluate_history(history, policy, levels_available=2):
        if isinstance(transition.decision, OpenAlert):
            number = int(transition.period[1:])
            if number >= drop_after:
                return number - drop_after + 1
    return None


def _period_score(period: int, scores: Sequence[float], min_group_size: int) -> PeriodScore:
    end = _EPOCH + timedelta(days=31 * (period + 1))
    n = len(scores)
    if n < min_group_size:
        return PeriodScore(f"p{period:04d}", end, None, n, None, None)
    mean = sum(scores) / n
    variance = sum((s - mean) ** 2 for s in scores) / (n - 1)
    return PeriodScore(f"p{period:04d}", end, mean, n, math.sqrt(variance / n), None)
