"""Alerts' store in memory: `AlertsStore` (with the `AlertsRepository` its transactions yield), `AlertReader`,
`PeriodScoreReader` and `LinkStore`, the fakes the contract suite holds to the same behaviour as PostgreSQL
(tests/alerts/contract). It keeps the tables the adapter keeps, as plain rows, and refuses what the schema's
keys and checks refuse with the error asyncpg raises for it, so a use case tested on it fails as it would on
the real store. A transaction works on a copy of everything and one runs at a time: a rollback leaves
nothing, and a commit is seen whole. Times the database sets itself (`created_at`) come from the wall clock
at the start of the transaction, as PostgreSQL's now() does; every other time is the caller's."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID, uuid4

import asyncpg

from tempen_alerts.domain.backtest import History, SeriesId
from tempen_alerts.domain.history import TimelineEntry
from tempen_alerts.domain.plans import Plan, PlanComment, PlanRevision
from tempen_alerts.domain.rules import AlertSnapshot, PeriodScore
from tempen_alerts.ports import (
    HR_SUMMARY_ROLE,
    ActiveAlert,
    HistoryImport,
    LinkRevocation,
    NotificationRow,
    PlanReminder,
    QuietTail,
    SeriesKey,
    StoredAlert,
)
from tempen_shared import correlation
from tempen_shared.clock import utc_now
from tempen_shared.db import StoreUnavailableError
from tempen_shared.events import AlertState, UnitScored
from tempen_shared.events.wire import UnitScoredRecord
from tempen_shared.outbox import OutboxMessage
from tempen_shared.positions import Claim, Partition, Position
from tempen_shared.tenancy.loader import Tenant
from tests.fake_positions import InMemoryPositions

STATES = ("open", "acknowledged", "escalated", "resolved")
PLAN_STATUSES = ("planned", "in_progress", "done")
WEBHOOK_CHANNEL = "webhook"


def _order(key: SeriesKey) -> tuple[str, str, str, str, str]:
    return (key.tenant, key.unit, key.instrument, key.model, key.dimension)


def _greatest(a: datetime | None, b: datetime | None) -> datetime | None:
    """PostgreSQL's greatest(): NULLs are left out."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


@dataclass
class _Score:
    period_start: datetime
    period_end: datetime
    figures: PeriodScore
    sequence: int


@dataclass
class _Series:
    judged_through: datetime | None = None
    rejudge: bool = True


@dataclass
class _Alert:
    alert_id: str
    key: SeriesKey
    snapshot: AlertSnapshot
    resolved_at: datetime | None
    action_plan: str | None
    follow_up_date: date | None
    updated_at: datetime

    def row(self) -> dict[str, Any]:
        s = self.snapshot
        return {
            "alert_id": self.alert_id,
            "tenant": self.key.tenant,
            "unit": self.key.unit,
            "instrument": self.key.instrument,
            "model": self.key.model,
            "dimension": self.key.dimension,
            "state": s.state,
            "level": s.level,
            "opened_period": s.opened_period,
            "opened_at": s.opened_at,
            "baseline_period": s.baseline_period,
            "baseline_index": s.baseline_index,
            "acknowledged_at": s.acknowledged_at,
            "last_escalated_at": s.last_escalated_at,
            "resolved_at": self.resolved_at,
            "action_plan": self.action_plan,
            "follow_up_date": self.follow_up_date,
            "updated_at": self.updated_at,
        }


@dataclass
class _Transition:
    transition_id: UUID
    alert_id: str
    tenant: str
    from_state: str | None
    to_state: str
    level: int
    rule: str
    reason: str
    period: str
    actor: str
    evidence: list[dict[str, Any]]
    correlation_id: str | None
    quiet_reason: str | None
    history_import: UUID | None
    explanation: dict[str, Any] | None
    created_at: datetime

    @property
    def notified(self) -> bool:
        return self.quiet_reason is None


@dataclass
class _Import:
    tenant: str
    started_at: datetime
    last_quiet_at: datetime
    quiet_transitions: int
    summarised_at: datetime | None = None
    summarised_alerts: tuple[str, ...] = ()


