"""An alert's action plan as pure rules: what will be done, who owns it, by when, and how far it has come.

A plan is never edited in place. Every change is a new revision with who made it and when, and follow-up
comments are appended beside it, so a manager one level up reads the whole story of what was promised
before deciding what to do (docs/alerts.md, "Action plans").
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Literal, get_args

from tempen_shared.bounds import check_identifier, check_text

PlanStatus = Literal["planned", "in_progress", "done"]
PLAN_STATUSES: tuple[PlanStatus, ...] = get_args(PlanStatus)

WHAT_MIN, WHAT_MAX = 3, 5000  # as the acknowledgement's action_plan always was
OWNER_MAX = 200
COMMENT_MIN, COMMENT_MAX = 2, 2000
# A due date is a promise about this case: not before it opened, and not so far ahead that it promises nothing.
DUE_AHEAD = timedelta(days=2 * 366)
# A plan outlives the alert: results recover while the work goes on, and the work is then marked done and
# followed up. For this long after an alert resolved its plan still takes revisions and comments.
OPEN_AFTER_RESOLUTION = timedelta(days=180)
# A reminder that a due date has passed goes out in the morning, in the tenant's zone, when people read mail.
REMINDER_TIME = time(7, 0)
# A reminder this late helps nobody: turning reminders on, or a sweeper back after a long outage, does not
# send one for every plan whose date passed long ago.
REMINDER_TOO_LATE = timedelta(days=30)


class PlanError(ValueError):
    """A plan change refused: `field` names the input, `reason` what to do about it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class PlanClosedError(Exception):
    """The alert resolved longer ago than `OPEN_AFTER_RESOLUTION`: its plan is part of the record now."""

    def __init__(self, resolved_at: datetime) -> None:
        super().__init__(f"the alert resolved on {resolved_at.date().isoformat()}")
        self.resolved_at = resolved_at


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRevision:
    revision: int  # 1, 2, ...: the order they were written in
    what: str
    owner: str
    due: date | None  # None only for a plan taken from an acknowledgement without a follow-up date
    status: PlanStatus
    written_by: str
    written_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanComment:
    text: str
    written_by: str
    written_at: datetime


@dataclass(frozen=True, slots=True)
class Plan:
    """An alert's plan: its revisions and comments, oldest first. Empty when nobody has written one."""

    revisions: tuple[PlanRevision, ...] = ()
    comments: tuple[PlanComment, ...] = ()

    @property
    def current(self) -> PlanRevision | None:
        return self.revisions[-1] if self.revisions else None

    @property
    def latest_comment(self) -> PlanComment | None:
        return self.comments[-1] if self.comments else None


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanChange:
    """What a person asks to change; None leaves that part as the current revision has it."""

    what: str | None = None
    owner: str | None = None
    due: date | None = None
    status: PlanStatus | None = None


def may_change(*, is_active: bool, resolved_at: datetime | None, now: datetime) -> None:
    """Whether an alert's plan takes changes now: while the alert is active, and for `OPEN_AFTER_RESOLUTION`
    after it resolved.

    Raises:
        PlanClosedError: it resolved longer ago than that.
    """
    if is_active or resolved_at is None:
        return
    if now - resolved_at > OPEN_AFTER_RESOLUTION:
        raise PlanClosedError(resolved_at)


def takes_changes(*, is_active: bool, resolved_at: datetime | None, now: datetime) -> bool:
    """`may_change` as a question."""
    try:
        may_change(is_active=is_active, resolved_at=resolved_at, now=now)
    except PlanClosedError:
        return False
    return True


def reminder_at(due: date, *, after_days: int, zone: tzinfo) -> datetime:
    """When a plan due on `due` is reminded of: at `REMINDER_TIME` on the day `after_days` after it, in `zone`
    (the tenant's). A due date is the last day the work may take, so 1 is the morning after it."""
    return datetime.combine(due + timedelta(days=after_days), REMINDER_TIME, tzinfo=zone)


def reminder_due(
    plan: Plan,
    *,
    after_days: int | None,
    zone: tzinfo,
    now: datetime,
    is_active: bool,
    resolved_at: datetime | None,
    reminded: Collection[date],
) -> PlanRevision | None:
    """The revision to remind about at `now`, once per due date: the plan's current one, when it is not done,
    has a due date whose reminder time (`reminder_at`) has come and is not `REMINDER_TOO_LATE` past, and that
    due date is not among those already `reminded` of. A revised due date is a new one and gets its own.

    None also when reminders are off (`after_days` None) or the plan no longer takes changes (`may_change`):
    every reminder asks for something the plan still lets people do.
    """
    current = plan.current
    if after_days is None or current is None or current.status == "done" or current.due is None:
        return None
    if current.due in reminded or not takes_changes(is_active=is_active, resolved_at=resolved_at, now=now):
        return None
    at = reminder_at(current.due, after_days=after_days, zone=zone)
    return current if at <= now < at + REMINDER_TOO_LATE else None


