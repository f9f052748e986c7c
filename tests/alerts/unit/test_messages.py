import re

import pytest

from tempen_alerts.domain.explain import Explanation, PeriodFact, explain
from tempen_alerts.domain.messages import Email, Language, NotificationKind, render_notification
from tempen_alerts.domain.routing import Recipient
from tempen_alerts.domain.rules import OpenAlert, PeriodScore, decide
from tempen_shared.tenancy.models import AlertPolicy
from tests.alerts.unit.factories import SUPPRESSED, month_period, months, score

NEXT_LEVEL = Recipient(email="sven@kommun.example", name="Sven", role="next_level", level=1)
UNIT_MANAGER = Recipient(email="ulla@kommun.example", name="Ulla", role="unit_manager", level=0)
HR = Recipient(email="hr@kommun.example", name="HR", role="hr", level=1)
ACK_URL = "https://tempen.kommun.example/alerts/a1/ack?t=abc&u=2"
POLICY = AlertPolicy()


def opened(history: list[PeriodScore]) -> Explanation:
    """The explanation of the alert `history` opens."""
    now = history[-1].period_end
    decision = decide(history, None, POLICY, now=now, levels_available=2)
    assert isinstance(decision, OpenAlert), decision.reason
    return explain(decision, POLICY, alert=None, history=history, now=now)


OPENED = opened([score(0, 71.0), score(1, 55.0, standard_error=4.2), score(2, 56.5, standard_error=4.4)])


def render(
    *,
    language: Language = "sv",
    kind: NotificationKind = "opened",
    recipient: Recipient = NEXT_LEVEL,
    history: list[PeriodScore] | None = None,
    unit_name: str = "Hemtjänst Norr",
    dimension_name: str = "Tillit",
    tenant_name: str = "Hjo kommun",
    explanation: Explanation | None = OPENED,
    acknowledge_url: str = ACK_URL,
) -> Email:
    return render_notification(
        language=language,
        kind=kind,
        recipient=recipient,
        tenant_name=tenant_name,
        unit_name=unit_name,
        dimension_name=dimension_name,
        history=history if history is not None else months(71.0, 58.0, 61.0),
        threshold=65,
        explanation=explanation,
        acknowledge_url=acknowledge_url,
    )


def test_swedish_notification_shows_each_period_against_the_threshold_with_its_respondents() -> None:
    history = [score(0, 71.0, respondents=9), score(1, 58.0, respondents=6), score(2, 61.0, respondents=7)]

    email = render(history=history)

    assert "2026-01: 71,0 – på eller över gränsen (n = 9)" in email.text
    assert "2026-02: 58,0 – under gränsen (n = 6)" in email.text
    assert "2026-03: 61,0 – under gränsen (n = 7)" in email.text
    assert "Gräns: 65,0" in email.text
    assert "<td>58,0</td><td>under gränsen</td><td>6</td>" in email.html


def test_english_notification_shows_each_period_against_the_threshold_with_its_respondents() -> None:
    history = [score(0, 71.0, respondents=9), score(1, 58.0, respondents=6)]

    email = render(language="en", history=history)

    assert "2026-01: 71.0 – at or above the threshold (n = 9)" in email.text
    assert "2026-02: 58.0 – below the threshold (n = 6)" in email.text
    assert "Threshold: 65.0" in email.text
    assert "<td>58.0</td><td>below the threshold</td><td>6</td>" in email.html


def test_notification_names_the_unit_dimension_and_organisation() -> None:
    email = render(language="en")

    assert email.subject == "[Hjo kommun] Sustained low results: Tillit in Hemtjänst Norr"
    for part in (email.text, email.html):
        assert "Hemtjänst Norr" in part
        assert "Tillit" in part
        assert "Hjo kommun" in part


def test_indices_are_shown_rounded_to_one_decimal() -> None:
    email = render(language="en", history=months(71.04, 58.26))

    assert "58.3" in email.text
    assert "58.26" not in email.text + email.html
    assert "71.0" in email.text


