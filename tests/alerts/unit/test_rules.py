import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tempen_alerts.domain.rules import (
    AlertSnapshot,
    Decision,
    Escalate,
    NoChange,
    OpenAlert,
    PeriodScore,
    Resolve,
    acknowledge,
    apply_decision,
    decide,
    evaluate_history,
    is_challenged,
    is_recovered,
    pooled,
)
from tempen_shared.tenancy.models import AlertPolicy
from tests.alerts.unit.factories import SUPPRESSED, months, open_alert, score

POLICY = AlertPolicy()  # threshold 65, tenant line -10, K=2, R=1, margin 5, E=2, delta 5, D=14, z=1, pooled
EACH_PERIOD = POLICY.model_copy(update={"detection": "each_period"})
MANY_LEVELS = 5
NO_TENANT_LINE = AlertPolicy(below_tenant_by=None)


def judge(
    history: list[PeriodScore],
    alert: AlertSnapshot | None = None,
    *,
    policy: AlertPolicy = POLICY,
    now: datetime | None = None,
    levels_available: int = MANY_LEVELS,
) -> Decision:
    judged_at = now if now is not None else history[-1].period_end
    return decide(history, alert, policy, now=judged_at, levels_available=levels_available)


# Opening


def test_one_bad_period_does_not_open_an_alert() -> None:
    decision = judge(months(72, 58))

    assert isinstance(decision, NoChange)
    assert "1 of 2" in decision.reason


def test_two_challenged_periods_in_a_row_open_an_alert_at_the_next_management_level() -> None:
    history = months(72, 58, 60)

    decision = judge(history)

    assert isinstance(decision, OpenAlert)
    assert decision.level == 1
    assert decision.evidence == tuple(history[1:])


def test_a_good_period_between_two_bad_ones_breaks_the_run() -> None:
    assert isinstance(judge(months(58, 72, 60)), NoChange)


def test_a_suppressed_period_between_two_challenged_ones_neither_counts_nor_breaks_the_run() -> None:
    history = months(58, SUPPRESSED, 60)

    decision = judge(history)

    assert isinstance(decision, OpenAlert)
    assert decision.evidence == (history[0], history[2])


def test_a_suppressed_period_does_not_count_as_a_challenged_one() -> None:
    assert isinstance(judge(months(72, 58, SUPPRESSED)), NoChange)


def test_history_of_only_suppressed_periods_opens_nothing() -> None:
    decision = judge(months(SUPPRESSED, SUPPRESSED))

    assert isinstance(decision, NoChange)
    assert "no scored period" in decision.reason


def test_an_active_alert_is_never_opened_a_second_time() -> None:
    history = months(58, 60, 57)
    alert = open_alert(history, opened_offset=1)

    assert not isinstance(judge(history, alert), OpenAlert)


def test_sustained_run_length_follows_the_policy() -> None:
    three_in_a_row = POLICY.model_copy(update={"sustained_periods": 3})

    assert isinstance(judge(months(58, 60), policy=three_in_a_row), NoChange)
    assert isinstance(judge(months(58, 60, 59), policy=three_in_a_row), OpenAlert)


# What counts as challenged


def test_index_exactly_at_the_threshold_is_not_challenged() -> None:
    assert not is_challenged(score(0, 65.0), POLICY)
    assert is_challenged(score(0, 64.9), POLICY)


def test_a_drop_far_below_the_tenant_opens_an_alert_even_above_the_threshold() -> None:
    history = months(70, 69, tenant_index=80)

    decision = judge(history)

    assert isinstance(decision, OpenAlert)
    assert "tenant line 70.0" in decision.reason


def test_tenant_relative_line_includes_its_boundary_when_no_standard_error_is_known() -> None:
    assert is_challenged(score(0, 70.0, tenant_index=80.0), POLICY)
    assert not is_challenged(score(0, 70.1, tenant_index=80.0), POLICY)


def test_unknown_tenant_index_leaves_only_the_absolute_threshold() -> None:
    assert not is_challenged(score(0, 70.0, tenant_index=None), POLICY)


def test_with_the_tenant_relative_line_off_a_unit_far_below_the_tenant_but_above_the_threshold_does_not_alert() -> None:
    history = months(70, 69, 66, tenant_index=90)

    decision = judge(history, policy=NO_TENANT_LINE)

    assert isinstance(decision, NoChange)
    assert "not challenged" in decision.reason
    assert "tenant line" not in decision.reason


