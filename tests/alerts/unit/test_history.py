"""Quiet history as pure rules: which transitions are about the past, and what the e-mails about them say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tempen_alerts.domain.history import TimelineEntry, quiet_reason
from tempen_alerts.domain.messages import Language, OpenCase, render_history_summary, render_notification
from tempen_alerts.domain.routing import Recipient, RecipientRole
from tempen_alerts.domain.rules import evaluate_history
from tempen_shared.tenancy.models import AlertPolicy, Notifications
from tests.alerts.unit.factories import months

DEFAULT_DAYS = Notifications().quiet_history_days
STOCKHOLM = ZoneInfo("Europe/Stockholm")
SEPTEMBER_END = datetime(2026, 10, 1, tzinfo=STOCKHOLM)  # as the tenant's periods end: midnight in its zone
SEPTEMBER_END_UTC = SEPTEMBER_END.astimezone(UTC)  # as PostgreSQL gives it: 30 September, 22:00


def _quiet(
    *,
    now: datetime,
    period_end: datetime = SEPTEMBER_END_UTC,
    rule: str = "no_improvement",
    days: int | None = 45,
    policy: AlertPolicy | None = None,
) -> str | None:
    return quiet_reason(
        rule=rule,
        period="2026-09",
        period_end=period_end,
        policy=policy or AlertPolicy(),
        quiet_history_days=days,
        now=now,
        zone=STOCKHOLM,
    )


def test_a_transition_about_a_period_that_closed_more_than_the_limit_ago_is_history_and_says_so() -> None:
    assert _quiet(now=SEPTEMBER_END_UTC + timedelta(days=45)) is None, "exactly 45 days is not more than 45"
    reason = _quiet(now=SEPTEMBER_END_UTC + timedelta(days=45, seconds=1))
    assert reason is not None
    assert reason.startswith("history: 2026-09 closed on 2026-10-01, 45 day(s) before this judgement")
    assert "more than 45 day(s) ago" in reason
    assert "notifications.quiet_history_days" in reason


def test_a_period_closes_after_its_grace_hours_so_history_counts_from_then() -> None:
    late = AlertPolicy(period_grace_hours=72)
    now = SEPTEMBER_END_UTC + timedelta(days=47)
    assert _quiet(now=now, policy=late) is None, "closed on 4 October: 44 days"
    assert _quiet(now=now) is not None


def test_escalation_because_nobody_acknowledged_is_about_now_however_old_the_latest_period() -> None:
    assert _quiet(now=SEPTEMBER_END_UTC + timedelta(days=400), rule="unacknowledged") is None


def test_without_a_limit_nothing_is_history() -> None:
    assert _quiet(now=SEPTEMBER_END_UTC + timedelta(days=4000), days=None) is None


def test_the_default_keeps_a_monthly_pulse_live_and_makes_the_issues_backfill_history() -> None:
    assert DEFAULT_DAYS == 45
    # Last month re-judged (a late correction) just before the next month closes: 31 days.
    assert _quiet(now=SEPTEMBER_END_UTC + timedelta(days=31), days=DEFAULT_DAYS) is None
    # Issue 16: May to September imported in December.
    assert _quiet(now=datetime(2026, 12, 7, tzinfo=UTC), days=DEFAULT_DAYS) is not None


def test_every_transition_judged_as_its_period_closes_notifies_and_the_same_judged_months_later_does_not() -> None:
    # Opens on the second low month, escalates two months later, resolves: a year of live operation.
    history = months(70, 40, 41, 42, 41, 43, 80, 75, 76, 74, 75, 76, standard_error=2.0)
    transitions = evaluate_history(history, AlertPolicy(), levels_available=3)
    assert [type(t.decision).__name__ for t in transitions] == ["OpenAlert", "Escalate", "Resolve"]
    ends = {score.period: score.period_end for score in history}
    backfilled_at = history[-1].period_end + timedelta(days=60)
    for transition in transitions:
        rule, end = transition.decision.rule, ends[transition.period]
        assert _quiet(now=transition.judged_at, rule=rule, period_end=end, days=DEFAULT_DAYS) is None, transition
        assert _quiet(now=backfilled_at, rule=rule, period_end=end, days=DEFAULT_DAYS) is not None, transition


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _quiet(now=datetime(2026, 12, 7))  # noqa: DTZ001 - the point of the test


def _found(language: Language, role: RecipientRole = "next_level") -> tuple[str, str, str]:
    email = render_notification(
        language=language,
        kind="found_in_history",
        recipient=Recipient(email="kim@kommun.example", name="Kim", role=role, level=2),
        tenant_name="Testkommun",
        unit_name="Grupp <A1>",
        dimension_name="Ledarskap",
        history=months(40, 41, 42, 41, standard_error=2.0),
        threshold=65.0,
        explanation=None,
        acknowledge_url="https://alerts.test/v1/tenants/t/alerts/a",
        level=2,
        timeline=(TimelineEntry("2026-02", "open", 1), TimelineEntry("2026-04", "escalated", 2)),
    )
    return email.subject, email.text, email.html


def test_an_alert_found_in_history_tells_its_level_with_the_history_summarised() -> None:
    subject, text, page = _found("sv")
    assert subject == "[Testkommun] Öppet ärende i importerade resultat: Ledarskap i Grupp <A1>"
    assert "har det nått nivå 2, som är du" in text
    assert "Ärendets historik:\n  2026-02: öppnat på nivå 1\n  2026-04: eskalerat till nivå 2\n" in text
    assert "Kvittera när ni har pratat" in text
    assert "<li>2026-04: eskalerat till nivå 2</li>" in page
    assert "Grupp &lt;A1&gt;" in page
    assert "<A1>" not in page

    subject, text, _ = _found("en", role="unit_manager")
    assert subject == "[Testkommun] For your information – Open case found in imported results: Ledarskap in Grupp <A1>"
    assert "the manager at level 2 has been asked to talk with you" in text
    assert "  2026-02: opened at level 1\n" in text


def _case(unit: str, *, from_history: bool, url: str = "https://alerts.test/v1/tenants/t/alerts/a") -> OpenCase:
    return OpenCase(
        unit_name=unit,
        dimension_name="Ledarskap",
        state="escalated",
        level=2,
        sits_with="Kim",
        opened_period="2026-02",
        from_history=from_history,
        url=url,
    )


def test_hrs_summary_lists_what_is_open_now_and_counts_what_opened_and_closed_in_the_history() -> None:
    email = render_history_summary(
        language="sv",
        tenant_name="Testkommun",
        transitions=7,
        quiet_days=45,
        closed_in_history=2,
        open_now=[_case("Grupp A1", from_history=True), _case("Grupp <B1>", from_history=False)],
        unit_managers_informed=True,
    )
    assert email.subject == "[Testkommun] Importerade resultat: 2 öppna ärenden"
    assert "gav 7 övergångar" in email.text
    assert "mer än 45 dagar sedan" in email.text
    assert "  Grupp A1 – Ledarskap: eskalerat, nivå 2 (Kim), öppnat 2026-02 [från importen] https://" in email.text
    assert "  Grupp <B1> – Ledarskap: eskalerat, nivå 2 (Kim), öppnat 2026-02 https://" in email.text
    assert "Enhetens chef har fått en kopia" in email.text
    assert "2 ärenden öppnades och avslutades" in email.text
    assert "Grupp &lt;B1&gt;" in email.html
    assert "<B1>" not in email.html


def test_hrs_summary_with_nothing_open_says_so_in_the_singular_where_it_should() -> None:
    email = render_history_summary(
        language="en",
        tenant_name="Testkommun",
        transitions=1,
        quiet_days=45,
        closed_in_history=1,
        open_now=[],
        unit_managers_informed=False,
    )
    assert email.subject == "[Testkommun] Imported results: 0 open cases"
    assert "Judging them made 1 transition (" in email.text
    assert "Open cases now:\n  none\n" in email.text
    assert "1 case opened and closed within the imported history; nobody was notified of it." in email.text
    assert "copy" not in email.text


def test_hrs_summary_refuses_a_link_that_is_not_an_absolute_http_address() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        render_history_summary(
            language="sv",
            tenant_name="T",
            transitions=1,
            quiet_days=45,
            closed_in_history=0,
            open_now=[_case("Grupp A1", from_history=True, url="javascript:alert(1)")],
            unit_managers_informed=True,
        )