@pytest.mark.parametrize("language", ["sv", "en"])
def test_suppressed_period_shows_too_few_responses_and_none_of_its_numbers(language: Language) -> None:
    period, end = month_period(1)
    suppressed = PeriodScore(period, end, None, respondents=4, standard_error=11.7, tenant_index=81.3)
    history = [score(0, 58.0, respondents=7, tenant_index=76.0), suppressed, score(2, 60.0, respondents=8)]

    email = render(language=language, history=history)

    too_few = "för få svar" if language == "sv" else "too few responses"
    assert f"2026-02: {too_few}" in email.text
    assert f'<td>2026-02</td><td colspan="4">{too_few}</td>' in email.html
    for part in (email.text, email.html):
        for number in ("81.3", "81,3", "11.7", "11,7", "n = 4"):
            assert number not in part
        assert "<td>4</td>" not in part


def test_tenant_index_is_shown_beside_the_unit_when_known() -> None:
    email = render(language="en", history=[score(0, 69.0, tenant_index=80.0), score(1, 68.0, tenant_index=79.5)])

    assert "2026-02: 68.0 – at or above the threshold (n = 8; whole organisation 79.5)" in email.text
    assert "<th>Whole organisation</th>" in email.html


def test_trend_compares_the_last_two_scored_periods_past_a_suppressed_one() -> None:
    email = render(language="en", history=months(70.0, 58.0, SUPPRESSED))

    assert "Trend: ↓ declining, from 70.0 (2026-01) to 58.0 (2026-02)" in email.text


def test_trend_reports_improvement() -> None:
    assert "Trend: ↑ bättre, från 58,0 (2026-01) till 61,0 (2026-02)" in render(history=months(58.0, 61.0)).text


def test_a_change_under_one_point_is_reported_as_about_the_same() -> None:
    assert "→ about the same" in render(language="en", history=months(58.0, 58.9)).text


def test_trend_needs_two_scored_periods() -> None:
    email = render(language="en", history=months(SUPPRESSED, 58.0))

    assert "Trend: not enough periods with results to show a trend" in email.text


@pytest.mark.parametrize("language", ["sv", "en"])
def test_notification_explains_what_was_found_in_the_tenants_language(language: Language) -> None:
    email = render(language=language)

    if language == "sv":
        heading = "Vad vi såg och hur säkra vi är:"
        found = "Indexet har legat under gränsen 65 två månader i rad:"
        period = "2026-02: 55,0 (8 svarande, ±8)"
        sure = "Att det är en slump är alltså mycket osannolikt."
    else:
        heading = "What we found and how sure we are:"
        found = "The index has been below the threshold 65 for two months in a row:"
        period = "2026-02: 55.0 (8 respondents, ±8)"
        sure = "So chance is very unlikely to explain it."
    text = email.text.splitlines()
    at = text.index(heading)
    assert text[at + 1 : at + 4] == [found, f"  {period}", "  2026-03: " + text[at + 3].split(": ", 1)[1]]
    assert any(sure in line for line in text[at:])
    assert f"<h3>{heading.rstrip(':')}</h3>" in email.html
    assert f"<li>{period}</li>" in email.html
    for part in (email.text, email.html):
        assert "sustained challenge" not in part  # the English rule text stays in logs and the audit trail


def test_without_an_explanation_the_section_is_left_out_rather_than_quote_the_rule_text() -> None:
    email = render(explanation=None)

    assert "Vad vi såg och hur säkra vi är" not in email.text + email.html


@pytest.mark.parametrize("language", ["sv", "en"])
def test_next_level_is_asked_to_talk_with_the_unit_manager_and_agree_on_an_action_plan(language: Language) -> None:
    text = render(language=language).text

    if language == "sv":
        assert "prata med enhetens chef" in text
        assert "handlingsplan" in text
        assert "nästa chefsnivå" in text
    else:
        assert "talk with the unit's manager" in text
        assert "action plan" in text
        assert "next management level" in text


