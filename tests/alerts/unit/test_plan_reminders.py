"""Which plans are due a reminder, and when: the morning after the due date in the tenant's zone (or as many days
after as the tenant chose), once per due date, never for a plan done, never after the plan closed; and the
reminder's e-mail, which quotes the plan and says what to do. Every instant is fixed: none depends on today."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tempen_alerts.domain.messages import render_plan_reminder
from tempen_alerts.domain.plans import (
    OPEN_AFTER_RESOLUTION,
    REMINDER_TOO_LATE,
    Plan,
    PlanComment,
    PlanRevision,
    reminder_at,
    reminder_due,
)
from tempen_alerts.domain.routing import Recipient

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DUE = date(2026, 4, 30)
REVISION = PlanRevision(
    revision=2,
    what="Prata i APT om arbetsbelastningen",
    owner="Bo Ek",
    due=DUE,
    status="in_progress",
    written_by="bo@kommun.example",
    written_at=datetime(2026, 3, 20, 8, 0, tzinfo=UTC),
)
PLAN = Plan(revisions=(replace(REVISION, revision=1, status="planned"), REVISION))
# 07:00 on 1 May in Stockholm (summer time, UTC+2) is 05:00 UTC.
MORNING_AFTER = datetime(2026, 5, 1, 5, 0, tzinfo=UTC)


def due(plan: Plan = PLAN, *, now: datetime, **given: object) -> PlanRevision | None:
    asked: dict[str, object] = {
        "after_days": 1,
        "zone": STOCKHOLM,
        "is_active": True,
        "resolved_at": None,
        "reminded": frozenset(),
        **given,
    }
    return reminder_due(plan, now=now, **asked)  # type: ignore[arg-type]


def test_a_plan_not_done_is_due_a_reminder_from_seven_in_the_morning_after_its_due_date_in_the_tenant_s_zone() -> None:
    assert reminder_at(DUE, after_days=1, zone=STOCKHOLM) == MORNING_AFTER
    assert due(now=MORNING_AFTER - timedelta(seconds=1)) is None, "still the night after: not yet"
    assert due(now=datetime(2026, 4, 30, 21, 59, tzinfo=UTC)) is None, "the due date itself, in Stockholm"
    assert due(now=MORNING_AFTER) == REVISION
    assert due(now=MORNING_AFTER + timedelta(days=3)) == REVISION, "a sweeper that was down catches up"


def test_the_morning_is_the_tenant_s_in_winter_time_and_in_another_zone() -> None:
    winter = replace(REVISION, due=date(2026, 1, 15))
    plan = Plan(revisions=(winter,))
    assert due(plan, now=datetime(2026, 1, 16, 5, 59, tzinfo=UTC)) is None, "06:59 in Stockholm (UTC+1)"
    assert due(plan, now=datetime(2026, 1, 16, 6, 0, tzinfo=UTC)) == winter
    # The same instant is already past 07:00 on 16 January in Helsinki (UTC+2), and before it in London.
    assert due(plan, now=datetime(2026, 1, 16, 5, 0, tzinfo=UTC), zone=ZoneInfo("Europe/Helsinki")) == winter
    assert due(plan, now=datetime(2026, 1, 16, 5, 0, tzinfo=UTC), zone=ZoneInfo("Europe/London")) is None


def test_the_day_summer_time_begins_still_reminds_at_seven_local() -> None:
    # Clocks went forward at 02:00 on 29 March 2026 in Stockholm: 07:00 that day is 05:00 UTC, not 06:00.
    plan = Plan(revisions=(replace(REVISION, due=date(2026, 3, 28)),))
    assert reminder_at(date(2026, 3, 28), after_days=1, zone=STOCKHOLM) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    assert due(plan, now=datetime(2026, 3, 29, 4, 59, tzinfo=UTC)) is None
    assert due(plan, now=datetime(2026, 3, 29, 5, 0, tzinfo=UTC)) is not None


def test_the_tenant_chooses_how_many_days_after_or_turns_reminders_off() -> None:
    week_after = datetime(2026, 5, 7, 5, 0, tzinfo=UTC)
    assert due(now=week_after - timedelta(minutes=1), after_days=7) is None
    assert due(now=week_after, after_days=7) == REVISION
    assert due(now=week_after, after_days=None) is None


def test_one_reminder_per_due_date_and_a_revised_date_gets_its_own() -> None:
    assert due(now=MORNING_AFTER, reminded=frozenset({DUE})) is None
    later = replace(REVISION, revision=3, due=date(2026, 5, 31), written_at=datetime(2026, 5, 2, tzinfo=UTC))
    revised = Plan(revisions=(*PLAN.revisions, later))
    assert due(revised, now=datetime(2026, 5, 31, 12, 0, tzinfo=UTC), reminded=frozenset({DUE})) is None
    assert due(revised, now=datetime(2026, 6, 1, 5, 0, tzinfo=UTC), reminded=frozenset({DUE})) == later
    # Moved back to the date already reminded of: that date has had its reminder.
    back = replace(later, revision=4, due=DUE)
    assert due(Plan(revisions=(*revised.revisions, back)), now=MORNING_AFTER, reminded=frozenset({DUE})) is None


def test_no_reminder_for_a_plan_done_without_a_date_or_without_any_plan() -> None:
    assert (
        due(Plan(revisions=(*PLAN.revisions, replace(REVISION, revision=3, status="done"))), now=MORNING_AFTER) is None
    )
    assert due(Plan(revisions=(replace(REVISION, due=None),)), now=MORNING_AFTER) is None
    assert due(Plan(), now=MORNING_AFTER) is None


def test_a_resolved_alert_s_plan_is_reminded_of_while_it_still_takes_changes() -> None:
    resolved_at = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)
    assert due(now=MORNING_AFTER, is_active=False, resolved_at=resolved_at) == REVISION
    much_later = Plan(revisions=(replace(REVISION, due=date(2026, 10, 6)),))
    after_closing = resolved_at + OPEN_AFTER_RESOLUTION + timedelta(seconds=1)
    assert after_closing < reminder_at(date(2026, 10, 6), after_days=1, zone=STOCKHOLM) + REMINDER_TOO_LATE
    assert due(much_later, now=after_closing, is_active=False, resolved_at=resolved_at) is None


def test_a_date_long_past_is_not_reminded_of() -> None:
    assert due(now=MORNING_AFTER + REMINDER_TOO_LATE - timedelta(seconds=1)) == REVISION
    assert due(now=MORNING_AFTER + REMINDER_TOO_LATE) is None


KIM = Recipient(email="kim@kommun.example", name="Kim", role="next_level", level=2)
HR = Recipient(email="hr@kommun.example", name="HR", role="hr", level=3)
URL = "https://tempen.kommun.example/l/abc.def"
COMMENTED = Plan(
    revisions=PLAN.revisions,
    comments=(
        PlanComment(
            text="Första APT <hållen>.", written_by="bo@kommun.example", written_at=datetime(2026, 4, 2, tzinfo=UTC)
        ),
    ),
)


def reminder(plan: Plan = COMMENTED, recipient: Recipient = KIM, language: str = "sv") -> str:
    email = render_plan_reminder(
        language=language,  # type: ignore[arg-type]
        recipient=recipient,
        tenant_name="Hjo kommun",
        unit_name="Hemtjänst Norr",
        dimension_name="Tillit",
        plan=plan,
        url=URL,
    )
    assert "<hållen>" not in email.html
    assert "&lt;hållen&gt;" in email.html
    assert f'<a href="{URL}">' in email.html
    return email.subject + "\n" + email.text


def test_the_reminder_quotes_the_plan_and_says_what_to_do_in_swedish_and_english() -> None:
    swedish = reminder()
    assert swedish.startswith("[Hjo kommun] Påminnelse om handlingsplanen: Tillit i Hemtjänst Norr\nHej Kim,")
    assert "skulle vara klar senast 2026-04-30, och den står fortfarande som pågår." in swedish
    for line in (
        "  Vad som ska göras: Prata i APT om arbetsbelastningen",
        "  Ansvarig: Bo Ek",
        "  Klart senast: 2026-04-30",
        "  Läge: pågår",
        "  Senaste kommentar (2026-04-02, bo@kommun.example): Första APT <hållen>.",
        "  – markera planen som klar om arbetet är gjort,",
        f"Ärendet: {URL}",
        "Du får påminnelsen eftersom ärendet ligger hos dig nu. Vi påminner en gång per datum.",
    ):
        assert line in swedish.splitlines(), line
    english = reminder(language="en", recipient=HR)
    assert english.startswith("[Hjo kommun] Action plan reminder: Tillit in Hemtjänst Norr")
    assert "was due by 2026-04-30, and it still says in progress." in english
    assert "You get this reminder as HR because the case sits with HR now." in english


def test_a_reminder_needs_a_plan_with_a_due_date_and_an_absolute_link() -> None:
    with pytest.raises(ValueError, match="due date"):
        reminder(Plan(revisions=(replace(REVISION, due=None),)))
    with pytest.raises(ValueError, match="absolute"):
        render_plan_reminder(
            language="sv", recipient=KIM, tenant_name="H", unit_name="U", dimension_name="D", plan=PLAN, url="/l/x"
        )
