"""Alerts' use cases: take in scores, judge series as their periods close, act on decisions."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import structlog

from tempen_alerts.domain.backtest import Backtest, backtest
from tempen_alerts.domain.explain import Explanation, explain
from tempen_alerts.domain.history import UNTOLD_RESOLVED, TimelineEntry, quiet_reason
from tempen_alerts.domain.messages import (
    Email,
    NotificationKind,
    OpenCase,
    render_history_summary,
    render_moved_on,
    render_notification,
    render_plan_reminder,
)
from tempen_alerts.domain.plans import (
    OPEN_AFTER_RESOLUTION,
    REMINDER_TOO_LATE,
    Plan,
    PlanChange,
    PlanComment,
    comment,
    from_acknowledgement,
    may_change,
    reminder_due,
    revise,
)
from tempen_alerts.domain.routing import HR_NAME, Recipient, levels_available, moved_past, recipients
from tempen_alerts.domain.rules import (
    AlertSnapshot,
    Escalate,
    NoChange,
    OpenAlert,
    PeriodScore,
    Resolve,
    StateChange,
    acknowledge,
    apply_decision,
    closed_by,
    decide,
    not_alerted,
)
from tempen_alerts.domain.webhooks import AlertFacts, WebhookKind, webhook_body, webhook_payload
from tempen_alerts.ports import (
    HR_SUMMARY_ROLE,
    PLAN_REMINDER_ROLE,
    ActiveAlert,
    AlertsRepository,
    NotificationRow,
    PlanReminder,
    ScoreHistory,
    SeriesKey,
    StoredAlert,
)
from tempen_shared import correlation
from tempen_shared.clock import Clock, utc_now
from tempen_shared.events import AlertState, AlertTransitioned
from tempen_shared.links import AlertLink, sign_link
from tempen_shared.outbox import OutboxMessage
from tempen_shared.tenancy.loader import Catalog, Tenant, alert_on_problems
from tempen_shared.tenancy.models import PLAN_REMINDER_DAYS_MAX, AlertPolicy
from tempen_shared.tenancy.org import OrgTree, org_day
from tempen_shared.topics import ALERTS, partition_key

OrgAt = Callable[[str, date], Awaitable[OrgTree]]  # a tenant's org tree as it stood on a day

NOTIFICATION_NAMESPACE = uuid.UUID("0f9b6c1e-2d4a-4c3b-8e7f-6a5b4c3d2e1f")
KIND: dict[type, NotificationKind] = {OpenAlert: "opened", Escalate: "escalated", Resolve: "resolved"}
WEBHOOK_KIND: dict[AlertState, WebhookKind] = {
    "open": "alert.opened",
    "escalated": "alert.escalated",
    "resolved": "alert.resolved",
    "acknowledged": "alert.acknowledged",
}
WEBHOOK_CHANNEL = "webhook"
PERIODS_SHOWN = 6  # in e-mails and webhooks: half a year of a monthly pulse
# A backfill streams its periods in over minutes; this long without a quiet transition means it has ended.
HISTORY_SETTLE = timedelta(minutes=10)
VERBS: dict[AlertState, str] = {
    "open": "alert opened",
    "escalated": "alert escalated",
    "resolved": "alert resolved",
    "acknowledged": "alert acknowledged",
}

logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.alerts.transitions")
history_logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.alerts.history")
plan_logger: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.alerts.plans")


class InvalidPolicyError(ValueError):
    """A policy whose `alert_on` names models or dimensions the tenant does not have."""

    def __init__(self, problems: Sequence[tuple[tuple[str | int, ...], str, str]]) -> None:
        super().__init__("; ".join(message for _, message, _ in problems))
        self.problems = tuple(problems)  # (key path under the policy, message, hint), as `alert_on_problems`


class UnknownUnitsError(ValueError):
    """Units asked for that are not in the tenant's org."""

    def __init__(self, units: Sequence[str]) -> None:
        super().__init__(", ".join(units))
        self.units = list(units)


class AlertNotActiveError(Exception):
    def __init__(self, alert_id: str, state: str) -> None:
        super().__init__(f"alert {alert_id} is {state}")
        self.alert_id = alert_id
        self.state = state


@dataclass(frozen=True, slots=True)
class Change:
    """A transition made: what its log line says once the transaction committed (ids, never names)."""

    alert_id: str
    tenant: str
    unit: str
    dimension: str
    from_state: AlertState | None
    to_state: AlertState
    level: int
    rule: str
    period: str
    correlation_id: str | None  # of the score event that caused it; None for the sweeper and for people
    notified: bool = True  # False: quiet history, recorded without notifying anyone


@dataclass(frozen=True, slots=True)
class Judged:
    decisions: int
    transitions: list[str]  # to_state of each transition made
    changes: tuple[Change, ...] = ()


def log_changes(changes: Sequence[Change]) -> None:
    """One line per transition, with the alert id and the correlation id of its cause where it has one.

    Call it after the transaction that made them committed, so no line tells of a change rolled back.
    """
    for change in changes:
        with correlation.bound(change.correlation_id, alert_id=change.alert_id):
            logger.info(
                VERBS[change.to_state],
                tenant=change.tenant,
                unit=change.unit,
                dimension=change.dimension,
                from_state=change.from_state,
                alert_level=change.level,
                rule=change.rule,
                period=change.period,
                notified=change.notified,
            )


