"""Alerts' use cases: take in scores, judge series as their periods close, act on decisions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from tempen_alerts.adapters.postgres import AlertsRepository, NotificationRow, SeriesKey, StoredAlert
from tempen_alerts.domain.messages import NotificationKind, render_notification
from tempen_alerts.domain.routing import levels_available, recipients
from tempen_alerts.domain.rules import (
    AlertSnapshot,
    Decision,
    Escalate,
    NoChange,
    OpenAlert,
    PeriodScore,
    Resolve,
    acknowledge,
    apply_decision,
    decide,
)
from tempen_shared.events import AlertTransitioned
from tempen_shared.outbox import OutboxMessage
from tempen_shared.tenancy.loader import Catalog, Tenant
from tempen_shared.topics import ALERTS, partition_key

NOTIFICATION_NAMESPACE = uuid.UUID("0f9b6c1e-2d4a-4c3b-8e7f-6a5b4c3d2e1f")
KIND: dict[type, NotificationKind] = {OpenAlert: "opened", Escalate: "escalated", Resolve: "resolved"}


@dataclass(frozen=True, slots=True)
class Judged:
    decisions: int
    transitions: list[str]  # to_state of each transition made


class AlertsService:
    def __init__(self, *, catalog: Catalog, topic: Any, public_url: str, channel: str) -> None:
        self.catalog = catalog
        self._topic = topic
        self._public_url = public_url.rstrip("/")
        self._channel = channel

    async def judge(self, repo: AlertsRepository, key: SeriesKey, *, now: datetime) -> Judged:
        """Judge one series: each newly closed period in order (as if judged when it closed), then once
        more at `now` for the time-based rule. Must run inside the caller's transaction."""
        tenant = self.catalog.tenants.get(key.tenant)
        exists, judged_through = await repo.lock_series(key)
        if tenant is None or not exists:
            await repo.mark_judged(key, None)
            return Judged(0, [])
        policy = tenant.config.alert_policy
        closed_before = now - timedelta(hours=policy.period_grace_hours)
        history = await repo.history(key, closed_before=closed_before)
        stored = await repo.active_alert(key)
        levels = levels_available(tenant.org, key.unit)
        made: list[str] = []
        new_ends = [i for i, p in enumerate(history) if judged_through is None or p.period_end > judged_through]
        steps = [i + 1 for i in new_ends] or ([len(history)] if history else [])
        for end in steps:
            decision = decide(
                history[:end], stored.snapshot if stored else None, policy, now=now, levels_available=levels
            )
            if not isinstance(decision, NoChange):
                stored = await self._act(repo, key, tenant, stored, decision, history[:end], now=now)
                made.append(stored.snapshot.state)
        await repo.mark_judged(key, history[-1].period_end if history else None)
        return Judged(len(steps), made)

    async def _act(
        self,
        repo: AlertsRepository,
        key: SeriesKey,
        tenant: Tenant,
        stored: StoredAlert | None,
        decision: Decision,
        history: Sequence[PeriodScore],
        *,
        now: datetime,
        actor: str = "tempen",
    ) -> StoredAlert:
        assert not isinstance(decision, NoChange)  # noqa: S101 - callers filter NoChange out
        snapshot = apply_decision(stored.snapshot if stored else None, decision, now=now)
        if snapshot is None:
            raise ValueError("a state change left no alert")
        alert_id = stored.alert_id if stored and isinstance(decision, Escalate | Resolve) else uuid.uuid4().hex
        from_state = stored.snapshot.state if stored and not isinstance(decision, OpenAlert) else None
        await repo.save_alert(alert_id, key, snapshot, now=now)
        transition_id = uuid.uuid4()
        period = history[-1].period if history else ""
        await repo.add_transition(
            transition_id=transition_id,
            alert_id=alert_id,
            tenant=key.tenant,
            from_state=from_state,
            to_state=snapshot.state,
            level=snapshot.level,
            rule=decision.rule,
            reason=decision.reason,
            period=period,
            actor=actor,
            evidence=[_evidence(p) for p in decision.evidence],
        )
        await repo.add_notifications(
            transition_id=transition_id,
            alert_id=alert_id,
            tenant=key.tenant,
            rows=self._notifications(tenant, key, transition_id, alert_id, decision, snapshot, history),
        )
        event = AlertTransitioned(
            event_id=transition_id,
            occurred_at=now,
            alert_id=alert_id,
            tenant=key.tenant,
            unit=key.unit,
            dimension=key.dimension,
            model=key.model,
            from_state=from_state,
            to_state=snapshot.state,
            level=snapshot.level,
            reason=decision.reason,
            period=period,
        )
        await repo.publish(
            [
                OutboxMessage.of(
                    self._topic(ALERTS.name), partition_key(key.tenant, key.unit), event, {"correlation_id": alert_id}
                )
            ]
        )
        return StoredAlert(alert_id, snapshot)

    def _notifications(
        self,
        tenant: Tenant,
        key: SeriesKey,
        transition_id: uuid.UUID,
        alert_id: str,
        decision: Decision,
        snapshot: AlertSnapshot,
        history: Sequence[PeriodScore],
    ) -> list[NotificationRow]:
        policy = tenant.config.alert_policy
        model = tenant.models.get(key.model)
        dimension = next((d for d in (model.dimensions if model else ()) if d.id == key.dimension), None)
        if dimension is None and model is not None and model.total is not None and model.total.id == key.dimension:
            dimension = model.total
        language = tenant.config.notifications.language
        dimension_name = (dimension.name_sv if language == "sv" else dimension.name_en) if dimension else key.dimension
        unit = tenant.org.units.get(key.unit)
        rows = []
        for recipient in recipients(
            tenant.org,
            key.unit,
            level=snapshot.level,
            inform_unit_manager=policy.inform_unit_manager,
            hr_email=tenant.config.hr_email,
        ):
            email = render_notification(
                language=language,
                kind=KIND[type(decision)],
                recipient=recipient,
                tenant_name=tenant.config.name,
                unit_name=unit.name if unit else key.unit,
                dimension_name=dimension_name,
                history=history[-6:],
                threshold=policy.threshold,
                reason=decision.reason,
                acknowledge_url=f"{self._public_url}/v1/tenants/{key.tenant}/alerts/{alert_id}",
            )
            rows.append(
                NotificationRow(
                    notification_id=uuid.uuid5(
                        NOTIFICATION_NAMESPACE, f"{transition_id}|{recipient.identity}|{self._channel}"
                    ),
                    channel=self._channel,
                    recipient=recipient.email,
                    recipient_role=recipient.role,
                    subject=email.subject,
                    body_text=email.text,
                    body_html=email.html,
                )
            )
        return rows

    async def acknowledge(
        self,
        repo: AlertsRepository,
        *,
        tenant_id: str,
        alert_id: str,
        now: datetime,
        action_plan: str,
        follow_up: date | None,
        actor: str,
    ) -> StoredAlert | None:
        stored = await repo.alert(tenant_id, alert_id, for_update=True)
        if stored is None or not stored.snapshot.is_active:
            return stored
        snapshot = acknowledge(stored.snapshot, now=now)
        key = await self._key_of(repo, alert_id)
        await repo.save_alert(alert_id, key, snapshot, now=now, action_plan=action_plan, follow_up=follow_up)
        await repo.add_transition(
            transition_id=uuid.uuid4(),
            alert_id=alert_id,
            tenant=tenant_id,
            from_state=stored.snapshot.state,
            to_state="acknowledged",
            level=snapshot.level,
            rule="acknowledged",
            reason="acknowledged with an action plan",
            period=snapshot.baseline_period,
            actor=actor,
            evidence=[],
        )
        return StoredAlert(alert_id, snapshot)

    async def _key_of(self, repo: AlertsRepository, alert_id: str) -> SeriesKey:
        row = await repo.conn.fetchrow(
            "SELECT tenant, unit, instrument, model, dimension FROM alerts.alerts WHERE alert_id = $1", alert_id
        )
        if row is None:
            raise LookupError(alert_id)
        return SeriesKey(row["tenant"], row["unit"], row["instrument"], row["model"], row["dimension"])


def _evidence(score: PeriodScore) -> dict[str, Any]:
    return {
        "period": score.period,
        "index": score.index,
        "respondents": score.respondents,
        "standard_error": score.standard_error,
        "tenant_index": score.tenant_index,
    }