def revise(
    current: PlanRevision | None, change: PlanChange, *, by: str, now: datetime, opened_on: date, today: date
) -> PlanRevision | None:
    """The next revision of a plan: `change` over `current` (the first revision needs what, owner and due
    date). None when it would say exactly what `current` says: a form sent twice adds nothing.

    `opened_on` is the day the alert opened and `today` the day in the tenant's zone: the due date lies
    between the first and `DUE_AHEAD` after the second, unless it is the current one kept as it was.

    Raises:
        PlanError: a part is missing, empty, too long, holds control characters, or the date is out of range.
    """
    what = _text("what", change.what, WHAT_MIN, WHAT_MAX) if change.what is not None else None
    owner = _owner(change.owner) if change.owner is not None else None
    if change.due is not None and (current is None or change.due != current.due):
        check_due(change.due, opened_on=opened_on, today=today, field="due_date")
    if current is None:
        needed = "a new plan needs what will be done, who owns it and a due date"
        if what is None:
            raise PlanError("what", needed)
        if owner is None:
            raise PlanError("owner", needed)
        if change.due is None:
            raise PlanError("due_date", needed)
        return PlanRevision(
            revision=1,
            what=what,
            owner=owner,
            due=change.due,
            status=change.status or "planned",
            written_by=by,
            written_at=now,
        )
    proposed = replace(
        current,
        what=what if what is not None else current.what,
        owner=owner if owner is not None else current.owner,
        due=change.due if change.due is not None else current.due,
        status=change.status or current.status,
    )
    if proposed == current:
        return None
    return replace(proposed, revision=current.revision + 1, written_by=by, written_at=now)


def from_acknowledgement(
    current: PlanRevision | None,
    *,
    action_plan: str,
    follow_up: date | None,
    by: str,
    now: datetime,
    opened_on: date,
    today: date,
) -> PlanRevision | None:
    """The plan revision an acknowledgement makes: its text is what will be done and its follow-up date
    the due date. A first plan is owned by whoever acknowledged and is planned; a plan already written
    keeps its owner and status (and its due date when no follow-up date is given). None when it repeats
    the current revision.

    Raises:
        PlanError: as `revise`, naming the acknowledgement's own fields (action_plan, follow_up_date).
    """
    try:
        if current is None:
            if follow_up is not None:
                check_due(follow_up, opened_on=opened_on, today=today, field="due_date")
            what = _text("what", action_plan, WHAT_MIN, WHAT_MAX)
            return PlanRevision(
                revision=1,
                what=what,
                owner=_owner(by),
                due=follow_up,
                status="planned",
                written_by=by,
                written_at=now,
            )
        return revise(
            current, PlanChange(what=action_plan, due=follow_up), by=by, now=now, opened_on=opened_on, today=today
        )
    except PlanError as exc:
        raise PlanError(
            {"what": "action_plan", "due_date": "follow_up_date"}.get(exc.field, exc.field), exc.reason
        ) from None


def comment(text: str, *, by: str, now: datetime) -> PlanComment:
    """A follow-up comment on a plan.

    Raises:
        PlanError: empty, too long, or holding control characters.
    """
    return PlanComment(text=_text("text", text, COMMENT_MIN, COMMENT_MAX), written_by=by, written_at=now)


def check_due(due: date, *, opened_on: date, today: date, field: str) -> None:
    """
    Raises:
        PlanError: `due` lies before `opened_on` or more than `DUE_AHEAD` after `today`.
    """
    latest = today + DUE_AHEAD
    if not opened_on <= due <= latest:
        raise PlanError(
            field,
            f"give a date from {opened_on.isoformat()} (the day the alert opened) to {latest.isoformat()}",
        )


def _text(field: str, value: str, least: int, most: int) -> str:
    shown = value.strip()
    if not least <= len(shown) <= most:
        raise PlanError(field, f"write {least} to {most} characters (got {len(shown)})")
    try:
        return check_text(shown)
    except ValueError as exc:
        raise PlanError(field, str(exc)) from None


def _owner(value: str) -> str:
    try:
        check_identifier(value)  # a line break in a name is refused, not joined: it would read as a header
    except ValueError as exc:
        raise PlanError("owner", f"{exc}: write the name on one line") from None
    shown = " ".join(value.split())
    if not 1 <= len(shown) <= OWNER_MAX:
        raise PlanError("owner", f"name the person who owns the plan, in 1 to {OWNER_MAX} characters")
    return shown
