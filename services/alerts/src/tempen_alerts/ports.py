"""What alerts' use cases, entry points and sweeper need from its store, as Protocols: they judge, translate
and decide, the adapters (`adapters/postgres.py`) do the I/O. None of them imports an adapter
(import-linter checks it); `app.py` wires the two."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID

from tempen_alerts.domain.backtest import History
from tempen_alerts.domain.history import TimelineEntry
from tempen_alerts.domain.plans import Plan, PlanComment, PlanRevision
from tempen_alerts.domain.rules import AlertSnapshot, PeriodScore
from tempen_shared.events import UnitScored
from tempen_shared.events.wire import UnitScoredRecord
from tempen_shared.outbox import OutboxMessage
from tempen_shared.positions import Claim, Partition, Position
from tempen_shared.tenancy.loader import Tenant


@dataclass(frozen=True, slots=True)
class SeriesKey:
    tenant: str
    unit: str
    instrument: str
    model: str
    dimension: str


@dataclass(frozen=True, slots=True)
class StoredAlert:
    alert_id: str
    snapshot: AlertSnapshot


HR_SUMMARY_ROLE = "hr_summary"  # the recipient_role of HR's summary of a quiet backfill
PLAN_REMINDER_ROLE = "plan_reminder"  # the recipient_role of a reminder that a plan's due date passed


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    alert_id: str
    key: SeriesKey
    snapshot: AlertSnapshot


@dataclass(frozen=True, slots=True)
class QuietTail:
    """An active alert whose latest transition was quiet in a given backfill: it has not been told yet."""

    alert_id: str
    transition_id: UUID  # that latest transition, which the catch-up notifications belong to
    reason: str  # and its reason
    explanation: Mapping[str, Any] | None = None  # and its explanation's numbers (domain/explain.py)


@dataclass(frozen=True, slots=True)
class HistoryImport:
    import_id: UUID
    tenant: str
    quiet_transitions: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanReminder:
    """The audit row of one reminder: about which alert and due date, the plan revision and the alert's level
    that stood then, whom it went to and when."""

    reminder_id: UUID
    alert_id: str
    tenant: str
    due: date
    revision: int
    level: int
    recipient: str
    reminded_at: datetime


@dataclass(frozen=True, slots=True)
class NotificationRow:
    notification_id: UUID
    channel: str
    recipient: str
    recipient_role: str
    subject: str
    body_text: str
    body_html: str


class AlertsRepository(Protocol):
    """Everything alerts reads and writes while judging, inside one transaction of `AlertsStore`.

    Nothing written is seen by others before the transaction commits, and nothing of it stays when it
    rolls back: the judgement, the alert, its audit row, its notifications and its event go together,
    and with them the consumer positions of the batch of score events behind them.
    """

    async def save_positions(self, positions: Sequence[Position]) -> None:
        """Move the consumer's partitions on to these positions, first in the transaction, where each
        partition's stored epoch is still the position's (`tempen_shared.positions`).

        Raises:
            PartitionFencedError: a partition has been claimed under another epoch since (or was never
                claimed); nothing is moved. The caller lets it end the transaction, so that nothing of
                the batch is kept.
        """
        ...

    async def upsert_scores(
        self, scores: Sequence[UnitScoredRecord | UnitScored], *, judging: bool = False
    ) -> dict[SeriesKey, datetime]:
        """Store the newest figures of each series and period (unit scope only; an older sequence never
        overwrites a newer one, and a redelivered event changes nothing); a score event as the consumer
        reads it (`read_unit_scored`) or the pydantic event, the same fields. Returns the series whose
        figures changed, in key order, each with the end of the earliest of its changed periods.

        Without `judging` those series are flagged for the sweeper to judge; with it the caller promises to
        judge in this transaction every one whose changed periods include a closed one
        (`AlertsService.due`), and none is flagged: the sweeper finds the others once their period closes.
        """
        ...

    async def prefetch(self, keys: Sequence[SeriesKey]) -> None:
        """Lock and read at once what judging each of `keys` needs (series lock, history, active alert).

        An optimisation only: `lock_series`, `history`, `active_alert` and `mark_judged` answer the same
        with or without it. Locks are taken in key order, as judging series one by one does, so
        replicas cannot deadlock.
        """
        ...

    async def series_due(self, *, now: datetime, limit: int = 500) -> list[SeriesKey]:
        """Series to judge at `now`, in key order, at most `limit`: flagged for rejudging, with a period
        closed by `now` since they were last judged, or with an active alert (the time-based rule)."""
        ...

    async def lock_series(self, key: SeriesKey) -> tuple[bool, datetime | None]:
        """Lock the series until the transaction ends, so one replica judges it at a time.

        Returns (whether the series exists, the end of the last period judged, None if none was).
        """
        ...

    async def history(self, key: SeriesKey, *, closed_before: datetime) -> list[PeriodScore]:
        """The series' periods that ended at or before `closed_before`, oldest first."""
        ...

    async def mark_judged(self, key: SeriesKey, through: datetime | None) -> None:
        """Record the series judged through `through` (never moving it back; None leaves it) and clear its
        rejudge flag; a series not stored is left alone. The write may be deferred, but it is made before the
        transaction commits."""
        ...

    async def active_alert(self, key: SeriesKey) -> StoredAlert | None:
        """The series' alert that is not resolved, locked until the transaction ends; None if none is."""
        ...

    async def alert(self, tenant: str, alert_id: str, *, for_update: bool = False) -> StoredAlert | None:
        """The tenant's alert of that id in any state (locked with `for_update`); None if there is none."""
        ...

    async def series_of(self, tenant: str, alert_id: str) -> SeriesKey | None:
        """The series the tenant's alert belongs to; None if there is no such alert."""
        ...

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
        """Insert the alert or update it to `snapshot` as of `now` (its `updated_at`). Its series and opening
        are the row's for good; an action plan and follow-up date once given are kept when later saves pass
        None; the time of resolution (the `now` of the save that resolved it) is kept by later saves that do
        not resolve it.

        A series has one alert that is not resolved: saving a second one is refused with the database's
        unique violation, whatever the caller checked, and the transaction cannot commit."""
        ...

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
        """Append one row to the alert's audit trail, after those made before it (also in this transaction);
        with a `quiet_reason` it is marked as not notified, part of the backfill `history_import`. The alert
        must be stored (a foreign-key violation otherwise)."""
        ...

    async def note_quiet(self, tenant: str, *, now: datetime) -> UUID:
        """Count one quiet transition of `tenant` at `now` in its open backfill, opening one if none is;
        returns the backfill's id. Serialises with `claim_history_import` on the backfill's row."""
        ...

    async def settled_history_imports(self, *, quiet_since: datetime) -> list[UUID]:
        """Open backfills with no quiet transition after `quiet_since`, oldest first."""
        ...

    async def lock_active_alerts(self, tenant: str) -> list[ActiveAlert]:
        """The tenant's active alerts, locked in key order (the order judging locks them in)."""
        ...

    async def claim_history_import(
        self, import_id: UUID, *, quiet_since: datetime, lock: bool = True
    ) -> HistoryImport | None:
        """The backfill if it is still open and no quiet transition came after `quiet_since`, locked with
        `lock`; else None."""
        ...

    async def quiet_tails(self, import_id: UUID) -> list[QuietTail]:
        """The tenant's active alerts whose latest transition is a quiet one of this backfill."""
        ...

    async def resolved_in_history(self, import_id: UUID) -> int:
        """How many alerts with a quiet transition in this backfill are resolved now."""
        ...

    async def quiet_transitions(self, import_id: UUID) -> list[tuple[str, UUID]]:
        """The backfill's quiet transitions as (alert id, transition id), in the order they were made."""
        ...

    async def untold(self, alert_id: str) -> bool:
        """Whether the alert has quiet transitions and nobody has been notified of it: no notification of its
        own (HR's summary row aside), and no HR summary listed it as open."""
        ...

    async def timeline(self, alert_id: str) -> list[TimelineEntry]:
        """The alert's transitions, oldest first."""
        ...

    async def finish_history_import(self, import_id: UUID, *, now: datetime, listed: Sequence[str] = ()) -> None:
        """Mark the backfill summarised: it is never summarised again. `listed`: the alerts its HR summary
        named as open, which count as told from now on."""
        ...

    async def add_notifications(
        self, *, transition_id: UUID, alert_id: str, tenant: str, rows: Sequence[NotificationRow]
    ) -> None:
        """Queue the transition's notifications for the notifiers to deliver once the transaction commits,
        each `pending`, with its subject and bodies as given. A row repeating a (transition, recipient,
        channel) already queued is ignored, so a retry queues nothing twice. The transition must be stored."""
        ...

    async def active_counts(self) -> dict[str, int]:
        """The number of alerts in each state but resolved (states with none are left out)."""
        ...

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Put the messages in the outbox; the relay sends them once the transaction commits."""
        ...

    # Action plans (domain/plans.py)

    async def resolved_at(self, alert_id: str) -> datetime | None:
        """When the alert resolved; None while it is active (or if there is no such alert)."""
        ...

    async def plan(self, alert_id: str) -> Plan:
        """The alert's plan: every revision and comment, oldest first (empty if none was written)."""
        ...

    async def add_plan_revision(self, alert_id: str, tenant: str, revision: PlanRevision) -> None:
        """Append the revision; the alert's action_plan and follow_up_date become its what and due date (None
        included), and its updated_at the revision's written_at.

        A revision number the alert already has is refused with the database's unique violation, and the
        transaction cannot commit: of two writers that read the same plan, one wins. Callers lock the alert
        (`alert(..., for_update=True)`) so revisions are numbered one at a time."""
        ...

    async def add_plan_comment(self, alert_id: str, tenant: str, comment: PlanComment) -> None:
        """Append a follow-up comment to the alert's plan."""
        ...

    # Plan reminders

    async def plans_past_due(self, *, due_from: date, due_by: date, resolved_since: datetime) -> list[tuple[str, str]]:
        """(tenant, alert id) of the alerts whose current plan revision is not done and is due from `due_from`
        to `due_by`, with no reminder yet for that due date: active alerts, and those resolved since
        `resolved_since`. Candidates only: `domain.plans.reminder_due` decides, in each tenant's zone."""
        ...

    async def reminded(self, alert_id: str) -> frozenset[date]:
        """The due dates the alert's plan has been reminded of."""
        ...

    async def add_reminder(self, reminder: PlanReminder, rows: Sequence[NotificationRow]) -> bool:
        """Record the reminder and queue its notifications (each carrying the reminder, not a transition),
        unless the alert's plan was already reminded of for that due date: then nothing is queued. Returns
        whether it was recorded."""
        ...


class AlertsStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[AlertsRepository]:
        """One transaction: commits when the block ends, rolls back when it raises.

        Raises:
            StoreUnavailableError: the database cannot be reached; nothing was committed.
        """
        ...

    async def claim(self, group: str, partitions: Sequence[Partition], *, cluster: str) -> Mapping[Partition, Claim]:
        """Claim the group's partitions for the caller in one transaction of its own: each partition's epoch
        goes up by one (the first claim: 1), fencing whoever held it before. Returns each one's new epoch and
        its stored next offset: None when no batch has stored one, or when it was stored on another Kafka
        cluster than `cluster` (offsets of one cluster mean nothing on another).

        Raises:
            StoreUnavailableError: the database cannot be reached; nothing was claimed.
        """
        ...

    async def ping(self) -> bool:
        """Whether the database answers now; never raises for an outage."""
        ...


class AlertReader(Protocol):
    """The HTTP read API's queries: rows as the API shows them, read outside any transaction."""

    async def alerts(
        self, tenant: str, *, status: str | None, unit: str | None, recipient: str | None
    ) -> Sequence[Mapping[str, Any]]:
        """The tenant's alerts, most recently updated first, at most 500: only those in state `status`,
        of `unit`, or with a notification to `recipient` (compared case-insensitively) where given."""
        ...

    async def alert(self, tenant: str, alert_id: str) -> Mapping[str, Any] | None:
        """The tenant's alert of that id, every column; None if there is none."""
        ...

    async def transitions(self, alert_id: str) -> Sequence[Mapping[str, Any]]:
        """The alert's audit trail, oldest first."""
        ...

    async def notifications(self, alert_id: str) -> Sequence[Mapping[str, Any]]:
        """The alert's notifications and their delivery state, oldest first (those queued together in no
        set order), each with when its personal link was revoked (`link_revoked_at`, None if it was not)."""
        ...

    async def plan(self, alert_id: str) -> Plan:
        """The alert's plan: every revision and comment, oldest first (empty if none was written)."""
        ...


