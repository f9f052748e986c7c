import math
import re
from dataclasses import replace
from datetime import timedelta

import pytest

from tempen_alerts.domain.explain import Explanation, Language, PeriodFact, chance_below, describe, explain
from tempen_alerts.domain.rules import (
    AlertSnapshot,
    Escalate,
    OpenAlert,
    PeriodScore,
    Resolve,
    StateChange,
    apply_decision,
    decide,
)
from tempen_shared.tenancy.models import AlertPolicy
from tests.alerts.unit.factories import SUPPRESSED, score

POLICY = AlertPolicy()  # threshold 65, tenant line -10, K=2, R=1, margin 5, E=2, delta 5, D=14, z=1, pooled
SE_OF_SEVEN = 4.6  # a typical standard error for 7 respondents: ±9 points per period


def team_of_seven(*indices: float | None) -> list[PeriodScore]:
    return [score(offset, index, respondents=7, standard_error=SE_OF_SEVEN) for offset, index in enumerate(indices)]


def judged(
    history: list[PeriodScore], alert: AlertSnapshot | None = None, *, policy: AlertPolicy = POLICY, days: int = 0
) -> tuple[StateChange, Explanation]:
    now = history[-1].period_end + timedelta(days=days)
    decision = decide(history, alert, policy, now=now, levels_available=3)
    assert isinstance(decision, OpenAlert | Escalate | Resolve), decision.reason
    return decision, explain(decision, policy, alert=alert, history=history, now=now)


def words(explanation: Explanation, language: Language) -> str:
    return "\n".join(describe(explanation, language))


# Opening: what was found, the noise per period, how sure the run is, the rule


def test_an_opened_alert_says_how_many_periods_the_index_each_time_and_the_noise_in_swedish() -> None:
    _, explanation = judged(team_of_seven(72, 55, 56))

    text = words(explanation, "sv")

    assert text.splitlines()[:3] == [
        "Indexet har legat under gränsen 65 två månader i rad:",
        "  2026-02: 55,0 (7 svarande, ±9)",
        "  2026-03: 56,0 (7 svarande, ±9)",
    ]
    assert "Med 7 svarande kan en enskild månad variera med ungefär ±9 poäng av en slump, så ett enstaka lågt " in text
    assert "Tillsammans ger de två månaderna ett medel på 55,5 (±6 poäng)." in text
    assert "minst två månader i rad och medlet för perioderna ligger mer än 1 standardfel under linjen" in text
    assert "2026-01" not in text  # the period before the run is not part of it


def test_an_opened_alert_in_english_uses_a_decimal_point_and_english_plurals() -> None:
    _, explanation = judged(team_of_seven(72, 55, 56))

    text = words(explanation, "en")

    assert text.splitlines()[:3] == [
        "The index has been below the threshold 65 for two months in a row:",
        "  2026-02: 55.0 (7 respondents, ±9)",
        "  2026-03: 56.0 (7 respondents, ±9)",
    ]
    assert "With 7 respondents a single month can vary by about ±9 points by chance" in text
    assert "Together the two months average 55.5 (±6 points)." in text
    assert "more than 1 standard error below the line" in text
    assert "," not in re.sub(r"[,;] ", "", text)  # no decimal comma anywhere


@pytest.mark.parametrize(
    ("indices", "chance", "sv", "en"),
    [
        # mean 55.5, SE 4.6/sqrt(2) = 3.25: 2.92 standard errors below 65
        ((72, 55, 56), "ungefär 0,2 %", "mycket osannolikt", "very unlikely"),
        # mean 59.5: 1.69 standard errors below
        ((72, 59, 60), "ungefär 4,5 %", "alltså osannolikt", "chance is unlikely"),
        # mean 61.0: 1.23 standard errors below, still more than noise_z = 1 so it opens
        ((72, 60, 62), "ungefär 11 %", "Slumpen kan alltså inte uteslutas", "chance cannot be ruled out"),
    ],
)
def test_how_sure_follows_the_chance_of_so_low_a_mean_in_honest_bands(
    indices: tuple[float, ...], chance: str, sv: str, en: str
) -> None:
    _, explanation = judged(team_of_seven(*indices))

    swedish, english = words(explanation, "sv"), words(explanation, "en")

    assert f"Om gruppens verkliga nivå vore 65 skulle ett så lågt medel uppstå av en slump i {chance} av fallen." in (
        swedish
    )
    assert sv in swedish
    assert en in english
    assert chance.replace("ungefär", "about").replace(",", ".") in english
    assert ("mycket" in swedish) == (sv == "mycket osannolikt")


def test_the_chance_is_the_normal_tail_below_the_line() -> None:
    assert chance_below(60.0, 65.0, 2.5) == pytest.approx(0.02275, abs=1e-5)  # two standard errors
    assert chance_below(65.0, 65.0, 3.0) == pytest.approx(0.5)
    _, explanation = judged(team_of_seven(72, 55, 56))
    assert explanation.chance == pytest.approx(0.5 * math.erfc((65 - 55.5) / (SE_OF_SEVEN / math.sqrt(2) * 2**0.5)))