def test_with_the_tenant_relative_line_off_the_absolute_threshold_still_opens_alerts() -> None:
    decision = judge(months(60, 59, tenant_index=90), policy=NO_TENANT_LINE)

    assert isinstance(decision, OpenAlert)
    assert "tenant line" not in decision.reason


def test_with_the_tenant_relative_line_off_recovery_ignores_the_tenant() -> None:
    history = months(58, 60, 72, tenant_index=95)
    alert = open_alert(history, opened_offset=1)

    decision = judge(history, alert, policy=NO_TENANT_LINE)

    assert isinstance(decision, Resolve)
    assert "tenant line" not in decision.reason
    assert isinstance(judge(history, alert), NoChange)  # with the line on, 72 is far below 95 - 10


def test_noisy_small_group_near_the_threshold_does_not_open_an_alert() -> None:
    history = [score(offset, 60.0, respondents=6, standard_error=10.0) for offset in range(4)]

    decision = judge(history)

    assert isinstance(decision, NoChange)


def test_the_same_index_with_a_small_standard_error_opens_an_alert() -> None:
    history = [score(offset, 60.0, respondents=6, standard_error=2.0) for offset in range(2)]

    assert isinstance(judge(history), OpenAlert)


def test_shortfall_must_exceed_the_noise_guard_not_just_equal_it() -> None:
    assert not is_challenged(score(0, 55.0, standard_error=10.0), EACH_PERIOD)
    assert is_challenged(score(0, 54.9, standard_error=10.0), EACH_PERIOD)


def test_noise_guard_scales_with_the_policy_z() -> None:
    strict = EACH_PERIOD.model_copy(update={"noise_z": 2.0})

    assert is_challenged(score(0, 60.0, standard_error=4.0), EACH_PERIOD)
    assert not is_challenged(score(0, 60.0, standard_error=4.0), strict)


def test_noise_guard_also_applies_to_the_tenant_relative_line() -> None:
    assert not is_challenged(score(0, 68.0, standard_error=4.0, tenant_index=80.0), EACH_PERIOD)
    assert is_challenged(score(0, 65.5, standard_error=4.0, tenant_index=80.0), EACH_PERIOD)


# Pooled detection (small units)


def test_pooled_detection_counts_each_period_below_the_line_and_guards_the_runs_mean() -> None:
    # A 6-person unit at 58 with SE 9 each month: each month alone is within one SE of 65, so the
    # per-period guard never opens (the finding); two months together have SE 9/sqrt(2) = 6.4, and 58 is
    # more than that below 65.
    history = [score(0, 58.0, respondents=6, standard_error=9.0), score(1, 58.0, respondents=6, standard_error=9.0)]

    assert isinstance(judge(history, None, policy=EACH_PERIOD), NoChange)
    decision = judge(history, None)

    assert isinstance(decision, OpenAlert)
    assert decision.evidence == tuple(history)
    assert "together 2026-01..2026-02: 58.0 (n=12, SE 6.4) below the threshold 65.0" in decision.reason


def test_pooled_detection_stays_quiet_when_the_runs_mean_is_within_its_noise() -> None:
    history = [score(0, 62.0, respondents=6, standard_error=9.0), score(1, 61.0, respondents=6, standard_error=9.0)]

    decision = judge(history, None)

    assert isinstance(decision, NoChange)
    assert "2 consecutive scored period(s) below the line, but together" in decision.reason


def test_pooled_detection_weighs_the_whole_run_so_a_longer_run_can_open() -> None:
    # Two months at 60 (SE 8): mean 60, SE 5.7, not enough; a third month makes SE 4.6, and 60 < 65 - 4.6.
    months_at_60 = [score(m, 60.0, respondents=6, standard_error=8.0) for m in range(3)]

    assert isinstance(judge(months_at_60[:2], None), NoChange)
    decision = judge(months_at_60, None)

    assert isinstance(decision, OpenAlert)
    assert len(decision.evidence) == 3


def test_pooled_detection_needs_every_period_of_the_run_below_the_line() -> None:
    history = [
        score(0, 40.0, standard_error=3.0),
        score(1, 66.0, standard_error=3.0),
        score(2, 40.0, standard_error=3.0),
    ]

    assert isinstance(judge(history, None), NoChange)


def test_pooled_mean_is_weighted_by_respondents_and_its_error_shrinks_with_them() -> None:
    together = pooled(
        [score(0, 50.0, respondents=10, standard_error=6.0), score(1, 80.0, respondents=5, standard_error=9.0)]
    )

    assert together.index == 60.0
    assert together.respondents == 15
    assert together.standard_error == pytest.approx(math.sqrt((10 * 6.0) ** 2 + (5 * 9.0) ** 2) / 15)


