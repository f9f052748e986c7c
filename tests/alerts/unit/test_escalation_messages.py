"""The e-mails of an escalation past the top (to HR) and the note to the level an alert moved past."""

import pytest

from tempen_alerts.domain.explain import Explanation, describe, explain
from tempen_alerts.domain.messages import Email, Language, render_moved_on, render_notification
from tempen_alerts.domain.routing import Recipient
from tempen_alerts.domain.rules import Escalate, acknowledge, apply_decision, decide
from tempen_shared.tenancy.models import AlertPolicy
from tests.alerts.unit.factories import months

HR = Recipient(email="hr@kommun.example", name="HR", role="hr", level=3)
UNIT_MANAGER = Recipient(email="ulla@kommun.example", name="Ulla", role="unit_manager", level=0)
SVEN_BEFORE = Recipient(email="sven@kommun.example", name="Sven", role="previous_level", level=1)
URL = "https://tempen.kommun.example/alerts/a1"


def escalation() -> Explanation:
    """An escalation for want of improvement, explained as the service stores it."""
    policy = AlertPolicy()
    history = months(58.0, 60.0, 61.0, 61.0, standard_error=3.0)
    opened = decide(history[:2], None, policy, now=history[1].period_end, levels_available=3)
    alert = apply_decision(None, opened, now=history[1].period_end)
    assert alert is not None
    alert = acknowledge(alert, now=history[1].period_end)
    decision = decide(history, alert, policy, now=history[-1].period_end, levels_available=3)
    assert isinstance(decision, Escalate)
    return explain(decision, policy, alert=alert, history=history, now=history[-1].period_end)


EXPLANATION = escalation()


def to_hr(recipient: Recipient, language: Language = "sv") -> Email:
    return render_notification(
        language=language,
        kind="escalated_to_hr",
        recipient=recipient,
        tenant_name="Hjo kommun",
        unit_name="Hemtjänst Norr",
        dimension_name="Tillit",
        history=months(58.0, 60.0, 61.0),
        threshold=65,
        explanation=EXPLANATION,
        acknowledge_url=URL,
        level=3,
    )


def moved_on(*, language: Language = "sv", to_hr: bool = False, rule: str = "no_improvement", url: str = URL) -> Email:
    return render_moved_on(
        language=language,
        recipient=SVEN_BEFORE,
        tenant_name="Hjo <kommun>",
        unit_name="Hemtjänst Norr",
        dimension_name="Tillit",
        to_level=2,
        to_name="Dagny",
        to_hr=to_hr,
        rule=rule,
        explanation=EXPLANATION,
        url=url,
    )


def test_hr_is_told_the_alert_came_past_the_highest_management_level() -> None:
    email = to_hr(HR)

    assert email.subject == "[Hjo kommun] Lämnat över till HR: Tillit i Hemtjänst Norr"
    assert "Det finns ingen högre chefsnivå att gå vidare till, så ärendet lämnas nu över till HR." in email.text
    assert "inte finns någon chef att gå vidare till ovanför enhetens chef" not in email.text  # the other HR note
    assert "\n".join(describe(EXPLANATION, "sv")) in email.text
    assert "no improvement" not in email.text, "the English rule text stays in the audit trail"


def test_hr_is_told_in_english_too() -> None:
    email = to_hr(HR, "en")

    assert email.subject == "[Hjo kommun] Handed over to HR: Tillit in Hemtjänst Norr"
    assert "so the case is now handed over to HR" in email.text


def test_the_unit_manager_is_informed_that_the_case_went_to_hr() -> None:
    email = to_hr(UNIT_MANAGER)

    assert email.subject.startswith("[Hjo kommun] För kännedom – Lämnat över till HR")
    assert "har ärendet lämnats över till HR" in email.text


def test_the_level_moved_past_is_told_where_it_went_and_why() -> None:
    email = moved_on()

    assert email.subject == "[Hjo <kommun>] För kännedom – Gått vidare: Tillit i Hemtjänst Norr"
    assert email.text.startswith("Hej Sven,\n")
    assert (
        "Ärendet om Tillit i Hemtjänst Norr, som du fick på nivå 1, har gått vidare till nästa chefsnivå, Dagny "
        "(nivå 2), eftersom resultatet inte har förbättrats tillräckligt." in email.text
    )
    assert "Du behöver inte göra något mer." in email.text
    assert "Vad vi såg och hur säkra vi är\n" + "\n".join(describe(EXPLANATION, "sv")) in email.text
    assert "no improvement" not in email.text
    assert f"Ärendet: {URL}" in email.text
    assert "Hjo &lt;kommun&gt;" in email.html
    assert "Hjo <kommun>" not in email.html


def test_the_level_moved_past_hears_when_it_went_to_hr_because_nobody_acknowledged() -> None:
    email = moved_on(language="en", to_hr=True, rule="unacknowledged")

    assert (
        "has moved on to HR, since there is no higher management level, because nobody acknowledged the case in time."
        in email.text
    )
    assert "Dagny" not in email.text


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/relative", "https://x.example/a b"])
def test_the_note_refuses_a_link_that_is_not_an_absolute_web_address(url: str) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        moved_on(url=url)