def test_a_very_small_chance_is_said_as_less_than_a_tenth_of_a_percent() -> None:
    _, explanation = judged(team_of_seven(72, 50, 51, 50))

    assert "i mindre än 0,1 % av fallen" in words(explanation, "sv")
    assert "less than 0.1 %" in words(explanation, "en")


def test_a_suppressed_period_in_the_run_is_named_with_too_few_responses_and_no_number() -> None:
    history = team_of_seven(72, 55, SUPPRESSED, 56)

    _, explanation = judged(history)

    assert [p.period for p in explanation.periods] == ["2026-02", "2026-03", "2026-04"]
    assert explanation.periods[1] == PeriodFact("2026-03")
    assert explanation.as_json()["periods"][1] == {"period": "2026-03"}
    swedish = words(explanation, "sv").splitlines()
    english = words(explanation, "en").splitlines()
    assert "  2026-03: för få svar, räknas inte" in swedish
    assert "  2026-03: too few responses, not counted" in english
    assert all(not re.search(r"\d", line.removeprefix("  2026-03")) for line in swedish + english if "2026-03" in line)
    assert "två månader i rad" in swedish[0]  # only scored periods are counted


def test_each_period_detection_says_its_own_rule() -> None:
    each = POLICY.model_copy(update={"detection": "each_period", "sustained_periods": 3})

    _, explanation = judged(team_of_seven(72, 50, 51, 50), policy=each)

    assert "minst tre månader i rad, varje gång med mer än 1 standardfel." in words(explanation, "sv")
    assert "for at least three months in a row, each time by more than 1 standard error." in words(explanation, "en")


def test_the_tenant_line_is_named_when_the_run_is_short_of_it_only() -> None:
    history = [score(i, v, respondents=20, standard_error=2.0, tenant_index=80.0) for i, v in enumerate((80, 67, 66))]

    _, explanation = judged(history)

    assert explanation.line == 70.0
    assert explanation.tenant_line
    swedish = words(explanation, "sv")
    assert swedish.startswith(
        "Indexet har legat under linjen för hela organisationen (70: organisationens index minus 10 poäng) "
        "två månader i rad:"
    )
    assert "  2026-02: 67,0 (20 svarande, ±4; hela organisationen 80,0)" in swedish
    assert "Om gruppens verkliga nivå vore 70" in swedish


def test_quarters_are_counted_as_quarters_with_swedish_neuter_numbers() -> None:
    facts = (
        PeriodFact("2026-Q1", index=60.0, respondents=1, margin=12.0),
        PeriodFact("2026-Q2", index=61.5, respondents=9, margin=8.4),
    )
    explanation = Explanation(
        kind="resolved",
        rule="recovered",
        detection="pooled",
        periods=facts[1:],
        threshold=65.0,
        below_tenant_by=10.0,
        sustained_periods=1,
        noise_z=1.5,
        line=70.0,
        resolve_margin=5.0,
    )
    opened = Explanation(
        kind="opened",
        rule="sustained_challenge",
        detection="pooled",
        periods=facts,
        threshold=65.0,
        below_tenant_by=10.0,
        sustained_periods=1,
        noise_z=1.5,
    )

    assert "Med 9 svarande kan ett enskilt kvartal variera med ungefär ±8 poäng av en slump." in words(
        explanation, "sv"
    )
    assert "Indexet var på eller över 70 (gränsen 65 plus 5 poäng marginal) det senaste kvartalet:" in words(
        explanation, "sv"
    )
    assert "två kvartal i rad" in words(opened, "sv")
    assert "minst ett kvartal i rad" in words(opened, "sv")
    assert "mer än 1,5 standardfel" in words(opened, "sv")
    assert "more than 1.5 standard errors" in words(opened, "en")
    assert "  2026-Q1: 60,0 (1 svarande, ±12)" in words(opened, "sv")
    assert "  2026-Q1: 60.0 (1 respondent, ±12)" in words(opened, "en")
    assert "With 1–9 respondents a single quarter can vary by about ±8–12 points" in words(opened, "en")


# Escalating and resolving