def test_pooling_a_suppressed_period_is_refused() -> None:
    with pytest.raises(ValueError, match="scored periods"):
        pooled([score(0, 50.0), score(1, None)])


# Resolving


def test_recovery_to_threshold_plus_margin_resolves_the_alert() -> None:
    history = months(58, 60, 70)
    alert = open_alert(history, opened_offset=1)

    decision = judge(history, alert)

    assert isinstance(decision, Resolve)
    assert decision.evidence == (history[2],)


def test_recovery_inside_the_margin_keeps_the_alert_open() -> None:
    history = months(58, 60, 69.9)
    alert = open_alert(history, opened_offset=1)

    decision = judge(history, alert)

    assert isinstance(decision, NoChange)
    assert "no longer challenged" in decision.reason


def test_recovery_still_far_below_the_tenant_does_not_resolve() -> None:
    assert not is_recovered(score(0, 72.0, tenant_index=85.0), POLICY)
    assert is_recovered(score(0, 72.0, tenant_index=81.0), POLICY)


def test_resolving_waits_for_the_configured_number_of_recovered_periods() -> None:
    two_to_resolve = POLICY.model_copy(update={"resolve_periods": 2})
    history = months(58, 60, 72, SUPPRESSED)
    alert = open_alert(history, opened_offset=1, acknowledged=True)

    assert isinstance(judge(history, alert, policy=two_to_resolve), NoChange)
    assert isinstance(judge([*history, score(4, 71)], alert, policy=two_to_resolve), Resolve)


def test_relapse_after_recovery_opens_a_new_alert() -> None:
    history = months(58, 60, 72, 59, 57)

    transitions = evaluate_history(history, POLICY, levels_available=MANY_LEVELS)

    assert [(t.period, type(t.decision)) for t in transitions] == [
        ("2026-02", OpenAlert),
        ("2026-03", Resolve),
        ("2026-05", OpenAlert),
    ]


def test_a_resolved_alert_needs_a_full_new_run_before_it_reopens() -> None:
    history = months(58, 60, 72, 59)
    resolved = replace(open_alert(history, opened_offset=1), state="resolved")

    assert isinstance(judge(history, resolved), NoChange)


# Escalating on scores


def test_no_improvement_after_the_escalation_periods_escalates_one_level() -> None:
    history = months(58, 60, 59, 61)
    alert = open_alert(history, opened_offset=1)

    decision = judge(history, alert)

    assert isinstance(decision, Escalate)
    assert decision.to_level == 2
    assert decision.rule == "no_improvement"
    assert decision.evidence == (history[2], history[3])


def test_escalation_is_not_considered_before_the_configured_number_of_scored_periods() -> None:
    history = months(58, 60, 55, SUPPRESSED)
    alert = open_alert(history, opened_offset=1)

    decision = judge(history, alert)

    assert isinstance(decision, NoChange)
    assert "1 of 2" in decision.reason


def test_improvement_of_at_least_the_minimum_stops_escalation() -> None:
    history = months(58, 56, 59, 61)
    alert = open_alert(history, opened_offset=1)

    decision = judge(history, alert)

    assert isinstance(decision, NoChange)
    assert "+5.0" in decision.reason


def test_improvement_just_short_of_the_minimum_still_escalates() -> None:
    history = months(58, 56, 59, 60.9)
    alert = open_alert(history, opened_offset=1)

    assert isinstance(judge(history, alert), Escalate)


def test_a_unit_no_longer_challenged_does_not_escalate_even_without_improvement() -> None:
    history = months(60, 64, 62, 66)
    alert = open_alert(history, opened_offset=1)

    assert isinstance(judge(history, alert), NoChange)


def test_escalation_measures_improvement_from_the_period_it_escalated_in() -> None:
    history = months(58, 60, 59, 56)
    alert = open_alert(history, opened_offset=1)
    escalation = judge(history, alert)
    assert isinstance(escalation, Escalate)
    escalated = apply_decision(alert, escalation, now=history[-1].period_end)
    assert escalated is not None
    escalated = acknowledge(escalated, now=history[-1].period_end)

    later = [*history, score(4, 60), score(5, 62)]

    assert escalated.baseline_period == "2026-04"
    assert escalated.baseline_index == 56
    assert isinstance(judge(later, escalated), NoChange)


