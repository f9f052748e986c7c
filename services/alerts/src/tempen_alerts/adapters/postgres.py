"""Alerts' store. SQL lives here only; the judging itself is in service.py and the domain."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any
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
from tempen_shared.db import TRANSIENT_DB_ERRORS, Connection, StoreUnavailableError
from tempen_shared.events import DimensionScore, UnitScored
from tempen_shared.events.wire import DimensionScoreRecord, UnitScoredRecord
from tempen_shared.outbox import OutboxMessage, enqueue
from tempen_shared.positions import Claim, Partition, Position, claim_partitions, save_positions
from tempen_shared.tenancy.loader import Tenant

SCHEMA = "alerts"


class PostgresAlertsRepository:
    """`ports.AlertsRepository`, bound to one connection inside one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        # What `prefetch` read for a batch of series, each used once by the call it stands in for.
        self._locked: dict[SeriesKey, datetime | None] = {}
        self._unlocked: set[SeriesKey] = set()  # prefetched keys with no series row
        self._histories: dict[SeriesKey, list[PeriodScore]] = {}
        self._active: dict[SeriesKey, StoredAlert | None] = {}
        self._batch: set[SeriesKey] = set()  # every key prefetched in this transaction
        self._judged: dict[SeriesKey, datetime | None] = {}  # mark_judged of prefetched series, written by flush

    async def save_positions(self, positions: Sequence[Position]) -> None:
        await save_positions(self.conn, SCHEMA, positions)

    async def prefetch(self, keys: Sequence[SeriesKey]) -> None:
        """Lock and read what judging `keys` needs in three statements instead of three per series.

        A batch of score events touches hundreds of series; one round trip each for the lock, the
        history and the active alert was most of what alerts spent per event. Locks are taken in key
        order, as the one-by-one path does, so replicas cannot deadlock.
        """
        if not keys:
            return
        ordered = sorted(set(keys), key=lambda k: (k.tenant, k.unit, k.instrument, k.model, k.dimension))
        self._batch.update(ordered)
        cols = _key_columns(ordered)
        join = "JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(tenant, unit, instrument, model, dimension) USING (tenant, unit, instrument, model, dimension)"  # noqa: E501
        locked = await self.conn.fetch(
            f"""SELECT tenant, unit, instrument, model, dimension, judged_through FROM {SCHEMA}.series {join}
                ORDER BY tenant, unit, instrument, model, dimension FOR UPDATE OF series""",
            *cols,
        )
        found = {SeriesKey(r[0], r[1], r[2], r[3], r[4]): r["judged_through"] for r in locked}
        self._locked.update(found)
        self._unlocked.update(k for k in ordered if k not in found)
        histories: dict[SeriesKey, list[PeriodScore]] = {k: [] for k in ordered}
        for r in await self.conn.fetch(
            f"""SELECT tenant, unit, instrument, model, dimension, period, period_end, index, respondents,
                    standard_error, tenant_index
                FROM {SCHEMA}.period_scores {join}
                ORDER BY tenant, unit, instrument, model, dimension, period_start""",
            *cols,
        ):
            histories[SeriesKey(r[0], r[1], r[2], r[3], r[4])].append(_period_score(r))
        self._histories.update(histories)
        active: dict[SeriesKey, StoredAlert | None] = dict.fromkeys(ordered)
        for r in await self.conn.fetch(
            f"""SELECT * FROM {SCHEMA}.alerts {join} WHERE state <> 'resolved'
                ORDER BY tenant, unit, instrument, model, dimension FOR UPDATE OF alerts""",
            *cols,
        ):
            active[SeriesKey(r["tenant"], r["unit"], r["instrument"], r["model"], r["dimension"])] = _stored(r)
        self._active.update(active)

    async def flush(self) -> None:
        """Write what was deferred (the judged marks of prefetched series); before the transaction commits."""
        if not self._judged:
            return
        keys = list(self._judged)
        await self.conn.execute(
            f"""UPDATE {SCHEMA}.series s
                SET rejudge = false, judged_through = greatest(s.judged_through, k.through)
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
                    AS k(tenant, unit, instrument, model, dimension, through)
                WHERE (s.tenant, s.unit, s.instrument, s.model, s.dimension)
                    = (k.tenant, k.unit, k.instrument, k.model, k.dimension)
                    -- a series judged with nothing new is not written again
                    AND (s.rejudge OR s.judged_through IS DISTINCT FROM greatest(s.judged_through, k.through))""",
            *_key_columns(keys),
            [self._judged[k] for k in keys],
        )
        self._judged.clear()

    async def upsert_scores(
        self, scores: Sequence[UnitScoredRecord | UnitScored], *, judging: bool = False
    ) -> dict[SeriesKey, datetime]:
        """Store the newest figures of each series and period; returns the series whose figures changed,
        each with the end of the earliest of its changed periods, flagged for the sweeper to judge. `judging`: the
        caller judges in this transaction what needs it (`AlertsService.due`), so none is flagged: a flag
        set here and cleared by `flush` wrote each series twice, and one whose open period changed is
        found by the sweeper once that period has closed."""
        # A batch can hold several events of one series and period when alerts lags behind scoring;
        # one INSERT .. ON CONFLICT may touch a row only once, and only the newest sequence counts.
        newest: dict[
            tuple[str, str, str, str, str, str],
            tuple[UnitScoredRecord | UnitScored, DimensionScoreRecord | DimensionScore],
        ] = {}
        for s in scores:
            if s.scope != "unit":
                continue
            for dimension, figures in s.dimensions.items():
                key = (s.tenant, s.unit, s.instrument, s.model, dimension, s.period)
                kept = newest.get(key)
                if kept is None or kept[0].sequence < s.sequence:
                    newest[key] = (s, figures)
        if not newest:
            return {}
        cols: list[list[Any]] = [[] for _ in range(13)]
        for (_, _, _, _, dimension, _), (s, f) in newest.items():
            values = (
                s.tenant,
                s.unit,
                s.instrument,
                s.model,
                dimension,
                s.period,
                s.period_start,
                s.period_end,
                f.index,
                s.respondents,
                f.standard_error,
                f.tenant_index,
                s.sequence,
            )
            for col, v in zip(cols, values, strict=True):
                col.append(v)
        changed = await self.conn.fetch(
            f"""INSERT INTO {SCHEMA}.period_scores (tenant, unit, instrument, model, dimension, period, period_start,
                    period_end, index, respondents, standard_error, tenant_index, sequence)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                    $7::timestamptz[], $8::timestamptz[], $9::float8[], $10::int[], $11::float8[], $12::float8[],
                    $13::int[])
                ON CONFLICT (tenant, unit, instrument, model, dimension, period) DO UPDATE SET
                    index = EXCLUDED.index, respondents = EXCLUDED.respondents,
                    standard_error = EXCLUDED.standard_error, tenant_index = EXCLUDED.tenant_index,
                    sequence = EXCLUDED.sequence, received_at = now()
                WHERE period_scores.sequence < EXCLUDED.sequence
                RETURNING tenant, unit, instrument, model, dimension, period_end""",
            *cols,
        )
        earliest: dict[SeriesKey, datetime] = {}
        for r in changed:
            series = SeriesKey(r["tenant"], r["unit"], r["instrument"], r["model"], r["dimension"])
            end = earliest.get(series)
            if end is None or r["period_end"] < end:
                earliest[series] = r["period_end"]
        keys = sorted(earliest, key=lambda k: (k.tenant, k.unit, k.instrument, k.model, k.dimension))
        if keys:
            conflict = "DO NOTHING" if judging else "DO UPDATE SET rejudge = true"
            await self.conn.execute(
                f"""INSERT INTO {SCHEMA}.series (tenant, unit, instrument, model, dimension, rejudge)
                    SELECT *, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                    ON CONFLICT (tenant, unit, instrument, model, dimension) {conflict}""",
                *_key_columns(keys),
                not judging,
            )
        return {key: earliest[key] for key in keys}

    async def series_due(self, *, now: datetime, limit: int = 500) -> list[SeriesKey]:
        """Series with a period that has closed since they were last judged, a rejudge flag, or an active alert."""
        rows = await self.conn.fetch(
            f"""SELECT s.tenant, s.unit, s.instrument, s.model, s.dimension FROM {SCHEMA}.series s
                WHERE s.rejudge
                   OR EXISTS (SELECT 1 FROM {SCHEMA}.period_scores p
                              WHERE (p.tenant, p.unit, p.instrument, p.model, p.dimension)
                                  = (s.tenant, s.unit, s.instrument, s.model, s.dimension)
                                AND p.period_end > coalesce(s.judged_through, '-infinity') AND p.period_end <= $1)
                   OR EXISTS (SELECT 1 FROM {SCHEMA}.alerts a
                              WHERE (a.tenant, a.unit, a.instrument, a.model, a.dimension)
                                  = (s.tenant, s.unit, s.instrument, s.model, s.dimension)
                                AND a.state <> 'resolved')
                ORDER BY 1, 2, 3, 4, 5 LIMIT $2""",
            now,
            limit,
        )
        return [SeriesKey(r["tenant"], r["unit"], r["instrument"], r["model"], r["dimension"]) for r in rows]

    async def lock_series(self, key: SeriesKey) -> tuple[bool, datetime | None]:
        """Lock the series row (serialises judging across replicas); returns (exists, judged_through)."""
        if key in self._locked:
            return True, self._locked.pop(key)
        if key in self._unlocked:
            self._unlocked.discard(key)
            return False, None
        row = await self.conn.fetchrow(
            f"""SELECT judged_through FROM {SCHEMA}.series
                WHERE tenant = $1 AND unit = $2 AND instrument = $3 AND model = $4 AND dimension = $5 FOR UPDATE""",
            key.tenant,
            key.unit,
            key.instrument,
            key.model,
            key.dimension,
        )
        return (row is not None, row["judged_through"] if row else None)

    async def history(self, key: SeriesKey, *, closed_before: datetime) -> list[PeriodScore]:
        prefetched = self._histories.pop(key, None)
        if prefetched is not None:
            return [p for p in prefetched if p.period_end <= closed_before]
        rows = await self.conn.fetch(
            f"""SELECT period, period_end, index, respondents, standard_error, tenant_index
                FROM {SCHEMA}.period_scores
                WHERE tenant = $1 AND unit = $2 AND instrument = $3 AND model = $4 AND dimension = $5
                  AND period_end <= $6
                ORDER BY period_start""",
            key.tenant,
            key.unit,
            key.instrument,
            key.model,
            key.dimension,
            closed_before,
        )
        return [_period_score(r) for r in rows]

    async def mark_judged(self, key: SeriesKey, through: datetime | None) -> None:
        if key in self._batch:  # a prefetched series: one UPDATE for all of them in `flush`
            before = self._judged.get(key)
            self._judged[key] = through if before is None or (through is not None and through > before) else before
            return
        await self.conn.execute(
            f"""UPDATE {SCHEMA}.series
                SET rejudge = false, judged_through = greatest(judged_through, $6)
                WHERE tenant = $1 AND unit = $2 AND instrument = $3 AND model = $4 AND dimension = $5""",
            key.tenant,
            key.unit,
            key.instrument,
            key.model,
            key.dimension,
            through,
        )

    async def active_alert(self, key: SeriesKey) -> StoredAlert | None:
        if key in self._active:
            return self._active.pop(key)
        row = await self.conn.fetchrow(
            f"""SELECT * FROM {SCHEMA}.alerts
                WHERE tenant = $1 AND unit = $2 AND instrument = $3 AND model = $4 AND dimension = $5
                  AND state <> 'resolved' FOR UPDATE""",
            key.tenant,
            key.unit,
            key.instrument,
            key.model,
            key.dimension,
        )
        return _stored(row) if row else None

    async def alert(self, tenant: str, alert_id: str, *, for_update: bool = False) -> StoredAlert | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self.conn.fetchrow(
            f"SELECT * FROM {SCHEMA}.alerts WHERE tenant = $1 AND alert_id = $2{lock}", tenant, alert_id
        )
        return _stored(row) if row else None

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
        await self.conn.execute(
            f"""INSERT INTO {SCHEMA}.alerts (alert_id, tenant, unit, instrument, model, dimension, state, level,
                    opened_period, opened_at, baseline_period, baseline_index, acknowledged_at, last_escalated_at,
                    resolved_at, action_plan, follow_up_date, updated_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                        CASE WHEN $7 = 'resolved' THEN $15::timestamptz END, $16, $17, $15)
                ON CONFLICT (alert_id) DO UPDATE SET state = EXCLUDED.state, level = EXCLUDED.level,
                    baseline_period = EXCLUDED.baseline_period, baseline_index = EXCLUDED.baseline_index,
                    acknowledged_at = EXCLUDED.acknowledged_at, last_escalated_at = EXCLUDED.last_escalated_at,
                    resolved_at = coalesce(EXCLUDED.resolved_at, alerts.resolved_at),
                    action_plan = coalesce(EXCLUDED.action_plan, alerts.action_plan),
                    follow_up_date = coalesce(EXCLUDED.follow_up_date, alerts.follow_up_date),
                    updated_at = EXCLUDED.updated_at""",
            alert_id,
            key.tenant,
            key.unit,
            key.instrument,
            key.model,
            key.dimension,
            snapshot.state,
            snapshot.level,
            snapshot.opened_period,
            snapshot.opened_at,
            snapshot.baseline_period,
            snapshot.baseline_index,
            snapshot.acknowledged_at,
            snapshot.last_escalated_at,
            now,
            action_plan,
            follow_up,
        )

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
        history_import: UUID | None = None,
        explanation: dict[str, Any] | None = None,
    ) -> None:
        await self.conn.execute(
            f"""INSERT INTO {SCHEMA}.transitions (transition_id, alert_id, tenant, from_state, to_state, level, rule,
                    reason, period, actor, evidence, correlation_id, notified, quiet_reason, history_import,
                    explanation)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text IS NULL, $13, $14, $15)""",
            transition_id,
            alert_id,
            tenant,
            from_state,
            to_state,
            level,
            rule,
            reason,
            period,
            actor,
            evidence,
            correlation_id,
            quiet_reason,
            history_import,
            explanation,
        )

    async def note_quiet(self, tenant: str, *, now: datetime) -> UUID:
        import_id: UUID = await self.conn.fetchval(
            f"""INSERT INTO {SCHEMA}.history_imports (import_id, tenant, started_at, last_quiet_at, quiet_transitions)
                VALUES ($3, $1, $2, $2, 1)
                ON CONFLICT (tenant) WHERE summarised_at IS NULL DO UPDATE SET
                    last_quiet_at = greatest(history_imports.last_quiet_at, EXCLUDED.last_quiet_at),
                    quiet_transitions = history_imports.quiet_transitions + 1
                RETURNING import_id""",
            tenant,
            now,
            uuid4(),
        )
        return import_id

    async def settled_history_imports(self, *, quiet_since: datetime) -> list[UUID]:
        rows = await self.conn.fetch(
            f"""SELECT import_id FROM {SCHEMA}.history_imports
                WHERE summarised_at IS NULL AND last_quiet_at <= $1 ORDER BY started_at""",
            quiet_since,
        )
        return [r["import_id"] for r in rows]

    async def lock_active_alerts(self, tenant: str) -> list[ActiveAlert]:
        rows = await self.conn.fetch(
            f"""SELECT * FROM {SCHEMA}.alerts WHERE tenant = $1 AND state <> 'resolved'
                ORDER BY tenant, unit, instrument, model, dimension FOR UPDATE""",
            tenant,
        )
        return [
            ActiveAlert(
                r["alert_id"],
                SeriesKey(r["tenant"], r["unit"], r["instrument"], r["model"], r["dimension"]),
                _stored(r).snapshot,
            )
            for r in rows
        ]

    async def claim_history_import(
        self, import_id: UUID, *, quiet_since: datetime, lock: bool = True
    ) -> HistoryImport | None:
        locking = " FOR UPDATE" if lock else ""
        row = await self.conn.fetchrow(
            f"""SELECT import_id, tenant, quiet_transitions FROM {SCHEMA}.history_imports
                WHERE import_id = $1 AND summarised_at IS NULL AND last_quiet_at <= $2{locking}""",
            import_id,
            quiet_since,
        )
        return HistoryImport(row["import_id"], row["tenant"], row["quiet_transitions"]) if row else None

    async def quiet_tails(self, import_id: UUID) -> list[QuietTail]:
        rows = await self.conn.fetch(
            f"""SELECT a.alert_id, t.transition_id, t.reason, t.explanation FROM {SCHEMA}.alerts a
                JOIN LATERAL (SELECT transition_id, reason, explanation, notified, history_import
                              FROM {SCHEMA}.transitions
                              WHERE alert_id = a.alert_id ORDER BY seq DESC LIMIT 1) t ON true
                WHERE a.state <> 'resolved' AND t.history_import = $1 AND NOT t.notified
                ORDER BY a.tenant, a.unit, a.instrument, a.model, a.dimension""",
            import_id,
        )
        return [QuietTail(r["alert_id"], r["transition_id"], r["reason"], r["explanation"]) for r in rows]

    async def resolved_in_history(self, import_id: UUID) -> int:
        count: int = await self.conn.fetchval(
            f"""SELECT count(*) FROM {SCHEMA}.alerts a WHERE a.state = 'resolved' AND EXISTS (
                    SELECT 1 FROM {SCHEMA}.transitions t WHERE t.alert_id = a.alert_id AND t.history_import = $1)""",
            import_id,
        )
        return count

    async def quiet_transitions(self, import_id: UUID) -> list[tuple[str, UUID]]:
        rows = await self.conn.fetch(
            f"SELECT alert_id, transition_id FROM {SCHEMA}.transitions WHERE history_import = $1 ORDER BY seq",
            import_id,
        )
        return [(r["alert_id"], r["transition_id"]) for r in rows]

    async def untold(self, alert_id: str) -> bool:
        untold: bool = await self.conn.fetchval(
            f"""SELECT EXISTS (SELECT 1 FROM {SCHEMA}.transitions WHERE alert_id = $1 AND NOT notified)
                   AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.notifications
                                   WHERE alert_id = $1 AND recipient_role <> $2)
                   AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.history_imports
                                   WHERE summarised_at IS NOT NULL AND $1 = ANY (summarised_alerts))""",
            alert_id,
            HR_SUMMARY_ROLE,
        )
        return untold

    async def timeline(self, alert_id: str) -> list[TimelineEntry]:
        rows = await self.conn.fetch(
            f"SELECT period, to_state, level FROM {SCHEMA}.transitions WHERE alert_id = $1 ORDER BY seq", alert_id
        )
        return [TimelineEntry(r["period"], r["to_state"], r["level"]) for r in rows]

    async def finish_history_import(self, import_id: UUID, *, now: datetime, listed: Sequence[str] = ()) -> None:
        await self.conn.execute(
            f"UPDATE {SCHEMA}.history_imports SET summarised_at = $2, summarised_alerts = $3 WHERE import_id = $1",
            import_id,
            now,
            list(listed),
        )

    async def add_notifications(
        self, *, transition_id: UUID, alert_id: str, tenant: str, rows: Sequence[NotificationRow]
    ) -> None:
        await self.conn.executemany(
            f"""INSERT INTO {SCHEMA}.notifications (notification_id, transition_id, alert_id, tenant, channel,
                    recipient, recipient_role, subject, body_text, body_html)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                ON CONFLICT (transition_id, recipient, channel) DO NOTHING""",
            [
                (
                    r.notification_id,
                    transition_id,
                    alert_id,
                    tenant,
                    r.channel,
                    r.recipient,
                    r.recipient_role,
                    r.subject,
                    r.body_text,
                    r.body_html,
                )
                for r in rows
            ],
        )

    async def series_of(self, tenant: str, alert_id: str) -> SeriesKey | None:
        row = await self.conn.fetchrow(
            f"""SELECT tenant, unit, instrument, model, dimension FROM {SCHEMA}.alerts
                WHERE tenant = $1 AND alert_id = $2""",
            tenant,
            alert_id,
        )
        return SeriesKey(row["tenant"], row["unit"], row["instrument"], row["model"], row["dimension"]) if row else None

    async def active_counts(self) -> dict[str, int]:
        rows = await self.conn.fetch(
            f"SELECT state, count(*) AS n FROM {SCHEMA}.alerts WHERE state <> 'resolved' GROUP BY state"
        )
        return {row["state"]: int(row["n"]) for row in rows}

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        await enqueue(self.conn, SCHEMA, messages)

    # Action plans

    async def resolved_at(self, alert_id: str) -> datetime | None:
        resolved: datetime | None = await self.conn.fetchval(
            f"SELECT resolved_at FROM {SCHEMA}.alerts WHERE alert_id = $1 AND state = 'resolved'", alert_id
        )
        return resolved

    async def plan(self, alert_id: str) -> Plan:
        return await _read_plan(self.conn, alert_id)

    async def add_plan_revision(self, alert_id: str, tenant: str, revision: PlanRevision) -> None:
        await self.conn.execute(
            f"""INSERT INTO {SCHEMA}.plan_revisions (alert_id, revision, tenant, what, owner, due_date, status,
                    written_by, written_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            alert_id,
            revision.revision,
            tenant,
            revision.what,
            revision.owner,
            revision.due,
            revision.status,
            revision.written_by,
            revision.written_at,
        )
        await self.conn.execute(
            f"""UPDATE {SCHEMA}.alerts SET action_plan = $2, follow_up_date = $3, updated_at = $4
                WHERE alert_id = $1""",
            alert_id,
            revision.what,
            revision.due,
            revision.written_at,
        )

    async def add_plan_comment(self, alert_id: str, tenant: str, comment: PlanComment) -> None:
        await self.conn.execute(
            f"""INSERT INTO {SCHEMA}.plan_comments (alert_id, tenant, body, written_by, written_at)
                VALUES ($1, $2, $3, $4, $5)""",
            alert_id,
            tenant,
            comment.text,
            comment.written_by,
            comment.written_at,
        )

    async def plans_past_due(self, *, due_from: date, due_by: date, resolved_since: datetime) -> list[tuple[str, str]]:
        rows = await self.conn.fetch(
            f"""SELECT a.tenant, a.alert_id FROM {SCHEMA}.alerts a
                JOIN LATERAL (SELECT due_date, status FROM {SCHEMA}.plan_revisions
                              WHERE alert_id = a.alert_id ORDER BY revision DESC LIMIT 1) p ON true
                WHERE p.status <> 'done' AND p.due_date BETWEEN $1 AND $2
                  AND (a.state <> 'resolved' OR a.resolved_at >= $3)
                  AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.plan_reminders r
                                  WHERE r.alert_id = a.alert_id AND r.due_date = p.due_date)
                ORDER BY p.due_date, a.alert_id""",
            due_from,
            due_by,
            resolved_since,
        )
        return [(r["tenant"], r["alert_id"]) for r in rows]

    async def reminded(self, alert_id: str) -> frozenset[date]:
        rows = await self.conn.fetch(f"SELECT due_date FROM {SCHEMA}.plan_reminders WHERE alert_id = $1", alert_id)
        return frozenset(r["due_date"] for r in rows)

    async def add_reminder(self, reminder: PlanReminder, rows: Sequence[NotificationRow]) -> bool:
        recorded = await self.conn.fetchval(
            f"""INSERT INTO {SCHEMA}.plan_reminders (reminder_id, alert_id, due_date, tenant, revision, level,
                    recipient, reminded_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (alert_id, due_date) DO NOTHING RETURNING true""",
            reminder.reminder_id,
            reminder.alert_id,
            reminder.due,
            reminder.tenant,
            reminder.revision,
            reminder.level,
            reminder.recipient,
            reminder.reminded_at,
        )
        if not recorded:
            return False
        await self.conn.executemany(
            f"""INSERT INTO {SCHEMA}.notifications (notification_id, reminder_id, alert_id, tenant, channel,
                    recipient, recipient_role, subject, body_text, body_html)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            [
                (
                    r.notification_id,
                    reminder.reminder_id,
                    reminder.alert_id,
                    reminder.tenant,
                    r.channel,
                    r.recipient,
                    r.recipient_role,
                    r.subject,
                    r.body_text,
                    r.body_html,
                )
                for r in rows
            ],
        )
        return True