@dataclass(frozen=True, slots=True)
class _Transition:
    alert_id: str
    from_state: AlertState | None
    snapshot: AlertSnapshot
    rule: str
    reason: str
    period: str
    actor: str
    evidence: Sequence[PeriodScore]
    history: Sequence[PeriodScore]
    email: NotificationKind | None  # None: nobody is e-mailed (acknowledgements, resolutions by hand)
    correlation_id: str | None = None  # the score event's that caused it, if one did
    quiet_reason: str | None = None  # set: about a period long closed, so nobody is notified (domain/history.py)
    timeline: Sequence[TimelineEntry] = ()  # the alert's transitions, for a "found_in_history" e-mail
    moved_from: int | None = None  # an escalation's level before: whoever it sat with there is told it moved on
    explanation: Explanation | None = None  # the rules' decisions only (domain/explain.py); none for a person's


class AlertsService:
    """Judges series and records transitions. Every method runs inside the caller's transaction.

    `clock` is the only source of "now" when a caller does not pass one: the Kafka handler, the
    sweeper and the HTTP API all read it, so a test can move time (the unacknowledged-for-D-days rule).
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        topic: Any,
        public_url: str,
        channel: str,
        clock: Clock = utc_now,
        org_at: OrgAt | None = None,
        portal: PortalLinks | None = None,
        history_settle: timedelta = HISTORY_SETTLE,
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.history_settle = history_settle
        self._org_at = org_at
        self._topic = topic
        self._public_url = public_url.rstrip("/")
        self._channel = channel
        self._portal = portal

    def due(self, changed: Mapping[SeriesKey, datetime], *, now: datetime) -> list[SeriesKey]:
        """Of the series whose figures just changed (each with the end of the earliest of its changed
        periods), those a judgement now could decide anything about: a closed period changed. Judging reads
        only closed periods, so a change to the period still open (what steady load brings) decides nothing
        until it closes, and the sweeper judges the series then (`series_due`); the time-based rule is the
        sweeper's too. A series of a tenant no longer configured is passed on, for `judge` to retire."""
        out: list[SeriesKey] = []
        for key, earliest_end in changed.items():
            tenant = self.catalog.tenants.get(key.tenant)
            if tenant is None or earliest_end <= closed_by(tenant.config.alert_policy, now):
                out.append(key)
        return out

    async def judge(
        self, repo: AlertsRepository, key: SeriesKey, *, now: datetime | None = None, correlation_id: str | None = None
    ) -> Judged:
        """Judge one series: each newly closed period in order (the history as it stood when that period
        closed), then once more with the whole history at `now` for the time-based rule.

        `correlation_id` names the score event that made this judgement due; the transitions it causes
        record and carry it (None: the sweeper judges because time passed).
        """
        now = now or self.clock()
        tenant = self.catalog.tenants.get(key.tenant)
        exists, judged_through = await repo.lock_series(key)
        if tenant is None or not exists:
            await repo.mark_judged(key, None)
            return Judged(0, [])
        policy = tenant.config.alert_policy
        history = await repo.history(key, closed_before=closed_by(policy, now))
        stored = await repo.active_alert(key)
        if not policy.alerts_on(tenant.models.get(key.model), key.dimension):
            # Stored (for a backtest, or the policy changing back) but never judged: nothing opens, and an
            # alert opened before the tenant left the dimension out is closed.
            closed = await self._close_not_alerted(repo, key, tenant, stored, history, now=now) if stored else None
            await repo.mark_judged(key, history[-1].period_end if history else None)
            return Judged(0, [closed.to_state] if closed else [], (closed,) if closed else ())
        made: list[Change] = []
        new_ends = [i for i, p in enumerate(history) if judged_through is None or p.period_end > judged_through]
        steps = [i + 1 for i in new_ends] or ([len(history)] if history else [])
        for end in steps:
            # Routed against the org as it was in the period being judged (its last day).
            then = await self._tenant_at(tenant, org_day(history[end - 1].period_end))
            levels = levels_available(then.org, key.unit)
            decision = decide(
                history[:end], stored.snapshot if stored else None, policy, now=now, levels_available=levels
            )
            if not isinstance(decision, NoChange):
                stored, change = await self._act(
                    repo, key, then, stored, decision, history[:end], now=now, correlation_id=correlation_id
                )
                made.append(change)
        await repo.mark_judged(key, history[-1].period_end if history else None)
        return Judged(len(steps), [c.to_state for c in made], tuple(made))

    async def _close_not_alerted(
        self,
        repo: AlertsRepository,
        key: SeriesKey,
        tenant: Tenant,
        stored: StoredAlert,
        history: Sequence[PeriodScore],
        *,
        now: datetime,
    ) -> Change:
        """Resolve an alert on a series the policy no longer alerts on. Like a resolution by hand it is
        published and sent to the webhook but e-mails nobody: "recovered" would not be true."""
        decision = not_alerted(tenant.config.alert_policy)
        snapshot = apply_decision(stored.snapshot, decision, now=now)
        if snapshot is None:
            raise ValueError("a state change left no alert")
        await repo.save_alert(stored.alert_id, key, snapshot, now=now)
        return await self._record(
            repo,
            key,
            tenant,
            _Transition(
                alert_id=stored.alert_id,
                from_state=stored.snapshot.state,
                snapshot=snapshot,
                rule=decision.rule,
                reason=decision.reason,
                period=history[-1].period if history else snapshot.baseline_period,
                actor="tempen",
                evidence=(),
                history=history,
                email=None,
            ),
            now=now,
        )

    async def _tenant_at(self, tenant: Tenant, day: date) -> Tenant:
        """The tenant with its org tree as it stood on `day` (the configured tree without an org copy)."""
        if self._org_at is None:
            return tenant
        return replace(tenant, org=await self._org_at(tenant.id, day))

    async def _act(
        self,
        repo: AlertsRepository,
        key: SeriesKey,
        tenant: Tenant,
        stored: StoredAlert | None,
        decision: StateChange,
        history: Sequence[PeriodScore],
        *,
        now: datetime,
        correlation_id: str | None,
    ) -> tuple[StoredAlert, Change]:
        snapshot = apply_decision(stored.snapshot if stored else None, decision, now=now)
        if snapshot is None:
            raise ValueError("a state change left no alert")
        continuing = stored is not None and not isinstance(decision, OpenAlert)
        alert_id = stored.alert_id if stored is not None and continuing else uuid.uuid4().hex
        quiet = (
            quiet_reason(
                rule=decision.rule,
                period=history[-1].period,
                period_end=history[-1].period_end,
                policy=tenant.config.alert_policy,
                quiet_history_days=tenant.config.notifications.quiet_history_days,
                now=now,
                zone=tenant.config.zone,
            )
            if history
            else None
        )
        kind: NotificationKind = (
            "escalated_to_hr" if isinstance(decision, Escalate) and decision.to_hr else KIND[type(decision)]
        )
        explanation = explain(
            decision,
            tenant.config.alert_policy,
            alert=stored.snapshot if continuing and stored is not None else None,
            history=history,
            now=now,
        )
        timeline: list[TimelineEntry] = []
        if quiet is None and continuing and await repo.untold(alert_id):
            # Its earlier transitions were history nobody heard of: say so, rather than "escalated"/"recovered".
            if isinstance(decision, Resolve):
                quiet = UNTOLD_RESOLVED
            else:
                kind = "found_in_history"
                timeline = [
                    *await repo.timeline(alert_id),
                    TimelineEntry(history[-1].period, snapshot.state, snapshot.level),
                ]
        await repo.save_alert(alert_id, key, snapshot, now=now)
        change = await self._record(
            repo,
            key,
            tenant,
            _Transition(
                alert_id=alert_id,
                from_state=stored.snapshot.state if stored is not None and continuing else None,
                snapshot=snapshot,
                rule=decision.rule,
                reason=decision.reason,
                period=history[-1].period if history else "",
                actor="tempen",
                evidence=decision.evidence,
                history=history,
                email=kind,
                correlation_id=correlation_id,
                quiet_reason=quiet,
                timeline=timeline,
                moved_from=stored.snapshot.level if stored is not None and isinstance(decision, Escalate) else None,
                explanation=explanation,
            ),
            now=now,
        )
        return StoredAlert(alert_id, snapshot), change

    async def acknowledge(
        self,
        repo: AlertsRepository,
        *,
        tenant_id: str,
        alert_id: str,
        action_plan: str,
        follow_up: date | None,
        actor: str,
        now: datetime | None = None,
    ) -> StoredAlert | None:
        """Acknowledge at the alert's current level with an action plan; None when there is no such alert.

        The acknowledgement is also a revision of the alert's plan (`domain.plans.from_acknowledgement`):
        its text becomes what will be done and its follow-up date the due date, under `actor`.

        Raises:
            AlertNotActiveError: the alert is resolved.
            PlanError: the text or the date breaks the plan's rules (naming action_plan or follow_up_date).
        """
        now = now or self.clock()
        found = await self._active(repo, tenant_id, alert_id)
        if found is None:
            return None
        stored, key, tenant = found
        snapshot = acknowledge(stored.snapshot, now=now)
        plan = await repo.plan(alert_id)
        revision = from_acknowledgement(
            plan.current,
            action_plan=action_plan,
            follow_up=follow_up,
            by=actor,
            now=now,
            opened_on=_day(stored.snapshot.opened_at, tenant),
            today=_day(now, tenant),
        )
        await repo.save_alert(alert_id, key, snapshot, now=now)
        if revision is not None:
            await repo.add_plan_revision(alert_id, tenant_id, revision)
        await self._record(
            repo,
            key,
            tenant,
            _Transition(
                alert_id=alert_id,
                from_state=stored.snapshot.state,
                snapshot=snapshot,
                rule="acknowledged",
                reason="acknowledged with an action plan",  # the plan itself stays in the alert, never in events
                period=snapshot.baseline_period,
                actor=actor,
                evidence=(),
                history=await self._shown_history(repo, key, tenant, now=now),
                email=None,
            ),
            now=now,
        )
        return StoredAlert(alert_id, snapshot)

    async def resolve_by_hand(
        self,
        repo: AlertsRepository,
        *,
        tenant_id: str,
        alert_id: str,
        reason: str,
        actor: str,
        now: datetime | None = None,
    ) -> StoredAlert | None:
        """Resolve an active alert with a person's reason; None when there is no such alert.

        Nobody is e-mailed (the person resolving it tells whom they need to); the transition is
        published and sent to the tenant's webhook like any other.

        Raises:
            AlertNotActiveError: the alert is already resolved.
        """
        now = now or self.clock()
        found = await self._active(repo, tenant_id, alert_id)
        if found is None:
            return None
        stored, key, tenant = found
        snapshot = replace(stored.snapshot, state="resolved")
        await repo.save_alert(alert_id, key, snapshot, now=now)
        await self._record(
            repo,
            key,
            tenant,
            _Transition(
                alert_id=alert_id,
                from_state=stored.snapshot.state,
                snapshot=snapshot,
                rule="resolved_by_hand",
                reason=reason,
                period=snapshot.baseline_period,
                actor=actor,
                evidence=(),
                history=await self._shown_history(repo, key, tenant, now=now),
                email=None,
            ),
            now=now,
        )
        return StoredAlert(alert_id, snapshot)

    async def revise_plan(
        self,
        repo: AlertsRepository,
        *,
        tenant_id: str,
        alert_id: str,
        change: PlanChange,
        actor: str,
        now: datetime | None = None,
    ) -> Plan | None:
        """Write the alert's action plan, or its next revision, under `actor`; returns the plan as it now
        stands (unchanged when `change` repeats the current revision), None when there is no such alert.

        Raises:
            PlanError: a part is missing or breaks its bounds.
            PlanClosedError: the alert resolved longer ago than the plan stays open.
        """
        now = now or self.clock()
        found = await self._plan_target(repo, tenant_id, alert_id, now=now)
        if found is None:
            return None
        stored, tenant = found
        plan = await repo.plan(alert_id)
        revision = revise(
            plan.current,
            change,
            by=actor,
            now=now,
            opened_on=_day(stored.snapshot.opened_at, tenant),
            today=_day(now, tenant),
        )
        if revision is None:
            return plan
        await repo.add_plan_revision(alert_id, tenant_id, revision)
        plan_logger.info(
            "plan revised", tenant=tenant_id, alert_id=alert_id, revision=revision.revision, status=revision.status
        )
        return Plan(revisions=(*plan.revisions, revision), comments=plan.comments)

    async def comment_on_plan(
        self,
        repo: AlertsRepository,
        *,
        tenant_id: str,
        alert_id: str,
        text: str,
        actor: str,
        now: datetime | None = None,
    ) -> PlanComment | None:
        """Add a follow-up comment to the alert's plan under `actor`; None when there is no such alert.

        Raises:
            PlanError: the text is empty, too long or holds control characters.
            PlanClosedError: the alert resolved longer ago than the plan stays open.
        """
        now = now or self.clock()
        found = await self._plan_target(repo, tenant_id, alert_id, now=now)
        if found is None:
            return None
        written = comment(text, by=actor, now=now)
        await repo.add_plan_comment(alert_id, tenant_id, written)
        plan_logger.info("plan commented", tenant=tenant_id, alert_id=alert_id)
        return written

    async def _plan_target(
        self, repo: AlertsRepository, tenant_id: str, alert_id: str, *, now: datetime
    ) -> tuple[StoredAlert, Tenant] | None:
        """The alert, locked (so revisions are numbered one at a time), if its plan takes changes now."""
        tenant = self.catalog.tenants.get(tenant_id)
        stored = await repo.alert(tenant_id, alert_id, for_update=True)
        if tenant is None or stored is None:
            return None
        resolved_at = None if stored.snapshot.is_active else await repo.resolved_at(alert_id)
        may_change(is_active=stored.snapshot.is_active, resolved_at=resolved_at, now=now)
        return stored, tenant

    # --- Plan reminders (docs/alerts.md, "Reminders when a plan's due date passes")

    async def reminders_due(self, repo: AlertsRepository, *, now: datetime) -> list[tuple[str, str]]:
        """(tenant, alert id) of the alerts whose plan may be due a reminder at `now`; `remind` decides each."""
        return await repo.plans_past_due(
            # No zone is more than a day from UTC, and a reminder comes at the earliest the morning after the
            # due date: these bounds take in every plan `reminder_due` could say yes to, in any tenant's zone.
            due_from=now.date() - REMINDER_TOO_LATE - timedelta(days=PLAN_REMINDER_DAYS_MAX + 1),
            due_by=now.date(),
            resolved_since=now - OPEN_AFTER_RESOLUTION,
        )

    async def remind(self, repo: AlertsRepository, tenant_id: str, alert_id: str, *, now: datetime) -> bool:
        """Remind whoever the alert sits with now that its plan's due date has passed, if it is due a reminder
        (`domain.plans.reminder_due`): the plan quoted, with their personal link. The reminder's audit row and
        its e-mail are written together in the caller's transaction, once per due date: a crash queues
        neither, and a second call (a retry, another replica) queues nothing. An alert nobody was told of
        (quiet history, docs/alerts.md) is reminded of by nobody. Returns whether a reminder was queued."""
        tenant = self.catalog.tenants.get(tenant_id)
        stored = await repo.alert(tenant_id, alert_id, for_update=True)  # a plan revised meanwhile waits, or wins
        key = await repo.series_of(tenant_id, alert_id)
        if tenant is None or stored is None or key is None:
            return False
        is_active = stored.snapshot.is_active
        zone = tenant.config.zone
        revision = reminder_due(
            await repo.plan(alert_id),
            after_days=tenant.config.notifications.plan_reminder_days,
            zone=zone,
            now=now,
            is_active=is_active,
            resolved_at=None if is_active else await repo.resolved_at(alert_id),
            reminded=await repo.reminded(alert_id),
        )
        if revision is None or revision.due is None or await repo.untold(alert_id):
            return False
        here = await self._tenant_at(tenant, _day(now, tenant))
        recipient = recipients(
            here.org,
            key.unit,
            level=stored.snapshot.level,
            inform_unit_manager=False,
            hr_email=tenant.config.hr_email,
        )[0]
        reminder_id = uuid.uuid5(NOTIFICATION_NAMESPACE, f"reminder|{alert_id}|{revision.due.isoformat()}")
        notification_id, url = self._addressed(tenant_id, alert_id, reminder_id, recipient, now=now)
        names = _names(here, key)
        email = render_plan_reminder(
            language=tenant.config.notifications.language,
            recipient=recipient,
            tenant_name=tenant.config.name,
            unit_name=names.unit,
            dimension_name=names.dimension,
            plan=await self._plan_shown(repo, alert_id, tenant),
            url=url,
        )
        row = replace(self._email_row(notification_id, recipient, email), recipient_role=PLAN_REMINDER_ROLE)
        queued = await repo.add_reminder(
            PlanReminder(
                reminder_id=reminder_id,
                alert_id=alert_id,
                tenant=tenant_id,
                due=revision.due,
                revision=revision.revision,
                level=stored.snapshot.level,
                recipient=recipient.email,
                reminded_at=now,
            ),
            [row],
        )
        if queued:
            plan_logger.info(
                "plan reminder queued",
                tenant=tenant_id,
                alert_id=alert_id,
                due_date=revision.due.isoformat(),
                revision=revision.revision,
                alert_level=stored.snapshot.level,
            )
        return queued

    async def history_due(self, repo: AlertsRepository, *, now: datetime) -> list[uuid.UUID]:
        """The backfills that have ended by `now`: none of their transitions for `history_settle`."""
        return await repo.settled_history_imports(quiet_since=now - self.history_settle)

    async def summarise_history(
        self, repo: AlertsRepository, import_id: uuid.UUID, *, now: datetime | None = None
    ) -> bool:
        """Tell what a quiet backfill left open, once: each alert still open whose latest transition was
        quiet in it is notified at its current level (the unit's manager informed), and HR gets one summary
        of every alert open now. All of it is queued with the mark that the backfill is summarised, in the
        caller's transaction: a crash queues nothing, and a second call does nothing.

        Returns whether it summarised (False: already done, gone, or a quiet transition came since).
        """
        now = now or self.clock()
        quiet_since = now - self.history_settle
        found = await repo.claim_history_import(import_id, quiet_since=quiet_since, lock=False)
        if found is None:
            return False
        # Judging locks an alert before it counts a quiet transition on the backfill's row: lock in that order.
        active = await repo.lock_active_alerts(found.tenant)
        claimed = await repo.claim_history_import(import_id, quiet_since=quiet_since)
        if claimed is None:
            return False
        tenant = self.catalog.tenants.get(claimed.tenant)
        if tenant is None:
            history_logger.warning("history not summarised: tenant no longer configured", tenant=claimed.tenant)
            await repo.finish_history_import(import_id, now=now)
            return True
        here = await self._tenant_at(tenant, now.astimezone(tenant.config.zone).date())
        hr = Recipient(email=tenant.config.hr_email, name=HR_NAME, role="hr", level=1)
        by_id = {alert.alert_id: alert for alert in active}
        told = 0
        for tail in await repo.quiet_tails(import_id):
            alert = by_id.get(tail.alert_id)
            if alert is None:
                continue
            rows = self._email_rows(
                here,
                alert.key,
                tail.transition_id,
                _Transition(
                    alert_id=alert.alert_id,
                    from_state=alert.snapshot.state,
                    snapshot=alert.snapshot,
                    rule="found_in_history",
                    reason=tail.reason,
                    period=alert.snapshot.baseline_period,
                    actor="tempen",
                    evidence=(),
                    history=await self._shown_history(repo, alert.key, tenant, now=now),
                    email="found_in_history",
                    explanation=Explanation.from_json(tail.explanation) if tail.explanation else None,
                ),
                "found_in_history",
                now=now,
                timeline=await repo.timeline(alert.alert_id),
                leave_out=hr.identity,  # HR's one summary lists the alerts that sit with HR
                plan=await self._plan_shown(repo, alert.alert_id, tenant),
            )
            if rows:
                await repo.add_notifications(
                    transition_id=tail.transition_id, alert_id=alert.alert_id, tenant=tenant.id, rows=rows
                )
                told += 1
        quiet = await repo.quiet_transitions(import_id)
        touched = {alert_id for alert_id, _ in quiet}
        summary = render_history_summary(
            language=tenant.config.notifications.language,
            tenant_name=tenant.config.name,
            transitions=claimed.quiet_transitions,
            quiet_days=tenant.config.notifications.quiet_history_days or 0,
            closed_in_history=await repo.resolved_in_history(import_id),
            open_now=[self._open_case(here, alert, alert.alert_id in touched) for alert in active],
            unit_managers_informed=tenant.config.alert_policy.inform_unit_manager,
        )
        if quiet:  # the summary is queued with the backfill's last quiet transition (the outbox needs one)
            alert_id, transition_id = quiet[-1]
            await repo.add_notifications(
                transition_id=transition_id,
                alert_id=alert_id,
                tenant=tenant.id,
                rows=[
                    NotificationRow(
                        notification_id=uuid.uuid5(NOTIFICATION_NAMESPACE, f"history|{import_id}|{self._channel}"),
                        channel=self._channel,
                        recipient=hr.email,
                        recipient_role=HR_SUMMARY_ROLE,
                        subject=summary.subject,
                        body_text=summary.text,
                        body_html=summary.html,
                    )
                ],
            )
        listed = [alert.alert_id for alert in active] if quiet else []  # what HR's summary named, if it went
        await repo.finish_history_import(import_id, now=now, listed=listed)
        history_logger.info(
            "history summarised",
            tenant=tenant.id,
            quiet_transitions=claimed.quiet_transitions,
            alerts_notified=told,
            open_alerts=len(active),
        )
        return True

    def _open_case(self, tenant: Tenant, alert: ActiveAlert, from_history: bool) -> OpenCase:
        names = _names(tenant, alert.key)
        main = recipients(
            tenant.org,
            alert.key.unit,
            level=alert.snapshot.level,
            inform_unit_manager=False,
            hr_email=tenant.config.hr_email,
        )[0]
        return OpenCase(
            unit_name=names.unit,
            dimension_name=names.dimension,
            state=alert.snapshot.state,
            level=alert.snapshot.level,
            sits_with=main.name,
            opened_period=alert.snapshot.opened_period,
            from_history=from_history,
            url=self.alert_url(tenant.id, alert.alert_id),
        )

    async def _active(
        self, repo: AlertsRepository, tenant_id: str, alert_id: str
    ) -> tuple[StoredAlert, SeriesKey, Tenant] | None:
        tenant = self.catalog.tenants.get(tenant_id)
        stored = await repo.alert(tenant_id, alert_id, for_update=True)
        key = await repo.series_of(tenant_id, alert_id)
        if tenant is None or stored is None or key is None:
            return None
        if not stored.snapshot.is_active:
            raise AlertNotActiveError(alert_id, stored.snapshot.state)
        return stored, key, tenant

    async def _shown_history(
        self, repo: AlertsRepository, key: SeriesKey, tenant: Tenant, *, now: datetime
    ) -> list[PeriodScore]:
        return await repo.history(key, closed_before=closed_by(tenant.config.alert_policy, now))

    async def _record(
        self, repo: AlertsRepository, key: SeriesKey, tenant: Tenant, change: _Transition, *, now: datetime
    ) -> Change:
        """The audit row, the notifications to deliver and the event, all in the caller's transaction.

        A quiet transition (history) is recorded and published alike but queues no notification; it is
        counted in the tenant's open backfill, which `summarise_history` tells about once it has ended.
        """
        transition_id = uuid.uuid4()
        history_import = await repo.note_quiet(key.tenant, now=now) if change.quiet_reason else None
        await repo.add_transition(
            transition_id=transition_id,
            alert_id=change.alert_id,
            tenant=key.tenant,
            from_state=change.from_state,
            to_state=change.snapshot.state,
            level=change.snapshot.level,
            rule=change.rule,
            reason=change.reason,
            period=change.period,
            actor=change.actor,
            evidence=[_evidence(p) for p in change.evidence],
            correlation_id=change.correlation_id,
            quiet_reason=change.quiet_reason,
            history_import=history_import,
            explanation=change.explanation.as_json() if change.explanation is not None else None,
        )
        rows = [] if change.quiet_reason else self._webhook_rows(tenant, key, transition_id, change, now=now)
        if change.email is not None and not change.quiet_reason:
            # The plan as it stands in this transaction, rendered into the rows the outbox delivers: an e-mail
            # about an alert that went on says what was agreed, and a retry after a crash says the same.
            plan = await self._plan_shown(repo, change.alert_id, tenant) if change.from_state is not None else None
            rows = (
                self._email_rows(
                    tenant, key, transition_id, change, change.email, now=now, timeline=change.timeline, plan=plan
                )
                + rows
            )
            if change.moved_from is not None and change.email in ("escalated", "escalated_to_hr"):
                # Not after history nobody heard of ("found_in_history"): the level below was never told.
                rows += self._moved_on_rows(tenant, key, transition_id, change, change.moved_from, now=now, plan=plan)
        if rows:
            await repo.add_notifications(
                transition_id=transition_id, alert_id=change.alert_id, tenant=key.tenant, rows=rows
            )
        event = AlertTransitioned(
            event_id=transition_id,
            occurred_at=now,
            alert_id=change.alert_id,
            tenant=key.tenant,
            unit=key.unit,
            dimension=key.dimension,
            model=key.model,
            from_state=change.from_state,
            to_state=change.snapshot.state,
            level=change.snapshot.level,
            reason=change.reason,
            period=change.period,
        )
        await repo.publish(
            [
                OutboxMessage.of(
                    self._topic(ALERTS.name),
                    partition_key(key.tenant, key.unit),
                    event,
                    # The submission's id where a score event caused this, so a trace goes on to other
                    # systems; the alert's own id where nothing did (time passed, a person acted).
                    {
                        correlation.HEADER: change.correlation_id or change.alert_id,
                        correlation.ALERT_HEADER: change.alert_id,
                    },
                )
            ]
        )
        return Change(
            alert_id=change.alert_id,
            tenant=key.tenant,
            unit=key.unit,
            dimension=key.dimension,
            from_state=change.from_state,
            to_state=change.snapshot.state,
            level=change.snapshot.level,
            rule=change.rule,
            period=change.period,
            correlation_id=change.correlation_id,
            notified=change.quiet_reason is None,
        )

    def _email_rows(
        self,
        tenant: Tenant,
        key: SeriesKey,
        transition_id: uuid.UUID,
        change: _Transition,
        kind: NotificationKind,
        *,
        now: datetime,
        timeline: Sequence[TimelineEntry] = (),
        leave_out: str | None = None,
        plan: Plan | None = None,
    ) -> list[NotificationRow]:
        policy = tenant.config.alert_policy
        names = _names(tenant, key)
        rows = []
        for recipient in recipients(
            tenant.org,
            key.unit,
            level=change.snapshot.level,
            inform_unit_manager=policy.inform_unit_manager,
            hr_email=tenant.config.hr_email,
        ):
            if recipient.identity == leave_out:
                continue
            notification_id, url = self._addressed(key.tenant, change.alert_id, transition_id, recipient, now=now)
            email = render_notification(
                language=tenant.config.notifications.language,
                kind=kind,
                recipient=recipient,
                tenant_name=tenant.config.name,
                unit_name=names.unit,
                dimension_name=names.dimension,
                history=change.history[-PERIODS_SHOWN:],
                threshold=policy.threshold,
                explanation=change.explanation,
                acknowledge_url=url,
                level=change.snapshot.level,
                timeline=timeline,
                plan=plan,
            )
            rows.append(self._email_row(notification_id, recipient, email))
        return rows

    def _addressed(
        self, tenant_id: str, alert_id: str, transition_id: uuid.UUID, recipient: Recipient, *, now: datetime
    ) -> tuple[uuid.UUID, str]:
        """One recipient's notification id (the same on a retry, so the outbox keeps one row) and link: their
        own, opening the portal signed in as them, or alerts' API address when there is no portal."""
        notification_id = uuid.uuid5(NOTIFICATION_NAMESPACE, f"{transition_id}|{recipient.identity}|{self._channel}")
        if self._portal is not None:
            return notification_id, self._portal.link(AlertLink(tenant_id, alert_id, notification_id, now))
        return notification_id, self.alert_url(tenant_id, alert_id)

    def _email_row(self, notification_id: uuid.UUID, recipient: Recipient, email: Email) -> NotificationRow:
        return NotificationRow(
            notification_id=notification_id,
            channel=self._channel,
            recipient=recipient.email,
            recipient_role=recipient.role,
            subject=email.subject,
            body_text=email.text,
            body_html=email.html,
        )

    def _moved_on_rows(
        self,
        tenant: Tenant,
        key: SeriesKey,
        transition_id: uuid.UUID,
        change: _Transition,
        from_level: int,
        *,
        now: datetime,
        plan: Plan | None = None,
    ) -> list[NotificationRow]:
        """The note to whoever the alert sat with before it escalated, in the escalation's own transaction
        (so a crash queues both or neither, and the outbox delivers each once)."""
        names = _names(tenant, key)
        level = change.snapshot.level
        policy = tenant.config.alert_policy
        now_with = recipients(
            tenant.org, key.unit, level=level, inform_unit_manager=False, hr_email=tenant.config.hr_email
        )[0]
        rows = []
        for recipient in moved_past(
            tenant.org,
            key.unit,
            from_level=from_level,
            to_level=level,
            inform_unit_manager=policy.inform_unit_manager,
            hr_email=tenant.config.hr_email,
        ):
            notification_id, url = self._addressed(key.tenant, change.alert_id, transition_id, recipient, now=now)
            email = render_moved_on(
                language=tenant.config.notifications.language,
                recipient=recipient,
                tenant_name=tenant.config.name,
                unit_name=names.unit,
                dimension_name=names.dimension,
                to_level=level,
                to_name=now_with.name,
                to_hr=now_with.role == "hr",
                rule=change.rule,
                explanation=change.explanation,
                url=url,
                plan=plan,
            )
            rows.append(self._email_row(notification_id, recipient, email))
        return rows

    def _webhook_rows(
        self, tenant: Tenant, key: SeriesKey, transition_id: uuid.UUID, change: _Transition, *, now: datetime
    ) -> list[NotificationRow]:
        url = tenant.config.notifications.webhook_url
        if url is None:
            return []
        names = _names(tenant, key)
        kind = WEBHOOK_KIND[change.snapshot.state]
        facts = AlertFacts(
            alert_id=change.alert_id,
            tenant=key.tenant,
            tenant_name=tenant.config.name,
            unit=key.unit,
            unit_name=names.unit,
            model=key.model,
            dimension=key.dimension,
            dimension_name=names.dimension,
            previous_state=change.from_state,
            state=change.snapshot.state,
            level=change.snapshot.level,
            rule=change.rule,
            reason=change.reason,
            threshold=tenant.config.alert_policy.threshold,
            history=change.history[-PERIODS_SHOWN:],
            acknowledge_url=self.alert_url(key.tenant, change.alert_id),
        )
        # Only the endpoint's origin is stored: relay URLs (Teams, Slack) often carry a token in their path.
        # The sender reads the full URL from the tenant's configuration when it delivers.
        origin = urlsplit(url)
        return [
            NotificationRow(
                notification_id=uuid.uuid5(NOTIFICATION_NAMESPACE, f"{transition_id}|webhook|{url}"),
                channel=WEBHOOK_CHANNEL,
                recipient=f"{origin.scheme}://{origin.netloc}",
                recipient_role="webhook",
                subject=kind,
                body_text=webhook_body(webhook_payload(kind, facts, occurred_at=now)),
                body_html="",
            )
        ]

    async def _plan_shown(self, repo: AlertsRepository, alert_id: str, tenant: Tenant) -> Plan:
        """The alert's plan as an e-mail quotes it: its times in the tenant's zone, so dates read as people's."""
        plan = await repo.plan(alert_id)
        zone = tenant.config.zone
        return Plan(
            revisions=tuple(replace(r, written_at=r.written_at.astimezone(zone)) for r in plan.revisions),
            comments=tuple(replace(c, written_at=c.written_at.astimezone(zone)) for c in plan.comments),
        )

    def alert_url(self, tenant: str, alert_id: str) -> str:
        return f"{self._public_url}/v1/tenants/{tenant}/alerts/{alert_id}"

    # --- Backtests: the rules replayed over a stored history, notifying nobody and writing nothing.

    async def backtest(
        self,
        history: ScoreHistory,
        tenant_id: str,
        *,
        policy: AlertPolicy | None = None,
        assume_acknowledged: bool = True,
        units: frozenset[str] | None = None,
    ) -> Backtest:
        """What the rules would have done with the tenant's closed periods under `policy` (None: the tenant's
        own), each series judged with the org as it stands today.

        Raises:
            InvalidPolicyError: `policy.alert_on` names what the tenant's models do not have.
            UnknownUnitsError: `units` names units that are not in the tenant's org.
            KeyError: no such tenant.
        """
        tenant = self.catalog.tenants[tenant_id]
        if policy is not None:
            problems = alert_on_problems(policy, tenant.models)
            if problems:
                raise InvalidPolicyError(problems)
        now = self.clock()
        tenant = await self._tenant_at(tenant, now.astimezone(tenant.config.zone).date())
        unknown = sorted(u for u in units or () if u not in tenant.org)
        if unknown:
            raise UnknownUnitsError(unknown)
        found = await history(tenant, closed_by=now, units=units)
        chosen = policy if policy is not None else tenant.config.alert_policy
        return backtest(tenant, found, chosen, assume_acknowledged=assume_acknowledged)


