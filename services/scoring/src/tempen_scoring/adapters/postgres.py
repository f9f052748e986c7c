"""Scoring's store: one transaction per batch applies contributions, rescores the touched slices,
saves the changed score rows and puts their events in the outbox."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import asyncpg

from tempen_scoring.domain.index import Contribution, GroupAggregate
from tempen_scoring.rescoring import (
    AggregateDelta,
    GroupKey,
    IncomingContribution,
    IncomingRetraction,
    ScoreRow,
    SliceKey,
    StoredContribution,
    plan_changes,
    rescore_slice,
)
from tempen_shared.db import TRANSIENT_DB_ERRORS, Connection, StoreUnavailableError
from tempen_shared.events import DeadLetter, UnitScored
from tempen_shared.outbox import OutboxMessage, dead_letter_messages, enqueue
from tempen_shared.tenancy.loader import Catalog
from tempen_shared.topics import SCORES, partition_key

SCHEMA = "scoring"
SCORE_NAMESPACE = uuid.UUID("5d0a4c8e-7f3b-4b7e-9a51-3c2f0e6d9b10")

# Every model's row of each submission, and its tombstone if it was retracted.
_LOCK_CONTRIBUTIONS = f"""
SELECT c.tenant, c.submission_id, c.model, c.revision, c.instrument, c.unit, c.period, c.item_values,
       c.dimension_scores
FROM {SCHEMA}.contributions c
JOIN unnest($1::text[], $2::text[]) AS k(tenant, submission_id) USING (tenant, submission_id)
ORDER BY 1, 2, 3
FOR UPDATE OF c
"""

# A retraction removes the submission's rows and leaves one tombstone row (model '') at its revision.
_RETRACT = f"""
WITH gone AS (
    DELETE FROM {SCHEMA}.contributions c
    USING unnest($1::text[], $2::text[]) AS k(tenant, submission_id)
    WHERE c.tenant = k.tenant AND c.submission_id = k.submission_id
)
INSERT INTO {SCHEMA}.contributions
    (tenant, submission_id, model, revision, instrument, unit, period, item_values, dimension_scores, respondent)
SELECT tenant, submission_id, '', revision, '', '', '', '{{}}'::jsonb, '{{}}'::jsonb, NULL
FROM unnest($1::text[], $2::text[], $3::int[]) AS r(tenant, submission_id, revision)
"""

_UPSERT_CONTRIBUTIONS = f"""
INSERT INTO {SCHEMA}.contributions
    (tenant, submission_id, model, revision, instrument, unit, period, item_values, dimension_scores, respondent)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[],
                     $8::jsonb[], $9::jsonb[], $10::text[])
ON CONFLICT (tenant, submission_id, model) DO UPDATE SET
    revision = EXCLUDED.revision, instrument = EXCLUDED.instrument, unit = EXCLUDED.unit, period = EXCLUDED.period,
    item_values = EXCLUDED.item_values, dimension_scores = EXCLUDED.dimension_scores,
    respondent = EXCLUDED.respondent, scored_at = now()
"""

_UPSERT_GROUPS = f"""
INSERT INTO {SCHEMA}.groups (tenant, unit, instrument, model, period, period_start, period_end, respondents)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                     $7::timestamptz[], $8::int[])
ON CONFLICT (tenant, instrument, model, period, unit) DO UPDATE
    SET respondents = groups.respondents + EXCLUDED.respondents
"""

_UPSERT_COUNTS = f"""
INSERT INTO {SCHEMA}.item_counts (tenant, unit, instrument, model, period, item, value, count)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[])
ON CONFLICT (tenant, instrument, model, period, unit, item, value) DO UPDATE
    SET count = item_counts.count + EXCLUDED.count
"""

_UPSERT_MOMENTS = f"""
INSERT INTO {SCHEMA}.dimension_moments (tenant, unit, instrument, model, period, dimension, n, sum, sumsq)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
                     $8::numeric[], $9::numeric[])
ON CONFLICT (tenant, instrument, model, period, unit, dimension) DO UPDATE SET
    n = dimension_moments.n + EXCLUDED.n, sum = dimension_moments.sum + EXCLUDED.sum,
    sumsq = dimension_moments.sumsq + EXCLUDED.sumsq