class PostgresAlertsStore:
    def __init__(self, pool: asyncpg.Pool, *, on_commit: Callable[[], None]) -> None:
        self.pool = pool
        self._on_commit = on_commit

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresAlertsRepository]:
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                repo = PostgresAlertsRepository(conn)
                yield repo
                await repo.flush()
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailableError(str(exc)) from exc
        self._on_commit()

    async def claim(self, group: str, partitions: Sequence[Partition], *, cluster: str) -> dict[Partition, Claim]:
        return await claim_partitions(self.pool, SCHEMA, group, partitions, cluster=cluster)

    async def ping(self) -> bool:
        try:
            return bool(await self.pool.fetchval("SELECT true"))
        except TRANSIENT_DB_ERRORS:
            return False


class PostgresAlertReader:
    """The read API's queries (`ports.AlertReader`), on the pool the service has once it is up."""

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def alerts(
        self, tenant: str, *, status: str | None, unit: str | None, recipient: str | None
    ) -> list[dict[str, Any]]:
        rows = await self._pool().fetch(
            # The plan's status rides along, so HR's list of open alerts shows it without a request per alert.
            f"""SELECT a.*, (SELECT p.status FROM {SCHEMA}.plan_revisions p WHERE p.alert_id = a.alert_id
                             ORDER BY p.revision DESC LIMIT 1) AS plan_status
                FROM {SCHEMA}.alerts a WHERE a.tenant = $1
                  AND ($2::text IS NULL OR a.state = $2) AND ($3::text IS NULL OR a.unit = $3)
                  AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM {SCHEMA}.notifications n
                        WHERE n.alert_id = a.alert_id AND lower(n.recipient) = lower($4)))
                ORDER BY a.updated_at DESC LIMIT 500""",
            tenant,
            status,
            unit,
            recipient,
        )
        return [dict(r) for r in rows]

    async def alert(self, tenant: str, alert_id: str) -> dict[str, Any] | None:
        row = await self._pool().fetchrow(
            f"SELECT * FROM {SCHEMA}.alerts WHERE tenant = $1 AND alert_id = $2", tenant, alert_id
        )
        return dict(row) if row is not None else None

    async def transitions(self, alert_id: str) -> list[dict[str, Any]]:
        rows = await self._pool().fetch(
            f"""SELECT from_state, to_state, level, rule, reason, period, actor, evidence, notified, quiet_reason,
                    explanation, created_at
                FROM {SCHEMA}.transitions WHERE alert_id = $1 ORDER BY seq""",
            alert_id,
        )
        return [dict(r) for r in rows]

    async def plan(self, alert_id: str) -> Plan:
        return await _read_plan(self._pool(), alert_id)

    async def notifications(self, alert_id: str) -> list[dict[str, Any]]:
        rows = await self._pool().fetch(
            f"""SELECT n.notification_id, n.recipient, n.recipient_role, n.channel, n.state, n.created_at, n.sent_at,
                    r.revoked_at AS link_revoked_at
                FROM {SCHEMA}.notifications n
                LEFT JOIN {SCHEMA}.link_revocations r ON r.notification_id = n.notification_id
                WHERE n.alert_id = $1 ORDER BY n.created_at""",
            alert_id,
        )
        return [dict(r) for r in rows]

    async def period_history(self, tenant: Tenant, *, closed_by: datetime, units: frozenset[str] | None) -> History:
        """`ports.PeriodScoreReader`: the tenant's copy of the scores, read in one read-only transaction."""
        async with self._pool().acquire() as conn, conn.transaction(readonly=True):
            rows = await conn.fetch(
                f"""SELECT unit, instrument, model, dimension, period, period_end, index, respondents,
                        standard_error, tenant_index
                    FROM {SCHEMA}.period_scores
                    WHERE tenant = $1 AND period_end <= $2 AND ($3::text[] IS NULL OR unit = ANY($3::text[]))
                    ORDER BY unit, instrument, model, dimension, period_start""",
                tenant.id,
                closed_by,
                sorted(units) if units is not None else None,
            )
        history: History = {}
        for r in rows:
            series = SeriesId(r["unit"], r["instrument"], r["model"], r["dimension"])
            history.setdefault(series, []).append(_period_score(r))
        return history


