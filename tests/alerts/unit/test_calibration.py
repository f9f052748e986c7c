"""The calibration study: seeded, faithful to its model of a unit, and able to tell policies apart."""

from __future__ import annotations

import random
import statistics

import pytest

from tempen.commands.calibrate import policies_to_compare, verdict
from tempen_alerts.domain.calibration import Outcome, Study, UnitModel, simulate_unit, study, true_index
from tempen_shared.tenancy.models import AlertPolicy


def test_the_true_index_of_noise_free_answers_is_the_scale_position() -> None:
    assert true_index([4.0, 4.0], answer_sd=1e-6) == pytest.approx(75.0)
    assert true_index([1.0], answer_sd=1e-6) == pytest.approx(0.0)
    # Clamping at the top: a latent 6 still answers 5.
    assert true_index([6.0], answer_sd=1e-6) == pytest.approx(100.0)


def test_a_unit_stays_at_its_true_level_through_turnover_and_drops_by_the_scenario() -> None:
    rng = random.Random(7)
    model = UnitModel(turnover=0.2, response_rates=(1.0, 1.0))
    histories = [simulate_unit(rng, 25, model, periods=12, drop=20, drop_after=6) for _ in range(60)]
    before = statistics.mean(s.index for h in histories for s in h[:6] if s.index is not None)
    after = statistics.mean(s.index for h in histories for s in h[6:] if s.index is not None)
    assert before == pytest.approx(75.0, abs=1.0)
    assert after == pytest.approx(55.0, abs=1.0)


def test_periods_below_the_minimum_group_size_are_suppressed_as_in_production() -> None:
    history = simulate_unit(random.Random(1), 4, UnitModel(), periods=24)
    assert all(score.index is None and score.standard_error is None for score in history)


def test_the_study_is_seeded_and_the_pooled_rule_catches_more_small_unit_drops_than_the_per_period_one() -> None:
    settings = Study(units=60, baseline_years=1, seed=11)
    policies = policies_to_compare()
    first = study(policies, UnitModel(), settings, sizes=(8,), drops=(20,))
    again = study(policies, UnitModel(), settings, sizes=(8,), drops=(20,))
    assert first == again
    pooled, each_period = first["pooled (default)"][0], first["each period (before)"][0]
    assert pooled.caught[20] > each_period.caught[20] + 0.15
    assert pooled.false_alerts_per_unit_year[75.0] <= 1 / 50


def test_a_tenants_policy_is_compared_under_its_own_name() -> None:
    strict = AlertPolicy(noise_z=3.0)
    assert policies_to_compare(("hjo", strict))["hjo's policy"] == strict


FALSE_ALERTS = "false alerts at most 1 per 50 unit-years at every size,"


def test_the_verdict_names_each_missed_target_with_its_figures() -> None:
    outcomes = [
        Outcome(size=6, false_alerts_per_unit_year={75.0: 0.0, 70.0: 0.01}, unit_years=100, caught={20: 0.5}),
        Outcome(size=8, false_alerts_per_unit_year={75.0: 0.0, 70.0: 0.03}, unit_years=100, caught={20: 0.95}),
    ]
    lines = verdict(outcomes, caught_within=3)
    assert lines == [
        f"{FALSE_ALERTS} units at 75: met (worst 0.000 per unit-year, 6 respondents)",
        f"{FALSE_ALERTS} units at 70: MISSED (worst 0.030 per unit-year, 8 respondents)",
        "a 20-point drop caught within 3 periods in 90% of units of 8 or more: met",
        "a 20-point drop caught within 3 periods in 70% of units of 5 to 7: MISSED at 6: 50%",
    ]