"""

_SLICE_FILTER = "tenant = $1 AND instrument = $2 AND model = $3 AND period = $4"


class PostgresScoringStore:
    def __init__(
        self, pool: asyncpg.Pool, *, catalog: Catalog, topic: Callable[[str], str], on_commit: Callable[[], None]
    ) -> None:
        self._pool = pool
        self._catalog = catalog
        self._topic = topic
        self._on_commit = on_commit

    async def ping(self) -> bool:
        try:
            return bool(await self._pool.fetchval("SELECT true"))
        except TRANSIENT_DB_ERRORS:
            return False

    async def apply(
        self, incoming: Sequence[IncomingContribution | IncomingRetraction], dead_letters: Sequence[DeadLetter]
    ) -> tuple[int, int, int]:
        """Apply a batch in one transaction. Returns (applied, ignored as stale or duplicate, events published)."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                result = await self._apply(conn, incoming, dead_letters)
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailableError(str(exc)) from exc
        self._on_commit()
        return result

    async def _apply(
        self,
        conn: Connection,
        incoming: Sequence[IncomingContribution | IncomingRetraction],
        dead_letters: Sequence[DeadLetter],
    ) -> tuple[int, int, int]:
        keys = sorted({(i.tenant, i.submission_id) for i in incoming})
        stored = await self._locked(conn, keys)
        plan = plan_changes(incoming, stored)
        delta, winners, ignored = plan.delta, plan.winners, plan.ignored
        await self._apply_delta(conn, delta)
        if plan.tombstones:
            await conn.execute(
                _RETRACT,
                [t.tenant for t in plan.tombstones],
                [t.submission_id for t in plan.tombstones],
                [t.revision for t in plan.tombstones],
            )
        await self._save_contributions(conn, winners)
        messages = dead_letter_messages(dead_letters)
        for key in sorted(delta.touched_slices, key=lambda k: (k.tenant, k.instrument, k.model, k.period)):
            messages.extend(await self._rescore(conn, key))
        await enqueue(conn, SCHEMA, messages)
        published = len(messages) - len(dead_letters)
        return len(winners), ignored, published

    async def _locked(
        self, conn: Connection, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str, str], StoredContribution]:
        if not keys:
            return {}
        rows = await conn.fetch(_LOCK_CONTRIBUTIONS, *(list(col) for col in zip(*keys, strict=True)))
        out: dict[tuple[str, str, str], StoredContribution] = {}
        for r in rows:
            group = GroupKey(r["tenant"], r["unit"], r["instrument"], r["model"], r["period"])
            contribution = Contribution(
                item_values={k: int(v) for k, v in r["item_values"].items()},
                dimension_scores={k: float(v) for k, v in r["dimension_scores"].items()},
            )
            out[(r["tenant"], r["submission_id"], r["model"])] = StoredContribution(r["revision"], group, contribution)
        return out

    async def _apply_delta(self, conn: Connection, delta: AggregateDelta) -> None:
        groups = [(g, n) for g, n in delta.respondents.items()]
        if groups:
            cols: list[list[Any]] = [[] for _ in range(8)]
            for g, n in groups:
                period = delta.periods.get(g)
                start, end = (period.start, period.end) if period else (datetime.min.replace(tzinfo=UTC),) * 2
                for col, v in zip(
                    cols, (g.tenant, g.unit, g.instrument, g.model, g.period, start, end, n), strict=True
                ):
                    col.append(v)
            await conn.execute(_UPSERT_GROUPS, *cols)
        counts = [(g, item, value, n) for (g, item, value), n in delta.counts.items() if n]
        if counts:
            cols = [[] for _ in range(8)]
            for g, item, value, n in counts:
                for col, v in zip(
                    cols, (g.tenant, g.unit, g.instrument, g.model, g.period, item, value, n), strict=True
                ):
                    col.append(v)
            await conn.execute(_UPSERT_COUNTS, *cols)
        moments = [(g, d, m) for (g, d), m in delta.moments.items() if m[0] or m[1] or m[2]]
        if moments:
            cols = [[] for _ in range(9)]
            for g, dimension, (n, s, ss) in moments:
                for col, v in zip(
                    cols, (g.tenant, g.unit, g.instrument, g.model, g.period, dimension, n, s, ss), strict=True
                ):
                    col.append(v)
            await conn.execute(_UPSERT_MOMENTS, *cols)

    async def _save_contributions(self, conn: Connection, winners: Sequence[IncomingContribution]) -> None:
        if not winners:
            return
        cols: list[list[Any]] = [[] for _ in range(10)]
        for w in winners:
            values = (
                w.tenant,
                w.submission_id,
                w.group.model,
                w.revision,
                w.group.instrument,
                w.group.unit,
                w.group.period,
                dict(w.contribution.item_values),
                {k: float(v) for k, v in w.contribution.dimension_scores.items()},
                w.respondent,
            )
            for col, v in zip(cols, values, strict=True):
                col.append(v)
        await conn.execute(_UPSERT_CONTRIBUTIONS, *cols)

    async def _rescore(self, conn: Connection, key: SliceKey) -> list[OutboxMessage]:
        tenant = self._catalog.tenants[key.tenant]
        args = (key.tenant, key.instrument, key.model, key.period)
        group_rows = await conn.fetch(
            f"SELECT unit, respondents, period_start, period_end FROM {SCHEMA}.groups WHERE {_SLICE_FILTER}", *args
        )
        if not group_rows:
            return []
        period_start, period_end = group_rows[0]["period_start"], group_rows[0]["period_end"]
        counts: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
        for r in await conn.fetch(
            f"SELECT unit, item, value, count FROM {SCHEMA}.item_counts WHERE {_SLICE_FILTER} AND count <> 0", *args
        ):
            counts[r["unit"]][r["item"]][r["value"]] = r["count"]
        moments: dict[str, dict[str, tuple[int, Fraction, Fraction]]] = defaultdict(dict)
        for r in await conn.fetch(
            f"SELECT unit, dimension, n, sum, sumsq FROM {SCHEMA}.dimension_moments WHERE {_SLICE_FILTER} AND n <> 0",
            *args,
        ):
            moments[r["unit"]][r["dimension"]] = (r["n"], Fraction(r["sum"]), Fraction(r["sumsq"]))
        groups = {
            r["unit"]: GroupAggregate(
                respondents=r["respondents"],
                item_counts={item: dict(v) for item, v in counts[r["unit"]].items()},
                dimension_moments=dict(moments[r["unit"]]),
            )
            for r in group_rows
            if r["respondents"] > 0 and r["unit"] in tenant.org
        }
        rows, tenant_index = rescore_slice(tenant, key, groups)
        previous = {
            (r["unit"], r["scope"], r["dimension"]): r
            for r in await conn.fetch(
                f"SELECT unit, scope, dimension, respondents, publishable, index, standard_error, favourable_pct,"
                f" sequence FROM {SCHEMA}.scores WHERE {_SLICE_FILTER}",
                *args,
            )
        }
        model = tenant.models[key.model]
        changed: list[tuple[ScoreRow, int]] = []
        for row in rows:
            before = previous.get((row.unit, row.scope, row.dimension))
            if before is not None and _same(row, before):
                continue
            changed.append((row, (before["sequence"] if before else 0) + 1))
        if not changed:
            return []
        cols: list[list[Any]] = [[] for _ in range(19)]
        for row, sequence in changed:
            values = (
                key.tenant,
                row.unit,
                row.scope,
                key.instrument,
                key.model,
                model.version,
                row.dimension,
                key.period,
                period_start,
                period_end,
                row.respondents,
                row.publishable,
                row.suppression_reason,
                row.index,
                row.standard_error,
                row.favourable_pct,
                dict(row.details),
                sequence,
                datetime.now(UTC),
            )
            for col, v in zip(cols, values, strict=True):
                col.append(v)
        await conn.execute(
            f"""INSERT INTO {SCHEMA}.scores (tenant, unit, scope, instrument, model, model_version, dimension, period,
                period_start, period_end, respondents, publishable, suppression_reason, index, standard_error,
                favourable_pct, details, sequence, computed_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::timestamptz[], $10::timestamptz[], $11::int[], $12::bool[], $13::text[],
                $14::float8[], $15::float8[], $16::float8[], $17::jsonb[], $18::int[], $19::timestamptz[])
            ON CONFLICT (tenant, instrument, model, period, unit, scope, dimension) DO UPDATE SET
                model_version = EXCLUDED.model_version, respondents = EXCLUDED.respondents,
                publishable = EXCLUDED.publishable, suppression_reason = EXCLUDED.suppression_reason,
                index = EXCLUDED.index, standard_error = EXCLUDED.standard_error,
                favourable_pct = EXCLUDED.favourable_pct, details = EXCLUDED.details, sequence = EXCLUDED.sequence,
                computed_at = EXCLUDED.computed_at""",
            *cols,
        )
        now = datetime.now(UTC)
        return [
            _score_message(
                self._topic,
                key,
                model.version,
                row,
                sequence,
                period_start,
                period_end,
                tenant_index.get(row.dimension),
                now,
            )
            for row, sequence in changed
            if row.publishable and row.index is not None
        ]