@dataclass(frozen=True, slots=True)
class PortalLinks:
    """Where the portal is and the secret it shares with alerts: each e-mail then carries its recipient's
    own signed link (`tempen_shared.links`) instead of the API's address."""

    url: str
    secret: bytes

    def link(self, alert_link: AlertLink) -> str:
        return f"{self.url.rstrip('/')}/l/{sign_link(self.secret, alert_link)}"


@dataclass(frozen=True, slots=True)
class _Names:
    unit: str
    dimension: str


def _names(tenant: Tenant, key: SeriesKey) -> _Names:
    model = tenant.models.get(key.model)
    dimension = next((d for d in (model.dimensions if model else ()) if d.id == key.dimension), None)
    if dimension is None and model is not None and model.total is not None and model.total.id == key.dimension:
        dimension = model.total
    swedish = tenant.config.notifications.language == "sv"
    dimension_name = (dimension.name_sv if swedish else dimension.name_en) if dimension else key.dimension
    unit = tenant.org.units.get(key.unit)
    return _Names(unit=unit.name if unit else key.unit, dimension=dimension_name)


def _day(instant: datetime, tenant: Tenant) -> date:
    return instant.astimezone(tenant.config.zone).date()


def _evidence(score: PeriodScore) -> dict[str, Any]:
    if score.index is None:
        return {"period": score.period, "suppressed": True}
    return {
        "period": score.period,
        "index": score.index,
        "respondents": score.respondents,
        "standard_error": score.standard_error,
        "tenant_index": score.tenant_index,
    }