@dataclass
class _Notification:
    row: NotificationRow
    alert_id: str
    tenant: str
    transition_id: UUID | None
    reminder_id: UUID | None
    created_at: datetime
    state: str = "pending"
    sent_at: datetime | None = None

    @property
    def has_link(self) -> bool:
        return self.row.channel != WEBHOOK_CHANNEL and self.row.recipient_role != HR_SUMMARY_ROLE


@dataclass
class _Revocation:
    tenant: str
    revocation: LinkRevocation


@dataclass
class Tables:
    """What the adapter's tables hold, one attribute per table."""

    period_scores: dict[tuple[SeriesKey, str], _Score] = field(default_factory=dict)
    series: dict[SeriesKey, _Series] = field(default_factory=dict)
    alerts: dict[str, _Alert] = field(default_factory=dict)
    transitions: list[_Transition] = field(default_factory=list)  # in `seq` order
    history_imports: dict[UUID, _Import] = field(default_factory=dict)
    notifications: list[_Notification] = field(default_factory=list)  # in insertion order
    outbox: list[OutboxMessage] = field(default_factory=list)
    plan_revisions: dict[tuple[str, int], tuple[str, PlanRevision]] = field(default_factory=dict)  # -> (tenant, ...)
    plan_comments: list[tuple[str, str, PlanComment]] = field(default_factory=list)  # (alert, tenant, ...)
    plan_reminders: dict[tuple[str, date], PlanReminder] = field(default_factory=dict)
    link_revocations: dict[UUID, _Revocation] = field(default_factory=dict)
    consumer_positions: InMemoryPositions = field(default_factory=InMemoryPositions)

    def active(self, key: SeriesKey) -> _Alert | None:
        return next((a for a in self.alerts.values() if a.key == key and a.snapshot.state != "resolved"), None)

    def plan(self, alert_id: str) -> Plan:
        revisions = sorted(
            (r for (a, _), (_, r) in self.plan_revisions.items() if a == alert_id), key=lambda r: r.revision
        )
        comments = [c for a, _, c in self.plan_comments if a == alert_id]
        return Plan(revisions=tuple(revisions), comments=tuple(comments))

    def add_notification(self, notification: _Notification) -> None:
        row = notification.row
        if any(n.row.notification_id == row.notification_id for n in self.notifications):
            raise asyncpg.UniqueViolationError(f"notification {row.notification_id} exists")
        if notification.reminder_id is not None and any(
            (n.reminder_id, n.row.recipient, n.row.channel) == (notification.reminder_id, row.recipient, row.channel)
            for n in self.notifications
        ):
            raise asyncpg.UniqueViolationError("notifications_reminder_once")
        self.notifications.append(notification)