# Webhook notifications carry no personal link; every other channel is an e-mail with one.
# Only e-mails that carry a personal link: not the webhook, and not HR's summary of an imported history
# (it lists many alerts with API addresses, no link to revoke).
_HAS_LINK = f"n.channel <> 'webhook' AND n.recipient_role <> '{HR_SUMMARY_ROLE}'"


class PostgresLinkStore:
    """The personal links and their revocations (`ports.LinkStore`), on the pool the service has once it is up."""

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def links_of(self, tenant: str, recipient: str) -> list[dict[str, Any]]:
        rows = await self._pool().fetch(
            f"""SELECT n.notification_id, n.alert_id, a.unit, a.dimension, n.recipient, n.recipient_role, n.state,
                    n.created_at, n.sent_at, r.revoked_at, r.revoked_by, r.reason
                FROM {SCHEMA}.notifications n
                JOIN {SCHEMA}.alerts a ON a.alert_id = n.alert_id
                LEFT JOIN {SCHEMA}.link_revocations r ON r.notification_id = n.notification_id
                WHERE n.tenant = $1 AND lower(n.recipient) = lower($2) AND {_HAS_LINK}
                ORDER BY n.created_at DESC LIMIT 500""",
            tenant,
            recipient,
        )
        return [dict(r) for r in rows]

    async def revoke(
        self, tenant: str, notification_id: UUID, *, at: datetime, by: str, reason: str
    ) -> tuple[LinkRevocation, bool] | None:
        try:
            async with self._pool().acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    f"""INSERT INTO {SCHEMA}.link_revocations
                            (notification_id, tenant, alert_id, revoked_at, revoked_by, reason)
                        SELECT n.notification_id, n.tenant, n.alert_id, $3, $4, $5 FROM {SCHEMA}.notifications n
                        WHERE n.tenant = $1 AND n.notification_id = $2 AND {_HAS_LINK}
                        ON CONFLICT (notification_id) DO NOTHING
                        RETURNING notification_id, alert_id, revoked_at, revoked_by, reason""",
                    tenant,
                    notification_id,
                    at,
                    by,
                    reason,
                )
                if row is not None:
                    return _revocation(row), True
                row = await conn.fetchrow(
                    f"""SELECT notification_id, alert_id, revoked_at, revoked_by, reason
                        FROM {SCHEMA}.link_revocations WHERE tenant = $1 AND notification_id = $2""",
                    tenant,
                    notification_id,
                )
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailableError(str(exc)) from exc
        return (_revocation(row), False) if row is not None else None

    async def revoked_since(self, tenant: str, since: datetime) -> list[LinkRevocation]:
        rows = await self._pool().fetch(
            f"""SELECT notification_id, alert_id, revoked_at, revoked_by, reason FROM {SCHEMA}.link_revocations
                WHERE tenant = $1 AND revoked_at >= $2 ORDER BY revoked_at LIMIT 10000""",
            tenant,
            since,
        )
        return [_revocation(r) for r in rows]