def test_no_improvement_at_the_top_level_escalates_once_more_to_hr() -> None:
    history = months(58, 60, 59, 61)
    alert = open_alert(history, opened_offset=1, level=3)

    decision = judge(history, alert, levels_available=3)

    assert isinstance(decision, Escalate)
    assert decision.to_hr
    assert decision.to_level == 4
    assert decision.rule == "no_improvement"
    assert decision.reason.startswith("no improvement")
    assert "level 3 is the highest management level for this unit, so the alert goes to HR" in decision.reason


def test_nobody_acknowledging_at_the_top_level_escalates_to_hr() -> None:
    history = months(58, 60)
    alert = open_alert(history, opened_offset=1, level=2, acknowledged=False)

    decision = judge(history, alert, now=history[-1].period_end + timedelta(days=15), levels_available=2)

    assert isinstance(decision, Escalate)
    assert (decision.to_hr, decision.to_level, decision.rule) == (True, 3, "unacknowledged")


def test_below_the_top_an_escalation_is_not_to_hr() -> None:
    history = months(58, 60, 59, 61)

    decision = judge(history, open_alert(history, opened_offset=1, level=2), levels_available=3)

    assert isinstance(decision, Escalate)
    assert (decision.to_hr, decision.to_level) == (False, 3)


def test_an_alert_with_hr_stays_there_with_a_reason() -> None:
    history = months(58, 60, 59, 61)
    alert = open_alert(history, opened_offset=1, level=4)

    decision = judge(history, alert, levels_available=3)

    assert isinstance(decision, NoChange)
    assert decision.reason.startswith("with HR")
    assert "would have escalated on no improvement" in decision.reason


def test_an_alert_with_hr_nobody_acknowledges_stays_there() -> None:
    history = months(58, 60)
    alert = open_alert(history, opened_offset=1, level=3, acknowledged=False)

    decision = judge(history, alert, now=history[-1].period_end + timedelta(days=60), levels_available=2)

    assert isinstance(decision, NoChange)
    assert decision.reason.startswith("with HR")


def test_unit_without_any_manager_above_never_escalates() -> None:
    history = months(58, 60, 59, 61)
    alert = open_alert(history, opened_offset=1)

    assert isinstance(judge(history, alert, levels_available=0), NoChange)


def test_backtest_of_a_unit_that_stays_low_climbs_level_by_level_past_the_top_to_hr_once() -> None:
    history = months(58, 60, 59, 58, 57, 56, 55, 54, 53, 52)

    transitions = evaluate_history(history, POLICY, levels_available=2)

    assert [(t.period, type(t.decision)) for t in transitions] == [
        ("2026-02", OpenAlert),
        ("2026-04", Escalate),
        ("2026-06", Escalate),
    ]
    last = transitions[-1].decision
    assert isinstance(last, Escalate)
    assert (last.to_level, last.to_hr) == (3, True)


def test_replayed_without_acknowledgements_hr_is_told_once() -> None:
    history = months(58, 60, 59, 58, 57, 56, 55, 54)

    transitions = evaluate_history(history, POLICY, levels_available=1, assume_acknowledged=False)

    to_hr = [t for t in transitions if isinstance(t.decision, Escalate) and t.decision.to_hr]
    assert [t.period for t in to_hr] == ["2026-03"]
    assert len(transitions) == 2


# Escalating on time


def test_alert_nobody_acknowledged_escalates_after_the_configured_days() -> None:
    history = months(58, 60)
    alert = open_alert(history, opened_offset=1, acknowledged=False)

    decision = judge(history, alert, now=alert.opened_at + timedelta(days=14))

    assert isinstance(decision, Escalate)
    assert decision.rule == "unacknowledged"
    assert decision.to_level == 2


def test_alert_nobody_acknowledged_waits_until_the_configured_days_have_passed() -> None:
    history = months(58, 60)
    alert = open_alert(history, opened_offset=1, acknowledged=False)

    decision = judge(history, alert, now=alert.opened_at + timedelta(days=13, hours=23))

    assert isinstance(decision, NoChange)


def test_acknowledged_alert_does_not_escalate_on_time() -> None:
    history = months(58, 60)
    alert = open_alert(history, opened_offset=1, acknowledged=True)

    assert isinstance(judge(history, alert, now=alert.opened_at + timedelta(days=90)), NoChange)