class InMemoryAlertsRepository:
    """`ports.AlertsRepository` over one transaction's copy of the tables."""

    def __init__(self, tables: Tables, *, now: datetime) -> None:
        self.t = tables
        self._now = now  # the transaction's now(), for what the database stamps itself

    async def save_positions(self, positions: Sequence[Position]) -> None:
        self.t.consumer_positions.save(positions)

    async def upsert_scores(
        self, scores: Sequence[UnitScoredRecord | UnitScored], *, judging: bool = False
    ) -> dict[SeriesKey, datetime]:
        newest: dict[tuple[SeriesKey, str], tuple[UnitScoredRecord | UnitScored, str]] = {}
        for s in scores:
            if s.scope != "unit":
                continue
            for dimension in s.dimensions:
                slot = (SeriesKey(s.tenant, s.unit, s.instrument, s.model, dimension), s.period)
                kept = newest.get(slot)
                if kept is None or kept[0].sequence < s.sequence:
                    newest[slot] = (s, dimension)
        earliest: dict[SeriesKey, datetime] = {}
        for (series, period), (s, dimension) in newest.items():
            figures = s.dimensions[dimension]
            stored = self.t.period_scores.get((series, period))
            if stored is not None and stored.sequence >= s.sequence:
                continue
            self.t.period_scores[(series, period)] = _Score(
                period_start=stored.period_start if stored else s.period_start,
                period_end=stored.period_end if stored else s.period_end,
                figures=PeriodScore(
                    period=period,
                    period_end=stored.period_end if stored else s.period_end,
                    index=figures.index,
                    respondents=s.respondents,
                    standard_error=figures.standard_error,
                    tenant_index=figures.tenant_index,
                ),
                sequence=s.sequence,
            )
            end = self.t.period_scores[(series, period)].period_end
            earliest[series] = min(end, earliest.get(series, end))
        keys = sorted(earliest, key=_order)
        for key in keys:
            existing = self.t.series.get(key)
            if existing is None:
                self.t.series[key] = _Series(rejudge=not judging)
            elif not judging:
                existing.rejudge = True
        return {key: earliest[key] for key in keys}

    async def prefetch(self, keys: Sequence[SeriesKey]) -> None:
        return None  # the answers are the same without it, which is all the port promises

    async def series_due(self, *, now: datetime, limit: int = 500) -> list[SeriesKey]:
        due = [
            key
            for key, series in self.t.series.items()
            if series.rejudge
            or any(
                k == key
                and (series.judged_through is None or score.period_end > series.judged_through)
                and score.period_end <= now
                for (k, _), score in self.t.period_scores.items()
            )
            or self.t.active(key) is not None
        ]
        return sorted(due, key=_order)[:limit]

    async def lock_series(self, key: SeriesKey) -> tuple[bool, datetime | None]:
        series = self.t.series.get(key)
        return (series is not None, series.judged_through if series else None)

    async def history(self, key: SeriesKey, *, closed_before: datetime) -> list[PeriodScore]:
        found = [s for (k, _), s in self.t.period_scores.items() if k == key and s.period_end <= closed_before]
        return [s.figures for s in sorted(found, key=lambda s: s.period_start)]

    async def mark_judged(self, key: SeriesKey, through: datetime | None) -> None:
        series = self.t.series.get(key)
        if series is not None:
            series.rejudge = False
            series.judged_through = _greatest(series.judged_through, through)

    async def active_alert(self, key: SeriesKey) -> StoredAlert | None:
        alert = self.t.active(key)
        return StoredAlert(alert.alert_id, alert.snapshot) if alert else None

    async def alert(self, tenant: str, alert_id: str, *, for_update: bool = False) -> StoredAlert | None:
        alert = self.t.alerts.get(alert_id)
        return StoredAlert(alert_id, alert.snapshot) if alert and alert.key.tenant == tenant else None

    async def series_of(self, tenant: str, alert_id: str) -> SeriesKey | None:
        alert = self.t.alerts.get(alert_id)
        return alert.key if alert and alert.key.tenant == tenant else None

    async def save_alert(
        self,
        alert_id: str,
        key: SeriesKey,
        snapshot: AlertSnapshot,
        *,
        now: datetime,
        action_plan: str | None = None,
        follow_up: date | None = None,
    ) -> None:
        if snapshot.state not in STATES:
            raise asyncpg.CheckViolationError(f"alerts_state_check: {snapshot.state}")
        resolved_at = now if snapshot.state == "resolved" else None
        stored = self.t.alerts.get(alert_id)
        active = self.t.active(stored.key if stored else key)
        if snapshot.state != "resolved" and active is not None and active.alert_id != alert_id:
            raise asyncpg.UniqueViolationError("alerts_one_active")
        if stored is None:
            self.t.alerts[alert_id] = _Alert(alert_id, key, snapshot, resolved_at, action_plan, follow_up, now)
            return
        stored.snapshot = replace(  # the series and the opening are the row's for good
            snapshot, opened_period=stored.snapshot.opened_period, opened_at=stored.snapshot.opened_at
        )
        stored.resolved_at = resolved_at or stored.resolved_at
        stored.action_plan = action_plan if action_plan is not None else stored.action_plan
        stored.follow_up_date = follow_up if follow_up is not None else stored.follow_up_date
        stored.updated_at = now

    async def add_transition(
        self,
        *,
        transition_id: UUID,
        alert_id: str,
        tenant: str,
        from_state: str | None,
        to_state: str,
        level: int,
        rule: str,
        reason: str,
        period: str,
        actor: str,
        evidence: list[dict[str, Any]],
        correlation_id: str | None = None,
        quiet_reason: str | None = None,
        explanation: dict[str, Any] | None = None,
        history_import: UUID | None = None,
    ) -> None:
        if alert_id not in self.t.alerts:
            raise asyncpg.ForeignKeyViolationError(f"transitions_alert_id_fkey: {alert_id}")
        if history_import is not None and history_import not in self.t.history_imports:
            raise asyncpg.ForeignKeyViolationError(f"transitions_history_import_fkey: {history_import}")
        if any(t.transition_id == transition_id for t in self.t.transitions):
            raise asyncpg.UniqueViolationError(f"transition {transition_id} exists")
        self.t.transitions.append(
            _Transition(
                transition_id=transition_id,
                alert_id=alert_id,
                tenant=tenant,
                from_state=from_state,
                to_state=to_state,
                level=level,
                rule=rule,
                reason=reason,
                period=period,
                actor=actor,
                evidence=copy.deepcopy(evidence),
                correlation_id=correlation_id,
                quiet_reason=quiet_reason,
                history_import=history_import,
                explanation=copy.deepcopy(explanation),
                created_at=self._now,
            )
        )

    async def note_quiet(self, tenant: str, *, now: datetime) -> UUID:
        for import_id, found in self.t.history_imports.items():
            if found.tenant == tenant and found.summarised_at is None:
                found.last_quiet_at = max(found.last_quiet_at, now)
                found.quiet_transitions += 1
                return import_id
        import_id = uuid4()
        self.t.history_imports[import_id] = _Import(tenant, started_at=now, last_quiet_at=now, quiet_transitions=1)
        return import_id

    async def settled_history_imports(self, *, quiet_since: datetime) -> list[UUID]:
        settled = [
            (found.started_at, import_id)
            for import_id, found in self.t.history_imports.items()
            if found.summarised_at is None and found.last_quiet_at <= quiet_since
        ]
        return [import_id for _, import_id in sorted(settled, key=lambda s: s[0])]

    async def lock_active_alerts(self, tenant: str) -> list[ActiveAlert]:
        active = [a for a in self.t.alerts.values() if a.key.tenant == tenant and a.snapshot.state != "resolved"]
        return [ActiveAlert(a.alert_id, a.key, a.snapshot) for a in sorted(active, key=lambda a: _order(a.key))]

    async def claim_history_import(
        self, import_id: UUID, *, quiet_since: datetime, lock: bool = True
    ) -> HistoryImport | None:
        found = self.t.history_imports.get(import_id)
        if found is None or found.summarised_at is not None or found.last_quiet_at > quiet_since:
            return None
        return HistoryImport(import_id, found.tenant, found.quiet_transitions)

    def _latest(self, alert_id: str) -> _Transition | None:
        return next((t for t in reversed(self.t.transitions) if t.alert_id == alert_id), None)

    async def quiet_tails(self, import_id: UUID) -> list[QuietTail]:
        tails: list[tuple[SeriesKey, QuietTail]] = []
        for alert in self.t.alerts.values():
            latest = self._latest(alert.alert_id)
            if (
                alert.snapshot.state != "resolved"
                and latest is not None
                and latest.history_import == import_id
                and not latest.notified
            ):
                tail = QuietTail(alert.alert_id, latest.transition_id, latest.reason, copy.deepcopy(latest.explanation))
                tails.append((alert.key, tail))
        return [tail for _, tail in sorted(tails, key=lambda t: _order(t[0]))]

    async def resolved_in_history(self, import_id: UUID) -> int:
        touched = {t.alert_id for t in self.t.transitions if t.history_import == import_id}
        return sum(1 for a in self.t.alerts.values() if a.snapshot.state == "resolved" and a.alert_id in touched)

    async def quiet_transitions(self, import_id: UUID) -> list[tuple[str, UUID]]:
        return [(t.alert_id, t.transition_id) for t in self.t.transitions if t.history_import == import_id]

    async def untold(self, alert_id: str) -> bool:
        return (
            any(t.alert_id == alert_id and not t.notified for t in self.t.transitions)
            and not any(
                n.alert_id == alert_id and n.row.recipient_role != HR_SUMMARY_ROLE for n in self.t.notifications
            )
            and not any(
                i.summarised_at is not None and alert_id in i.summarised_alerts for i in self.t.history_imports.values()
            )
        )

    async def timeline(self, alert_id: str) -> list[TimelineEntry]:
        return [
            TimelineEntry(t.period, cast(AlertState, t.to_state), t.level)
            for t in self.t.transitions
            if t.alert_id == alert_id
        ]

    async def finish_history_import(self, import_id: UUID, *, now: datetime, listed: Sequence[str] = ()) -> None:
        found = self.t.history_imports.get(import_id)
        if found is not None:
            found.summarised_at = now
            found.summarised_alerts = tuple(listed)

    async def add_notifications(
        self, *, transition_id: UUID, alert_id: str, tenant: str, rows: Sequence[NotificationRow]
    ) -> None:
        if rows and not any(t.transition_id == transition_id for t in self.t.transitions):
            raise asyncpg.ForeignKeyViolationError(f"notifications_transition_id_fkey: {transition_id}")
        for row in rows:
            if any(
                (n.transition_id, n.row.recipient, n.row.channel) == (transition_id, row.recipient, row.channel)
                for n in self.t.notifications
            ):
                continue  # ON CONFLICT (transition_id, recipient, channel) DO NOTHING
            self.t.add_notification(_Notification(row, alert_id, tenant, transition_id, None, self._now))

    async def active_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for alert in self.t.alerts.values():
            if alert.snapshot.state != "resolved":
                counts[alert.snapshot.state] = counts.get(alert.snapshot.state, 0) + 1
        return counts

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        self.t.outbox.extend(replace(m, headers=dict(correlation.stamped(m.topic, m.key, m.headers))) for m in messages)

    async def resolved_at(self, alert_id: str) -> datetime | None:
        alert = self.t.alerts.get(alert_id)
        return alert.resolved_at if alert and alert.snapshot.state == "resolved" else None

    async def plan(self, alert_id: str) -> Plan:
        return self.t.plan(alert_id)

    async def add_plan_revision(self, alert_id: str, tenant: str, revision: PlanRevision) -> None:
        alert = self.t.alerts.get(alert_id)
        if alert is None:
            raise asyncpg.ForeignKeyViolationError(f"plan_revisions_alert_id_fkey: {alert_id}")
        if revision.revision < 1 or revision.status not in PLAN_STATUSES:
            raise asyncpg.CheckViolationError(f"plan_revisions check: {revision.revision} {revision.status}")
        if (alert_id, revision.revision) in self.t.plan_revisions:
            raise asyncpg.UniqueViolationError(f"plan_revisions_pkey: ({alert_id}, {revision.revision})")
        self.t.plan_revisions[(alert_id, revision.revision)] = (tenant, revision)
        alert.action_plan = revision.what
        alert.follow_up_date = revision.due
        alert.updated_at = revision.written_at

    async def add_plan_comment(self, alert_id: str, tenant: str, comment: PlanComment) -> None:
        if alert_id not in self.t.alerts:
            raise asyncpg.ForeignKeyViolationError(f"plan_comments_alert_id_fkey: {alert_id}")
        self.t.plan_comments.append((alert_id, tenant, comment))

    async def plans_past_due(self, *, due_from: date, due_by: date, resolved_since: datetime) -> list[tuple[str, str]]:
        found: list[tuple[date, str, str]] = []
        for alert in self.t.alerts.values():
            current = self.t.plan(alert.alert_id).current
            if current is None or current.status == "done" or current.due is None:
                continue
            if not due_from <= current.due <= due_by:
                continue
            resolved = alert.snapshot.state == "resolved"
            if resolved and (alert.resolved_at is None or alert.resolved_at < resolved_since):
                continue
            if (alert.alert_id, current.due) in self.t.plan_reminders:
                continue
            found.append((current.due, alert.alert_id, alert.key.tenant))
        return [(tenant, alert_id) for _, alert_id, tenant in sorted(found)]

    async def reminded(self, alert_id: str) -> frozenset[date]:
        return frozenset(due for a, due in self.t.plan_reminders if a == alert_id)

    async def add_reminder(self, reminder: PlanReminder, rows: Sequence[NotificationRow]) -> bool:
        if reminder.alert_id not in self.t.alerts:
            raise asyncpg.ForeignKeyViolationError(f"plan_reminders_alert_id_fkey: {reminder.alert_id}")
        if (reminder.alert_id, reminder.due) in self.t.plan_reminders:
            return False  # ON CONFLICT (alert_id, due_date) DO NOTHING
        if any(r.reminder_id == reminder.reminder_id for r in self.t.plan_reminders.values()):
            raise asyncpg.UniqueViolationError(f"plan_reminders_reminder_id_key: {reminder.reminder_id}")
        self.t.plan_reminders[(reminder.alert_id, reminder.due)] = reminder
        for row in rows:
            self.t.add_notification(
                _Notification(row, reminder.alert_id, reminder.tenant, None, reminder.reminder_id, self._now)
            )
        return True