@pytest.mark.parametrize("language", ["sv", "en"])
def test_next_level_is_told_how_to_acknowledge(language: Language) -> None:
    email = render(language=language)

    assert ("Kvittera" if language == "sv" else "Acknowledge") in email.text
    assert ACK_URL in email.text
    assert 'href="https://tempen.kommun.example/alerts/a1/ack?t=abc&amp;u=2"' in email.html


@pytest.mark.parametrize("language", ["sv", "en"])
def test_unit_manager_is_told_they_are_informed_and_their_manager_will_talk_with_them(language: Language) -> None:
    email = render(language=language, recipient=UNIT_MANAGER)

    if language == "sv":
        assert email.subject.startswith("[Hjo kommun] För kännedom")
        assert "för din kännedom" in email.text
        assert "din chef har ombetts att prata med dig" in email.text
        assert "Kvittera" not in email.text
    else:
        assert email.subject.startswith("[Hjo kommun] For your information")
        assert "for your information" in email.text
        assert "your manager has been asked to talk with you" in email.text
        assert "Acknowledge" not in email.text


def test_hr_is_told_why_the_alert_came_to_them() -> None:
    assert "no manager to go to above the unit's manager" in render(language="en", recipient=HR).text
    assert "no manager to go to" not in render(language="en").text


def test_escalation_tells_the_recipient_the_level_below_did_not_bring_improvement() -> None:
    email = render(language="en", kind="escalated")

    assert email.subject.startswith("[Hjo kommun] Escalated to the next management level")
    assert "have not improved enough since the management level below you was notified" in email.text


def test_resolved_notification_asks_for_nothing_and_only_links_the_case() -> None:
    email = render(language="en", kind="resolved")

    assert email.subject.startswith("[Hjo kommun] Recovered")
    assert "No action is needed" in email.text
    assert f"The case: {ACK_URL}" in email.text
    assert "Acknowledge" not in email.text


def test_html_escapes_every_interpolated_string() -> None:
    hostile = Recipient(email="x@kommun.example", name="<img src=x>", role="next_level", level=1)
    email = render(
        recipient=hostile,
        tenant_name='"Hjo" kommun',
        unit_name="<script>alert(1)</script>",
        dimension_name="Tillit & ansvar",
        explanation=Explanation(
            kind="resolved",
            rule="recovered",
            detection="pooled",
            periods=(PeriodFact("<b>65</b>", index=72.0, respondents=8),),
            threshold=65.0,
            below_tenant_by=10.0,
            sustained_periods=2,
            noise_z=1.0,
        ),
    )

    assert "<script>" not in email.html
    assert "<img" not in email.html
    assert "<b>65</b>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "Tillit &amp; ansvar" in email.html
    assert "&quot;Hjo&quot; kommun" in email.html
    assert "<script>alert(1)</script>" in email.text


def test_html_contains_only_the_tags_the_template_writes() -> None:
    email = render(unit_name="<a href='evil'>Norr</a>")

    tags = set(re.findall(r"</?([a-zA-Z0-9!]+)", email.html))

    assert tags <= {
        "!DOCTYPE",
        "html",
        "head",
        "meta",
        "title",
        "body",
        "p",
        "table",
        "tr",
        "th",
        "td",
        "h3",
        "a",
        "small",
        "ul",
        "li",
    }
    assert "evil" not in re.findall(r'href="([^"]*)"', email.html)


def test_subject_cannot_carry_a_line_break() -> None:
    email = render(unit_name="Norr\r\nBcc: everyone@example.com")

    assert "\n" not in email.subject
    assert "\r" not in email.subject


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://tempen.example/ack", "/alerts/a1/ack", "https://tempen.example/a b"]
)
def test_acknowledge_link_that_is_not_an_absolute_web_address_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="acknowledge_url"):
        render(acknowledge_url=url)