def _same(row: ScoreRow, before: asyncpg.Record) -> bool:
    return (row.respondents, row.publishable, row.index, row.standard_error, row.favourable_pct) == (
        before["respondents"],
        before["publishable"],
        before["index"],
        before["standard_error"],
        before["favourable_pct"],
    )


def _score_message(
    topic: Callable[[str], str],
    key: SliceKey,
    model_version: str,
    row: ScoreRow,
    sequence: int,
    period_start: datetime,
    period_end: datetime,
    tenant_index: float | None,
    now: datetime,
) -> OutboxMessage:
    identity = (
        f"{key.tenant}|{row.unit}|{row.scope}|{key.instrument}|{key.model}|{row.dimension}|{key.period}|{sequence}"
    )
    event = UnitScored(
        event_id=uuid.uuid5(SCORE_NAMESPACE, identity),
        occurred_at=now,
        tenant=key.tenant,
        unit=row.unit,
        scope=row.scope,
        model=key.model,
        model_version=model_version,
        instrument=key.instrument,
        dimension=row.dimension,
        period=key.period,
        period_start=period_start,
        period_end=period_end,
        index=row.index or 0.0,  # only publishable rows, which always have an index, get here
        respondents=row.respondents,
        standard_error=row.standard_error,
        favourable_pct=row.favourable_pct,
        tenant_index=tenant_index,
        sequence=sequence,
    )
    return OutboxMessage.of(
        topic(SCORES.name), partition_key(key.tenant, row.unit), event, {"computed_at": now.isoformat()}
    )