class InMemoryAlertsStore:
    """`ports.AlertsStore` in memory, with `reader` (`AlertReader` and `PeriodScoreReader`) and `links`
    (`LinkStore`) reading what its transactions committed. `unavailable`: the database is down."""

    def __init__(self, *, on_commit: Callable[[], None] = lambda: None) -> None:
        self.tables = Tables()
        self.unavailable = False
        self.commits = 0
        self._on_commit = on_commit
        self._lock = asyncio.Lock()
        self.reader = InMemoryAlertReader(self)
        self.links = InMemoryLinkStore(self)

    def _repository(self, tables: Tables, *, now: datetime) -> InMemoryAlertsRepository:
        return InMemoryAlertsRepository(tables, now=now)

    def _reachable(self) -> None:
        if self.unavailable:
            raise StoreUnavailableError("connection refused (the in-memory store was told it is down)")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[InMemoryAlertsRepository]:
        self._reachable()
        async with self._lock:
            working = copy.deepcopy(self.tables)
            yield self._repository(working, now=utc_now())
            self._reachable()  # a commit that cannot reach the database commits nothing
            self.tables = working
            self.commits += 1
        self._on_commit()

    async def claim(self, group: str, partitions: Sequence[Partition], *, cluster: str) -> dict[Partition, Claim]:
        self._reachable()
        async with self._lock:  # as the adapter's claim waits for a batch that holds the partition's row
            return self.tables.consumer_positions.claim(group, partitions, cluster=cluster)

    async def ping(self) -> bool:
        return not self.unavailable