def test_acknowledgement_at_a_lower_level_does_not_count_after_escalation() -> None:
    history = months(58, 60)
    acknowledged = acknowledge(open_alert(history, opened_offset=1), now=history[-1].period_end)
    escalated_at = acknowledged.opened_at + timedelta(days=3)
    escalated = replace(acknowledged, state="escalated", level=2, last_escalated_at=escalated_at)

    decision = judge(history, escalated, now=escalated_at + timedelta(days=14))

    assert isinstance(decision, Escalate)
    assert decision.to_level == 3


def test_time_escalation_restarts_the_clock_for_the_new_level() -> None:
    history = months(58, 60)
    alert = open_alert(history, opened_offset=1, acknowledged=False)
    now = alert.opened_at + timedelta(days=15)
    escalation = judge(history, alert, now=now)
    assert isinstance(escalation, Escalate)
    escalated = apply_decision(alert, escalation, now=now)

    assert isinstance(judge(history, escalated, now=now + timedelta(days=13)), NoChange)
    assert isinstance(judge(history, escalated, now=now + timedelta(days=14)), Escalate)


def test_backtest_without_acknowledgements_escalates_on_time_as_periods_close() -> None:
    history = months(58, 60, 63)

    transitions = evaluate_history(history, POLICY, levels_available=MANY_LEVELS, assume_acknowledged=False)

    assert [(t.period, type(t.decision)) for t in transitions] == [("2026-02", OpenAlert), ("2026-03", Escalate)]
    escalation = transitions[1].decision
    assert isinstance(escalation, Escalate)
    assert escalation.rule == "unacknowledged"


def test_backtest_judges_each_period_after_the_grace_hours() -> None:
    graceful = POLICY.model_copy(update={"period_grace_hours": 48})
    history = months(58, 60)

    transitions = evaluate_history(history, graceful, levels_available=MANY_LEVELS)

    assert transitions[0].judged_at == history[-1].period_end + timedelta(hours=48)


def test_backtest_of_a_steady_unit_has_no_transitions() -> None:
    assert evaluate_history(months(78, 80, 76, SUPPRESSED, 79), POLICY, levels_available=MANY_LEVELS) == []


# Reasons, lifecycle and contracts


def test_every_state_change_says_which_rule_fired_with_its_numbers() -> None:
    history = months(72, 58.26, 60, 59, 61, 71)

    reasons = [t.decision.reason for t in evaluate_history(history, POLICY, levels_available=MANY_LEVELS)]

    assert [reason.split(":")[0] for reason in reasons] == ["sustained challenge", "no improvement", "recovered"]
    assert "58.3" in reasons[0]
    assert "65.0" in reasons[0]
    assert "+1.0" in reasons[1]
    assert "70.0" in reasons[2]


def test_opening_creates_an_open_alert_with_its_baseline() -> None:
    history = months(58, 60)
    decision = judge(history)
    assert isinstance(decision, OpenAlert)

    alert = apply_decision(None, decision, now=history[-1].period_end)

    assert alert is not None
    assert (alert.state, alert.level, alert.opened_period, alert.baseline_index) == ("open", 1, "2026-02", 60)


def test_resolving_marks_the_alert_resolved_and_inactive() -> None:
    history = months(58, 60, 75)
    alert = open_alert(history, opened_offset=1)
    decision = judge(history, alert)

    resolved = apply_decision(alert, decision, now=history[-1].period_end)

    assert resolved is not None
    assert resolved.state == "resolved"
    assert not resolved.is_active


def test_escalating_without_an_alert_is_refused() -> None:
    with pytest.raises(ValueError, match="without an alert"):
        apply_decision(
            None,
            Escalate(to_level=2, reason="r", evidence=(), rule="unacknowledged"),
            now=datetime(2026, 3, 1, tzinfo=UTC),
        )


def test_a_resolved_alert_cannot_be_acknowledged() -> None:
    resolved = replace(open_alert(months(58, 60), opened_offset=1), state="resolved")

    with pytest.raises(ValueError, match="resolved"):
        acknowledge(resolved, now=resolved.opened_at)


def test_acknowledged_snapshot_without_a_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="acknowledged_at"):
        replace(open_alert(months(58, 60), opened_offset=1), state="acknowledged", acknowledged_at=None)


def test_history_out_of_time_order_is_rejected() -> None:
    with pytest.raises(ValueError, match="oldest first"):
        judge([score(1, 60), score(0, 58)])


def test_history_with_a_period_twice_is_rejected() -> None:
    with pytest.raises(ValueError, match="each period once"):
        judge([score(0, 58), score(0, 58)])


def test_period_end_without_a_time_zone_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        PeriodScore("2026-01", datetime(2026, 2, 1), 60.0, 8, None, None)  # noqa: DTZ001