def _revocation(row: asyncpg.Record) -> LinkRevocation:
    return LinkRevocation(
        notification_id=row["notification_id"],
        alert_id=row["alert_id"],
        revoked_at=row["revoked_at"],
        revoked_by=row["revoked_by"],
        reason=row["reason"],
    )


async def _read_plan(conn: Connection | asyncpg.Pool, alert_id: str) -> Plan:
    revisions = await conn.fetch(
        f"""SELECT revision, what, owner, due_date, status, written_by, written_at FROM {SCHEMA}.plan_revisions
            WHERE alert_id = $1 ORDER BY revision""",
        alert_id,
    )
    comments = await conn.fetch(
        f"SELECT body, written_by, written_at FROM {SCHEMA}.plan_comments WHERE alert_id = $1 ORDER BY seq",
        alert_id,
    )
    return Plan(
        revisions=tuple(
            PlanRevision(
                revision=r["revision"],
                what=r["what"],
                owner=r["owner"],
                due=r["due_date"],
                status=r["status"],
                written_by=r["written_by"],
                written_at=r["written_at"],
            )
            for r in revisions
        ),
        comments=tuple(
            PlanComment(text=c["body"], written_by=c["written_by"], written_at=c["written_at"]) for c in comments
        ),
    )


def _stored(row: asyncpg.Record) -> StoredAlert:
    return StoredAlert(
        alert_id=row["alert_id"],
        snapshot=AlertSnapshot(
            state=row["state"],
            level=row["level"],
            opened_period=row["opened_period"],
            opened_at=row["opened_at"],
            baseline_period=row["baseline_period"],
            baseline_index=row["baseline_index"],
            acknowledged_at=row["acknowledged_at"],
            last_escalated_at=row["last_escalated_at"],
        ),
    )


def _period_score(r: asyncpg.Record) -> PeriodScore:
    return PeriodScore(
        period=r["period"],
        period_end=r["period_end"],
        index=r["index"],
        respondents=r["respondents"],
        standard_error=r["standard_error"],
        tenant_index=r["tenant_index"],
    )


def _key_columns(keys: Sequence[SeriesKey]) -> list[list[str]]:
    return [
        [k.tenant for k in keys],
        [k.unit for k in keys],
        [k.instrument for k in keys],
        [k.model for k in keys],
        [k.dimension for k in keys],
    ]