def test_an_escalation_for_no_improvement_compares_with_the_baseline() -> None:
    history = team_of_seven(72, 55, 56, 58, 57.5)
    opened, _ = judged(history[:3])
    alert = apply_decision(None, opened, now=history[2].period_end)

    decision, explanation = judged(history, alert)

    assert isinstance(decision, Escalate)
    assert decision.rule == "no_improvement"
    swedish = words(explanation, "sv")
    assert swedish.startswith(
        "När ärendet nådde nivå 1 var indexet 56,0 (2026-03). Efter två månader är det 57,5 (2026-05), "
        "1,5 poäng bättre och fortfarande under linjen. Regeln: ärendet går vidare om indexet inte har "
        "förbättrats med minst 5 poäng."
    )
    assert "  2026-04: 58,0 (7 svarande, ±9)" in swedish
    assert swedish.endswith("Därför har det gått vidare till nivå 2.")
    english = words(explanation, "en")
    assert "After two months it is 57.5 (2026-05), 1.5 points better and still below the line." in english
    assert english.endswith("So it has gone on to level 2.")


def test_a_worse_index_is_said_as_worse() -> None:
    history = team_of_seven(72, 55, 56, 55, 54)
    opened, _ = judged(history[:3])
    alert = apply_decision(None, opened, now=history[2].period_end)

    _, explanation = judged(history, alert)

    assert "2 poäng sämre" in words(explanation, "sv")
    assert "2 points worse" in words(explanation, "en")


def test_an_escalation_for_want_of_acknowledgement_says_how_long_it_waited() -> None:
    history = team_of_seven(72, 55, 56)
    opened, _ = judged(history)
    alert = apply_decision(None, opened, now=history[-1].period_end)

    decision, explanation = judged(history, alert, days=15)

    assert isinstance(decision, Escalate)
    assert decision.rule == "unacknowledged"
    assert words(explanation, "sv") == (
        "Ingen kvitterade ärendet inom 14 dagar efter att det nådde nivå 1 (2026-04-01, för 15 dagar sedan). "
        "Regeln: ett ärende som inte kvitteras i tid går vidare.\nDärför har det gått vidare till nivå 2."
    )
    assert "Nobody acknowledged the alert within 14 days of it reaching level 1 (2026-04-01, 15 days ago)." in (
        words(explanation, "en")
    )


def test_an_escalation_past_the_top_manager_says_it_went_to_hr() -> None:
    history = team_of_seven(72, 55, 56)
    opened, _ = judged(history)
    top = replace(apply_decision(None, opened, now=history[-1].period_end), level=3)  # no level above 3 here

    decision, explanation = judged(history, top, days=15)

    assert isinstance(decision, Escalate)
    assert decision.to_hr
    assert words(explanation, "sv").endswith("Det finns ingen högre chefsnivå, så ärendet har lämnats över till HR.")
    assert words(explanation, "en").endswith("so the alert has been handed over to HR.")
    assert Explanation.from_json(explanation.as_json()) == explanation


def test_a_resolved_alert_names_no_tenant_line_when_the_tenant_turned_it_off() -> None:
    policy = POLICY.model_copy(update={"below_tenant_by": None})
    history = [
        score(m, v, respondents=7, standard_error=SE_OF_SEVEN, tenant_index=85.0)
        for m, v in enumerate((72, 55, 56, 74))
    ]
    opened, _ = judged(history[:3], policy=policy)
    alert = apply_decision(None, opened, now=history[2].period_end)

    decision, explanation = judged(history, alert, policy=policy)

    assert isinstance(decision, Resolve)
    assert "hela organisationens" not in words(explanation, "sv")
    assert "whole organisation" not in words(explanation, "en")


def test_a_resolved_alert_says_the_line_it_reached() -> None:
    history = team_of_seven(72, 55, 56, 74)
    opened, _ = judged(history[:3])
    alert = apply_decision(None, opened, now=history[2].period_end)

    decision, explanation = judged(history, alert)

    assert isinstance(decision, Resolve)
    assert words(explanation, "sv").splitlines() == [
        "Indexet var på eller över 70 (gränsen 65 plus 5 poäng marginal) den senaste månaden:",
        "  2026-04: 74,0 (7 svarande, ±9)",
        "Med 7 svarande kan en enskild månad variera med ungefär ±9 poäng av en slump.",
        "Regeln: ett ärende avslutas när indexet har återhämtat sig så, och därför är det avslutat.",
    ]
    two = POLICY.model_copy(update={"resolve_periods": 2})
    _, longer = judged([*history, score(4, 71.5, respondents=7, standard_error=SE_OF_SEVEN)], alert, policy=two)
    assert words(longer, "en").startswith(
        "The index has been at or above 70 (the threshold 65 plus a margin of 5 points) for two months in a row:"
    )


def test_an_explanation_survives_being_stored() -> None:
    _, explanation = judged(team_of_seven(72, 55, SUPPRESSED, 56))

    assert Explanation.from_json(explanation.as_json()) == explanation


def test_without_standard_errors_nothing_is_said_about_chance() -> None:
    history = [score(offset, index, respondents=9) for offset, index in enumerate((72, 55, 56))]

    _, explanation = judged(history)

    text = words(explanation, "sv")
    assert "  2026-02: 55,0 (9 svarande)" in text
    assert explanation.chance is None
    assert "±" not in text
    assert "slump" not in text