class ScoringUnavailableError(Exception):
    """Scoring's read API could not be asked or did not answer; the message says where and why."""


class ScoringRefusedError(Exception):
    """Scoring's read API refused the token passed on to it (401 or 403)."""


class ScoreHistory(Protocol):
    """A tenant's closed score history, each unit series oldest first, for a backtest."""

    async def __call__(self, tenant: Tenant, /, *, closed_by: datetime, units: frozenset[str] | None) -> History:
        """The unit series of `tenant` (only those of `units` where given) with the periods that ended at or
        before `closed_by`. A suppressed period, where the source keeps one, has no index and no group size.

        Raises:
            ScoringUnavailableError, ScoringRefusedError: from scoring's API (`ScoringScores`).
            StoreUnavailableError: alerts' own database cannot be reached.
        """
        ...


class PeriodScoreReader(Protocol):
    """Alerts' own copy of the scores (`period_scores`): the published periods alerts has judged on."""

    async def period_history(self, tenant: Tenant, *, closed_by: datetime, units: frozenset[str] | None) -> History:
        """As `ScoreHistory`; suppressed periods are not in alerts' copy at all (scoring never publishes them)."""
        ...


class ScoringScores(Protocol):
    """Scoring's read API, asked with the caller's own token, so scoring checks what that caller may read."""

    async def history(
        self, tenant: Tenant, *, closed_by: datetime, units: frozenset[str] | None, token: str | None
    ) -> History:
        """As `ScoreHistory`, from scoring's scores: suppressed periods are kept, without figures."""