class InMemoryAlertReader:
    """`ports.AlertReader` and `ports.PeriodScoreReader` over what the store has committed."""

    def __init__(self, store: InMemoryAlertsStore) -> None:
        self._store = store

    @property
    def _t(self) -> Tables:
        self._store._reachable()
        return self._store.tables

    async def alerts(
        self, tenant: str, *, status: str | None, unit: str | None, recipient: str | None
    ) -> list[dict[str, Any]]:
        t = self._t
        found = [
            {**a.row(), "plan_status": (current.status if (current := t.plan(a.alert_id).current) else None)}
            for a in t.alerts.values()
            if a.key.tenant == tenant
            and status in (None, a.snapshot.state)
            and unit in (None, a.key.unit)
            and (
                recipient is None
                or any(
                    n.alert_id == a.alert_id and n.row.recipient.lower() == recipient.lower() for n in t.notifications
                )
            )
        ]
        return sorted(found, key=lambda r: r["updated_at"], reverse=True)[:500]

    async def alert(self, tenant: str, alert_id: str) -> dict[str, Any] | None:
        found = self._t.alerts.get(alert_id)
        return found.row() if found and found.key.tenant == tenant else None

    async def transitions(self, alert_id: str) -> list[dict[str, Any]]:
        return [
            {
                "from_state": t.from_state,
                "to_state": t.to_state,
                "level": t.level,
                "rule": t.rule,
                "reason": t.reason,
                "period": t.period,
                "actor": t.actor,
                "evidence": copy.deepcopy(t.evidence),
                "notified": t.notified,
                "quiet_reason": t.quiet_reason,
                "explanation": copy.deepcopy(t.explanation),
                "created_at": t.created_at,
            }
            for t in self._t.transitions
            if t.alert_id == alert_id
        ]

    async def notifications(self, alert_id: str) -> list[dict[str, Any]]:
        t = self._t
        return [
            {
                "notification_id": n.row.notification_id,
                "recipient": n.row.recipient,
                "recipient_role": n.row.recipient_role,
                "channel": n.row.channel,
                "state": n.state,
                "created_at": n.created_at,
                "sent_at": n.sent_at,
                "link_revoked_at": (
                    r.revocation.revoked_at if (r := t.link_revocations.get(n.row.notification_id)) else None
                ),
            }
            for n in sorted(t.notifications, key=lambda n: n.created_at)
            if n.alert_id == alert_id
        ]

    async def plan(self, alert_id: str) -> Plan:
        return self._t.plan(alert_id)

    async def period_history(self, tenant: Tenant, *, closed_by: datetime, units: frozenset[str] | None) -> History:
        found = sorted(
            (
                (key, score)
                for (key, _), score in self._t.period_scores.items()
                if key.tenant == tenant.id and score.period_end <= closed_by and (units is None or key.unit in units)
            ),
            key=lambda f: (f[0].unit, f[0].instrument, f[0].model, f[0].dimension, f[1].period_start),
        )
        history: History = {}
        for key, score in found:
            history.setdefault(SeriesId(key.unit, key.instrument, key.model, key.dimension), []).append(score.figures)
        return history


