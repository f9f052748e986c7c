"""Quiet history: which transitions are about the past (a backfill) and notify nobody, and when a backfill
has ended so that what is still open can be told once. docs/alerts.md, "Importing history quietly"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from tempen_alerts.domain.rules import closes_at
from tempen_shared.events.alerts import AlertState
from tempen_shared.tenancy.models import AlertPolicy

# Rules that fire because time passed, not because a period closed: they are about now, never history.
TIME_BASED_RULES = frozenset({"unacknowledged"})
# An alert opened in quiet history that resolves on a recent period: telling people it recovered, when they
# never heard it opened, would only confuse; HR's summary counts it.
UNTOLD_RESOLVED = (
    "history: nobody was told of this alert (its history was imported quietly), so nobody is told it resolved"
)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One transition of an alert as a history summary shows it: no reason, no evidence, no names."""

    period: str
    to_state: AlertState
    level: int


def quiet_reason(
    *,
    rule: str,
    period: str,
    period_end: datetime,
    policy: AlertPolicy,
    quiet_history_days: int | None,
    now: datetime,
    zone: tzinfo,
) -> str | None:
    """Why a transition decided at `now` notifies nobody; None when it notifies as usual.

    A transition is history when the period it was decided on (the newest closed period the judgement
    read, `period`/`period_end`) closed more than `quiet_history_days` days before `now`. A period closes
    at its end plus the policy's grace hours, the instant the rules first judge it, so a period judged as
    it closes is never history; a judgement made months later about it only happens when its scores
    arrive months late, as in a backfill. A transition made because time passed (nobody acknowledged) is
    about now and always notifies. `quiet_history_days` None: nothing is history. The reason gives the day
    the period closed in `zone`, the tenant's.

    Raises:
        ValueError: `period_end` or `now` is not timezone-aware.
    """
    if period_end.utcoffset() is None or now.utcoffset() is None:
        raise ValueError("period_end and now must be timezone-aware")
    if quiet_history_days is None or rule in TIME_BASED_RULES:
        return None
    closed_at = closes_at(policy, period_end)
    age = now - closed_at
    if age <= timedelta(days=quiet_history_days):
        return None
    return (
        f"history: {period} closed on {closed_at.astimezone(zone).date().isoformat()}, {age.days} day(s) before "
        "this judgement; "
        f"transitions about periods that closed more than {quiet_history_days} day(s) ago notify nobody "
        "(notifications.quiet_history_days)"
    )