@dataclass(frozen=True, slots=True)
class LinkRevocation:
    notification_id: UUID
    alert_id: str
    revoked_at: datetime
    revoked_by: str
    reason: str


class LinkStore(Protocol):
    """The personal links in alert e-mails (one per e-mail notification) and their revocations."""

    async def links_of(self, tenant: str, recipient: str) -> Sequence[Mapping[str, Any]]:
        """The e-mail notifications to `recipient` (compared case-insensitively), newest first, at most
        500: notification_id, alert_id, unit, dimension, recipient, recipient_role, created_at, sent_at,
        state, and revoked_at, revoked_by, reason (None unless revoked)."""
        ...

    async def revoke(
        self, tenant: str, notification_id: UUID, *, at: datetime, by: str, reason: str
    ) -> tuple[LinkRevocation, bool] | None:
        """Revoke the link of that e-mail notification, with who and why (the audit trail). Returns the
        revocation and whether it is new (False: it was revoked before, and that first revocation is
        kept); None if the tenant has no such e-mail notification.

        Raises:
            StoreUnavailableError: the database cannot be reached; nothing was stored.
        """
        ...

    async def revoked_since(self, tenant: str, since: datetime) -> Sequence[LinkRevocation]:
        """The tenant's revocations made at or after `since`, oldest first, at most 10,000."""
        ...