class InMemoryLinkStore:
    """`ports.LinkStore` over what the store has committed; a revocation is a transaction of its own."""

    def __init__(self, store: InMemoryAlertsStore) -> None:
        self._store = store

    async def links_of(self, tenant: str, recipient: str) -> list[dict[str, Any]]:
        self._store._reachable()
        t = self._store.tables
        rows = []
        for n in sorted(t.notifications, key=lambda n: n.created_at, reverse=True):
            alert = t.alerts.get(n.alert_id)
            if n.tenant != tenant or n.row.recipient.lower() != recipient.lower() or not n.has_link or alert is None:
                continue
            revoked = t.link_revocations.get(n.row.notification_id)
            rows.append(
                {
                    "notification_id": n.row.notification_id,
                    "alert_id": n.alert_id,
                    "unit": alert.key.unit,
                    "dimension": alert.key.dimension,
                    "recipient": n.row.recipient,
                    "recipient_role": n.row.recipient_role,
                    "state": n.state,
                    "created_at": n.created_at,
                    "sent_at": n.sent_at,
                    "revoked_at": revoked.revocation.revoked_at if revoked else None,
                    "revoked_by": revoked.revocation.revoked_by if revoked else None,
                    "reason": revoked.revocation.reason if revoked else None,
                }
            )
        return rows[:500]

    async def revoke(
        self, tenant: str, notification_id: UUID, *, at: datetime, by: str, reason: str
    ) -> tuple[LinkRevocation, bool] | None:
        self._store._reachable()
        async with self._store._lock:
            t = self._store.tables
            before = t.link_revocations.get(notification_id)
            if before is not None:
                return (before.revocation, False) if before.tenant == tenant else None
            notification = next((n for n in t.notifications if n.row.notification_id == notification_id), None)
            if notification is None or notification.tenant != tenant or not notification.has_link:
                return None
            revocation = LinkRevocation(notification_id, notification.alert_id, at, by, reason)
            t.link_revocations[notification_id] = _Revocation(tenant, revocation)
            return revocation, True

    async def revoked_since(self, tenant: str, since: datetime) -> list[LinkRevocation]:
        self._store._reachable()
        found = [
            r.revocation
            for r in self._store.tables.link_revocations.values()
            if r.tenant == tenant and r.revocation.revoked_at >= since
        ]
        return sorted(found, key=lambda r: r.revoked_at)[:10_000]
