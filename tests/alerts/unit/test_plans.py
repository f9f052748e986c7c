"""An alert's action plan: the first revision, later revisions, what they refuse, and how long a plan stays open."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tempen_alerts.domain.plans import (
    OPEN_AFTER_RESOLUTION,
    PlanChange,
    PlanClosedError,
    PlanError,
    PlanRevision,
    comment,
    from_acknowledgement,
    may_change,
    revise,
)

NOW = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)
OPENED_ON = date(2026, 3, 2)
TODAY = date(2026, 3, 5)
BO = "bo@kommun.example"


def first(**change: object) -> PlanRevision:
    base: dict[str, object] = {"what": "Prata i APT om arbetsbelastningen", "owner": "Bo", "due": date(2026, 5, 1)}
    made = revise(None, PlanChange(**{**base, **change}), by=BO, now=NOW, opened_on=OPENED_ON, today=TODAY)  # type: ignore[arg-type]
    assert made is not None
    return made


def test_a_first_plan_is_revision_one_planned_and_written_by_the_person_who_wrote_it() -> None:
    plan = first(what="  Prata i APT om arbetsbelastningen \n")

    assert plan == PlanRevision(
        revision=1,
        what="Prata i APT om arbetsbelastningen",
        owner="Bo",
        due=date(2026, 5, 1),
        status="planned",
        written_by=BO,
        written_at=NOW,
    )


@pytest.mark.parametrize(("missing", "field"), [("what", "what"), ("owner", "owner"), ("due", "due_date")])
def test_a_first_plan_needs_what_owner_and_due_date_and_the_refusal_names_the_part(missing: str, field: str) -> None:
    change = {"what": "Prata i APT", "owner": "Bo", "due": date(2026, 5, 1), missing: None}
    with pytest.raises(PlanError) as refused:
        revise(None, PlanChange(**change), by=BO, now=NOW, opened_on=OPENED_ON, today=TODAY)  # type: ignore[arg-type]
    assert refused.value.field == field
    assert "a new plan needs what will be done, who owns it and a due date" in refused.value.reason


def test_a_revision_changes_what_it_names_keeps_the_rest_and_counts_up() -> None:
    later = NOW + timedelta(days=20)
    revised = revise(
        first(), PlanChange(status="in_progress"), by="kim@kommun.example", now=later, opened_on=OPENED_ON, today=TODAY
    )

    assert revised is not None
    assert (revised.revision, revised.status, revised.what, revised.owner, revised.due) == (
        2,
        "in_progress",
        "Prata i APT om arbetsbelastningen",
        "Bo",
        date(2026, 5, 1),
    )
    assert (revised.written_by, revised.written_at) == ("kim@kommun.example", later)


def test_a_revision_that_repeats_the_current_one_adds_nothing() -> None:
    current = first()
    same = PlanChange(what=current.what, owner=current.owner, due=current.due, status=current.status)
    assert revise(current, same, by="kim@kommun.example", now=NOW, opened_on=OPENED_ON, today=TODAY) is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (PlanChange(what="ok"), "what"),
        (PlanChange(what="x" * 5001), "what"),
        (PlanChange(what="Prata\x00 om det"), "what"),
        (PlanChange(owner="   "), "owner"),
        (PlanChange(owner="B" * 201), "owner"),
        (PlanChange(owner="Bo\nBcc: x@y"), "owner"),
        (PlanChange(due=date(2026, 3, 1)), "due_date"),  # before the alert opened
        (PlanChange(due=date(2028, 3, 12)), "due_date"),  # more than two years ahead
    ],
)
def test_a_revision_out_of_bounds_is_refused_naming_the_field(change: PlanChange, field: str) -> None:
    with pytest.raises(PlanError) as refused:
        revise(first(), change, by=BO, now=NOW, opened_on=OPENED_ON, today=TODAY)
    assert refused.value.field == field


def test_the_due_date_bounds_are_inclusive_and_a_kept_due_date_is_not_checked_again() -> None:
    assert first(due=OPENED_ON).due == OPENED_ON
    assert first(due=date(2028, 3, 5)).due == date(2028, 3, 5)
    # Months on, the plan's due date lies in the past: changing only the status keeps it as it was.
    months_later = date(2026, 9, 1)
    kept = revise(first(), PlanChange(status="done"), by=BO, now=NOW, opened_on=OPENED_ON, today=months_later)
    assert kept is not None
    assert kept.due == date(2026, 5, 1)


def test_an_acknowledgement_without_a_plan_becomes_the_first_revision_owned_by_whoever_acknowledged() -> None:
    made = from_acknowledgement(
        None, action_plan="Vi pratar i APT.", follow_up=None, by=BO, now=NOW, opened_on=OPENED_ON, today=TODAY
    )
    assert made is not None
    assert (made.revision, made.what, made.owner, made.due, made.status) == (1, "Vi pratar i APT.", BO, None, "planned")


def test_an_acknowledgement_of_a_written_plan_revises_what_and_due_date_and_keeps_owner_and_status() -> None:
    current = revise(first(), PlanChange(status="in_progress"), by=BO, now=NOW, opened_on=OPENED_ON, today=TODAY)
    made = from_acknowledgement(
        current,
        action_plan="Ny chef för gruppen tar över samtalen.",
        follow_up=date(2026, 6, 1),
        by="kim@kommun.example",
        now=NOW,
        opened_on=OPENED_ON,
        today=TODAY,
    )
    assert made is not None
    assert (made.revision, made.owner, made.status, made.due) == (3, "Bo", "in_progress", date(2026, 6, 1))


@pytest.mark.parametrize(
    ("action_plan", "follow_up", "field"),
    [("ok", None, "action_plan"), ("Vi pratar i APT.", date(2020, 1, 1), "follow_up_date")],
)
def test_an_acknowledgement_refused_by_the_plan_names_the_acknowledgement_s_own_field(
    action_plan: str, follow_up: date | None, field: str
) -> None:
    with pytest.raises(PlanError) as refused:
        from_acknowledgement(
            None, action_plan=action_plan, follow_up=follow_up, by=BO, now=NOW, opened_on=OPENED_ON, today=TODAY
        )
    assert refused.value.field == field


def test_a_comment_is_trimmed_and_bounded() -> None:
    assert comment("  Första samtalet hållet.  ", by=BO, now=NOW).text == "Första samtalet hållet."
    for bad in ("", " x ", "y" * 2001, "bell\x07"):
        with pytest.raises(PlanError) as refused:
            comment(bad, by=BO, now=NOW)
        assert refused.value.field == "text"


def test_a_plan_takes_changes_while_the_alert_is_active_and_for_a_while_after_it_resolved() -> None:
    may_change(is_active=True, resolved_at=None, now=NOW)
    resolved = NOW - OPEN_AFTER_RESOLUTION
    may_change(is_active=False, resolved_at=resolved, now=NOW)
    with pytest.raises(PlanClosedError) as closed:
        may_change(is_active=False, resolved_at=resolved - timedelta(seconds=1), now=NOW)
    assert closed.value.resolved_at == resolved - timedelta(seconds=1)
