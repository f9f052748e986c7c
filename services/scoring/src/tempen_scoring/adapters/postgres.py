"""Scoring's store: one transaction per batch applies contributions and saves the changed units' totals;
on a tick, one transaction rescores the slices that changed and saves their changed score groups, which
the relay publishes from the table itself (`ScoreGroupsRelaySource`).

Rescoring is incremental (see `incremental`): the store keeps the slices it last wrote in memory and
rescores only the groups a batch can have changed. Every transaction that changes a slice bumps the
slice's row in `slice_versions` first; that row lock serialises writers of one slice across
replicas, and a version other than the one this process wrote last means someone else changed the
slice, so it is read again from the database and rescored whole.

Each slice is rolled up against the org tree in force on its period's last day (`org_at`, scoring's
copy of `tempen.org`), and `slice_versions` records the shape of that tree. When a new org version
changes the tree a slice's period falls under, `realign` rescores the slice whole against it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from sys import intern
from typing import Any

import asyncpg
import orjson

from tempen_scoring.domain.incremental import SliceState, StoredRow, Totals, deltas_by_slice, rescore_groups
from tempen_scoring.domain.index import Contribution
from tempen_scoring.domain.periods import Period
from tempen_scoring.domain.rescoring import (
    TOMBSTONE,
    GroupKey,
    IncomingContribution,
    IncomingRetraction,
    Plan,
    ScoreRow,
    SliceKey,
    StoredContribution,
    plan_changes,
)
from tempen_scoring.domain.ticks import TickPolicy, tick_due
from tempen_shared import correlation
from tempen_shared.clock import utc_now
from tempen_shared.db import TRANSIENT_DB_ERRORS, Connection, StoreUnavailableError
from tempen_shared.events import DeadLetter
from tempen_shared.events.wire import DimensionScoreRecord, UnitScoredRecord, encode_event
from tempen_shared.outbox import OutboxMessage, PositionedTable, dead_letter_messages, enqueue
from tempen_shared.positions import Claim, Partition, Position, claim_partitions, save_positions
from tempen_shared.tenancy.loader import Catalog, Tenant
from tempen_shared.tenancy.org import OrgTree, org_day
from tempen_shared.topics import SCORES, partition_key

SCHEMA = "scoring"
SCORE_NAMESPACE = uuid.UUID("5d0a4c8e-7f3b-4b7e-9a51-3c2f0e6d9b10")

# The ledger rows of a batch's submissions that were scored before, locked in one order.
_LOCK_LEDGER = f"""
SELECT l.tenant, l.submission_id, l.retracted_revision, l.contributions
FROM {SCHEMA}.ledger l
JOIN unnest($1::text[], $2::text[]) AS k(tenant, submission_id) USING (tenant, submission_id)
ORDER BY 1, 2
FOR UPDATE OF l
"""
_LEDGER_COLUMNS = ("tenant", "submission_id", "respondent", "retracted_revision", "contributions")

# Each batch's rows are COPYed into session-local staging tables (binary COPY encodes a row far more
# cheaply than array parameters do), then upserted into their tables in one statement each.
_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_unit_totals (tenant text, instrument text, model text, period text,
    unit text, period_start timestamptz, period_end timestamptz, respondents int, counts text, moments text)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_ledger (tenant text, submission_id text, respondent text,
    retracted_revision int, contributions jsonb) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_score_groups (tenant text, instrument text, model text, period text,
    unit text, scope text, model_version text, period_start timestamptz, period_end timestamptz, figures jsonb,
    sequence int, computed_at timestamptz, correlation_id text) ON COMMIT DELETE ROWS;
"""
_STAGE_COLUMNS = {
    "stage_unit_totals": (
        "tenant",
        "instrument",
        "model",
        "period",
        "unit",
        "period_start",
        "period_end",
        "respondents",
        "counts",
        "moments",
    ),
    "stage_ledger": _LEDGER_COLUMNS,
    "stage_score_groups": (
        "tenant",
        "instrument",
        "model",
        "period",
        "unit",
        "scope",
        "model_version",
        "period_start",
        "period_end",
        "figures",
        "sequence",
        "computed_at",
        "correlation_id",
    ),
}

# The changed units' totals, written whole: the slice's `slice_versions` row lock is held. Staged as JSON
# text that the adapter encodes itself (`_totals_json`), not through the pool's jsonb codec.
_SAVE_UNIT_TOTALS = f"""
INSERT INTO {SCHEMA}.unit_totals AS t
    (tenant, instrument, model, period, unit, period_start, period_end, respondents, counts, moments)
SELECT tenant, instrument, model, period, unit, period_start, period_end, respondents, counts::jsonb, moments::jsonb
FROM stage_unit_totals
ON CONFLICT (tenant, instrument, model, period, unit) DO UPDATE SET
    respondents = EXCLUDED.respondents, counts = EXCLUDED.counts, moments = EXCLUDED.moments
"""

# Corrections and retractions of submissions scored before: their ledger rows rewritten whole.
_UPDATE_LEDGER = f"""
INSERT INTO {SCHEMA}.ledger (tenant, submission_id, respondent, retracted_revision, contributions)
SELECT * FROM stage_ledger
ON CONFLICT (tenant, submission_id) DO UPDATE SET
    respondent = EXCLUDED.respondent, retracted_revision = EXCLUDED.retracted_revision,
    contributions = EXCLUDED.contributions, scored_at = now()
"""

_SLICE_FILTER = "tenant = $1 AND instrument = $2 AND model = $3 AND period = $4"

# Locks the touched slices in one order (no deadlock between replicas) and returns their new versions.
_BUMP_VERSIONS = f"""
INSERT INTO {SCHEMA}.slice_versions AS v (tenant, instrument, model, period, version, period_end)
SELECT tenant, instrument, model, period, 1, period_end
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
    AS k(tenant, instrument, model, period, period_end)
ORDER BY 1, 2, 3, 4
ON CONFLICT (tenant, instrument, model, period) DO UPDATE
    SET version = v.version + 1, period_end = coalesce(EXCLUDED.period_end, v.period_end), bumped_at = now()
RETURNING tenant, instrument, model, period, version, period_end, org_shape
"""

# The slices about to be scored, locked in one order (a batch's own are already locked by its bump).
_LOCK_SLICES = f"""
SELECT v.tenant, v.instrument, v.model, v.period, v.version, v.period_end, v.org_shape
FROM {SCHEMA}.slice_versions v
JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(tenant, instrument, model, period)
    USING (tenant, instrument, model, period)
ORDER BY 1, 2, 3, 4
FOR UPDATE OF v
"""

_SET_SCORED = f"""
UPDATE {SCHEMA}.slice_versions v SET scored_version = v.version, org_shape = coalesce(k.shape, v.org_shape)
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS k(tenant, instrument, model, period, shape)
WHERE (v.tenant, v.instrument, v.model, v.period) = (k.tenant, k.instrument, k.model, k.period)
"""

OrgAt = Callable[[str, date], Awaitable[OrgTree]]  # the tenant's org tree in force on a day


def _slice_values(key: SliceKey) -> tuple[str, str, str, str]:
    """The key's columns in table order: query arguments, and the order slices are locked in."""
    return (key.tenant, key.instrument, key.model, key.period)


def _slice_columns(keys: Sequence[SliceKey]) -> list[list[str]]:
    """The keys as four arrays (tenant, instrument, model, period), for `unnest` in one statement."""
    return [[k.tenant for k in keys], [k.instrument for k in keys], [k.model for k in keys], [k.period for k in keys]]


def _slice_of(r: asyncpg.Record) -> SliceKey:
    return SliceKey(r["tenant"], r["instrument"], r["model"], r["period"])


@dataclass(frozen=True, slots=True)
class _Bumped:
    version: int
    period_end: datetime | None
    org_shape: str | None


# Every write of a group draws the next revision: the relay publishes groups in that order from a
# position per broker (`ScoreGroupsRelaySource`). Taken under `REVISION_LOCK`.
_MERGE_SCORES = f"""
INSERT INTO {SCHEMA}.score_groups (tenant, instrument, model, period, unit, scope, model_version, period_start,
    period_end, figures, sequence, computed_at, correlation_id, revision)
SELECT *, nextval('{SCHEMA}.score_revision') FROM stage_score_groups
ON CONFLICT (tenant, instrument, model, period, unit, scope) DO UPDATE SET
    model_version = EXCLUDED.model_version, figures = EXCLUDED.figures, sequence = EXCLUDED.sequence,
    computed_at = EXCLUDED.computed_at, correlation_id = EXCLUDED.correlation_id, revision = EXCLUDED.revision
"""

# Held from before a transaction draws revisions until it commits: revision order is then commit order,
# so the relay, having read a revision, has read every lower one that will ever commit. Taken after
# the slices' row locks and before any score row's, and nothing else waits for it while holding a
# lock the holder needs, so it cannot deadlock.
REVISION_LOCK = int.from_bytes(
    hashlib.sha256(f"tempen-{SCHEMA}-score-revision".encode()).digest()[:8], "big", signed=True
)


# What the comparison with new rows needs of a slice's stored score rows, and no more: each group's
# figures hold every dimension's details too, and a slice's whole figures decoded are tens of MB (issue
# 14). A float's JSON text reads back as the same double in PostgreSQL as in orjson; jsonb_each gives
# the dimensions in jsonb's own key order, as decoding the whole figures did.
_STORED_ROWS = f"""
SELECT g.unit, g.scope, g.sequence, f.key AS dimension, (f.value ->> 'respondents')::integer AS respondents,
       (f.value ->> 'publishable')::boolean AS publishable, (f.value ->> 'index')::double precision AS index,
       (f.value ->> 'standard_error')::double precision AS standard_error,
       (f.value ->> 'favourable_pct')::double precision AS favourable_pct
FROM {SCHEMA}.score_groups g, jsonb_each(g.figures) f
WHERE g.tenant = $1 AND g.instrument = $2 AND g.model = $3 AND g.period = $4
"""


# Records per COPY into a staging table. A tick's records are built as they are taken (each group rescored
# then), so one COPY of a whole tick would hold its work under one statement's timeout (60 s) and a slow
# tick would time out again on every retry; a chunk bounds both the time per statement and the records
# held at once.
STAGE_CHUNK = 2_000


async def _stage(conn: Connection, table: str, records: Iterable[tuple[Any, ...]]) -> bool:
    """COPY the records into a staging table a chunk at a time, taking them from `records` as it goes (a
    generator is built as it is taken); returns whether there were any."""
    rows = iter(records)
    staged = False
    while chunk := list(islice(rows, STAGE_CHUNK)):
        await conn.copy_records_to_table(table, columns=_STAGE_COLUMNS[table], records=chunk)
        staged = True
    return staged


def _totals_json(totals: Totals) -> tuple[str, str]:
    """A unit's counts and moments as `unit_totals` stores them (migration 0005), as JSON text:
    {"item": {"value": count}} and {"dimension": [n, "sum", "sum of squares"]}. orjson writes the
    integer answer values as string keys itself, so the counts are not copied into a dict of strings
    first (issue 14: a unit row per changed unit and batch)."""
    return (
        orjson.dumps(totals.counts, option=orjson.OPT_NON_STR_KEYS).decode(),
        orjson.dumps(totals.fixed_moments()).decode(),
    )


class PostgresScoringStore:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        catalog: Catalog,
        topic: Callable[[str], str],
        on_commit: Callable[[], None],
        slice_cache: int = 4,
        org_at: OrgAt | None = None,
        on_written: Callable[[], None] = lambda: None,
        score_interval_s: float = 0.0,
        backlog_score_interval_s: float = 0.0,
        unscored_grace_s: float = 10.0,
    ) -> None:
        self._pool = pool
        self._catalog = catalog
        self._org_at = org_at
        self._on_written = on_written  # wakes the score ticker: scores wait for a tick
        self._topic = topic
        self._on_commit = on_commit
        self._slices: OrderedDict[SliceKey, SliceState] = OrderedDict()  # least recently used first
        self._slice_cache = slice_cache  # slices kept in memory; 0 rescores every slice from the database
        self._serial = asyncio.Lock()  # the cached slices change inside a transaction: one batch at a time
        # Slices whose score rows lag their totals, with the units changed since they were last scored
        # (None: rescore every group). Scored at most every `score_interval_s`, or every
        # `backlog_score_interval_s` while batches come full; a slice leaving the cache keeps its entry.
        self._unscored: dict[SliceKey, set[str] | None] = {}
        self._ticks = TickPolicy.of(score_interval_s, backlog_score_interval_s)
        self._backlog = False
        self._last_batch = self._last_scored = time.monotonic()
        self._last_tick_s = 0.0  # how long the last tick took
        self._unscored_grace_s = unscored_grace_s  # before the realigner rescores another writer's slice
        self._swept = False
        # (tenant, unit) -> the submission behind its next scores; (tenant, "") for the tenant's others
        self._causes: dict[tuple[str, str], str] = {}

    async def ping(self) -> bool:
        try:
            return bool(await self._pool.fetchval("SELECT true"))
        except TRANSIENT_DB_ERRORS:
            return False

    async def apply(
        self,
        incoming: Sequence[IncomingContribution | IncomingRetraction],
        dead_letters: Sequence[DeadLetter],
        *,
        realign: Sequence[SliceKey] = (),
        backlog: bool = False,
        positions: Sequence[Position] = (),
    ) -> tuple[int, int, int]:
        """Apply a batch in one transaction. Returns (applied, ignored as stale or duplicate, score rows written).

        The batch's slices get their new totals at once and their scores on the next tick, in this
        transaction if one is due. `backlog`: the batch came full, so more are waiting (ticks are
        longer then). `realign` slices are rescored whole from the database, against the org tree now
        in force, in this transaction. `positions`: the consumer's, saved first, under its epochs
        (PartitionFencedError when one has moved on).
        """
        async with self._serial:
            self._backlog = backlog
            self._last_batch = time.monotonic()
            due = bool(realign) or self._slice_cache == 0 or self._tick_due()
            try:
                return await self._transaction(incoming, dead_letters, realign, score=due, positions=positions)
            finally:
                # A backlog lasts while the next batch follows this one's end: a batch can take longer
                # than the steady interval, and the tick waiting for it must not see the backlog over.
                self._last_batch = time.monotonic()

    async def score_pending(self, *, force: bool = False) -> bool:
        """Write the scores of every slice whose scores lag its totals, if a tick is due (or `force`).
        Returns whether some are still waiting."""
        async with self._serial:
            if self._unscored and (force or self._tick_due()):
                await self._transaction([], [], (), score=True)
            return bool(self._unscored)

    def _tick_due(self) -> bool:
        return tick_due(
            self._ticks,
            now=time.monotonic(),
            last_scored=self._last_scored,
            last_batch=self._last_batch,
            backlog=self._backlog,
            last_tick_s=self._last_tick_s,
        )

    async def claim(self, group: str, partitions: Sequence[Partition], *, cluster: str) -> dict[Partition, Claim]:
        """Claim the group's partitions: a new epoch each, and the next offset stored for it on this cluster."""
        return await claim_partitions(self._pool, SCHEMA, group, partitions, cluster=cluster)

    async def _transaction(
        self,
        incoming: Sequence[IncomingContribution | IncomingRetraction],
        dead_letters: Sequence[DeadLetter],
        realign: Sequence[SliceKey],
        *,
        score: bool,
        positions: Sequence[Position] = (),
    ) -> tuple[int, int, int]:
        involved: set[SliceKey] = set()
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await save_positions(conn, SCHEMA, positions)
                result = await self._apply(conn, incoming, dead_letters, involved, realign, score=score)
        except TRANSIENT_DB_ERRORS as exc:
            self._forget(involved)
            raise StoreUnavailableError(str(exc)) from exc
        except BaseException:
            self._forget(involved)  # what was kept in memory may hold a batch that was rolled back
            raise
        self._on_commit()
        if result[2] or self._unscored:
            self._on_written()  # scores to compute on the next tick (the relay is woken by on_commit)
        return result

    def _forget(self, keys: Iterable[SliceKey]) -> None:
        """Drop what memory holds of these slices: their scores are recomputed whole from the database."""
        for key in keys:
            self._slices.pop(key, None)
            self._unscored[key] = None

    async def realign(self, key: SliceKey) -> int:
        """Rescore one slice whole against the tree now in force; returns the score rows that changed."""
        _, _, written = await self.apply([], [], realign=[key])
        return written

    async def misaligned(self) -> list[SliceKey]:
        """Slices last rolled up against another tree than the one now in force for their period, and
        slices whose scores lag their totals with no replica about to score them: left by a crash
        between a batch and its tick (bumped more than the grace ago; at start-up, any)."""
        grace = self._unscored_grace_s if self._swept else 0.0
        rows = await self._pool.fetch(
            f"SELECT tenant, instrument, model, period, period_end, org_shape, scored_version < version AS behind,"
            f" bumped_at < now() - make_interval(secs => $1) AS idle"
            f" FROM {SCHEMA}.slice_versions WHERE period_end IS NOT NULL ORDER BY 1, 2, 3, 4",
            grace,
        )
        self._swept = True
        out: list[SliceKey] = []
        for r in rows:
            tenant = self._catalog.tenants.get(r["tenant"])
            if tenant is None:
                continue  # a tenant removed from the configuration: nothing to roll up against
            key = _slice_of(r)
            if r["behind"]:
                # Its scores are due on a tick, against the tree in force then: this replica's own, or
                # another's that bumped it lately. Only one left idle lags for want of an owner.
                if r["idle"] and key not in self._unscored:
                    out.append(key)
            elif (await self._tree(tenant, r["period_end"])).shape != r["org_shape"]:
                out.append(key)
        return out

    async def _tree(self, tenant: Tenant, period_end: datetime) -> OrgTree:
        if self._org_at is None:
            return tenant.org
        return await self._org_at(tenant.id, org_day(period_end))

    async def _apply(
        self,
        conn: Connection,
        incoming: Sequence[IncomingContribution | IncomingRetraction],
        dead_letters: Sequence[DeadLetter],
        involved: set[SliceKey],
        realign: Sequence[SliceKey],
        *,
        score: bool,
    ) -> tuple[int, int, int]:
        keys = sorted({(i.tenant, i.submission_id) for i in incoming})
        stored, known = await self._locked(conn, keys)
        plan = plan_changes(incoming, stored)
        delta, winners, ignored = plan.delta, plan.winners, plan.ignored
        slices = sorted(set(delta.touched_slices) | set(realign), key=_slice_values)
        involved.update(slices)
        for key in realign:
            self._slices.pop(key, None)
        ends = {group.slice: period.end for group, period in delta.periods.items()}
        bumped = await self._bump_versions(conn, slices, ends)  # before any aggregate of these slices changes
        versions = {key: b.version for key, b in bumped.items()}
        then = {key: await self._tenant_then(key, bumped[key].period_end) for key in slices}
        await conn.execute(_STAGING)
        saving = asyncio.ensure_future(self._save_ledger(conn, plan, known))
        # While the database takes the ledger rows, advance the slices kept in memory: that needs nothing
        # from the database, so the two overlap instead of taking turns.
        advanced: dict[SliceKey, SliceState] = {}
        try:
            # Inside the try: should it raise, the ledger's task is still awaited before the rollback.
            per_slice = deltas_by_slice(delta, consume=True)  # the counts per group are not needed after
            await asyncio.sleep(0)  # let the ledger rows go out first
            for key in slices:
                state = self._slices.pop(key, None)
                tree = then[key].org
                if state is not None and state.version == versions[key] - 1 and state.shape == tree.shape:
                    units = state.advance(tree, per_slice.get(key, {}))
                    pending = self._unscored.get(key, set())
                    self._unscored[key] = None if pending is None else pending | units
                    self._note_causes(key.tenant, tree, units)
                    advanced[key] = state
        finally:
            await saving
        periods = {group.slice: period for group, period in delta.periods.items()}
        for key in slices:
            if key not in advanced:  # first time here, another writer or another tree: read it whole
                loaded = await self._load(conn, key, versions[key], then[key], periods.get(key))
                if loaded is not None:
                    self._note_causes(key.tenant, then[key].org, loaded.advance(then[key].org, per_slice.get(key, {})))
                    advanced[key] = loaded
                self._unscored[key] = None
        await self._save_unit_totals(conn, [(key, advanced[key], per_slice.get(key, {})) for key in advanced])
        for key, state in advanced.items():
            state.version = versions[key]
            self._slices[key] = state
        written = 0
        if score and self._unscored:
            unscored = dict(self._unscored)
            involved.update(unscored)
            started = time.monotonic()
            written = await self._score(conn, unscored)
            self._last_scored = time.monotonic()
            self._last_tick_s = self._last_scored - started
        while len(self._slices) > self._slice_cache:
            self._slices.popitem(last=False)  # its entry in `_unscored` stays: scored from the database
        await enqueue(conn, SCHEMA, dead_letter_messages(dead_letters))
        return len(winners), ignored, written

    def _note_causes(self, tenant: str, tree: OrgTree, units: Iterable[str]) -> None:
        """Remember the submission behind the next scores of these units and every unit above them, as the
        consumer says (`correlation.stamping`): scores are written on a later tick, outside the batch.
        The tenant's entry (unit "") is for groups no unit of the batch reached that change all the same."""
        topic = self._topic(SCORES.name)

        def cause(unit: str) -> str | None:
            return correlation.stamped(topic, partition_key(tenant, unit), {}).get(correlation.HEADER)

        tenant_cause = cause("")
        if tenant_cause is not None:
            self._causes[(tenant, "")] = tenant_cause
        for unit in {a for u in units for a in (u, *(above.id for above in tree.ancestors(u)))}:
            found = cause(unit)
            if found is not None:
                self._causes[(tenant, unit)] = found

    async def _tenant_then(self, key: SliceKey, period_end: datetime | None) -> Tenant:
        """The tenant with the org tree in force on the slice's period's last day."""
        tenant = self._catalog.tenants[key.tenant]
        return tenant if period_end is None else replace(tenant, org=await self._tree(tenant, period_end))

    async def _score(self, conn: Connection, unscored: Mapping[SliceKey, set[str] | None]) -> int:
        """Rescore the slices whose scores lag their totals and write what changed; returns the rows written.

        A slice kept in memory at the version now stored is rescored from memory, only the groups of
        the units changed since; any other (left the cache, changed by another replica, or rolled up
        against another tree now) is read from the database and rescored whole.
        """
        keys = sorted(unscored, key=_slice_values)
        locked = await conn.fetch(_LOCK_SLICES, *_slice_columns(keys))
        rescored: list[tuple[SliceKey, SliceState, Iterator[list[tuple[ScoreRow, int]]], dict[str, float]]] = []
        shapes: dict[SliceKey, str] = {}  # the tree each scored slice was rolled up against
        for r in locked:
            key = _slice_of(r)
            if key.tenant not in self._catalog.tenants:
                continue
            tenant = await self._tenant_then(key, r["period_end"])
            state = self._slices.get(key)
            units = unscored.get(key)
            if state is None or state.version != r["version"] or state.shape != tenant.org.shape:
                state = await self._load(conn, key, r["version"], tenant, None)
                units = None
                if state is None:
                    continue
                self._slices[key] = state
            rescored.append((key, state, *rescore_groups(tenant, key, state, units)))
            shapes[key] = tenant.org.shape
        written = await self._save_scores(conn, rescored)
        if locked:
            await conn.execute(_SET_SCORED, *_slice_columns(keys), [shapes.get(k) for k in keys])
        for key in keys:
            self._unscored.pop(key, None)
        self._causes.clear()  # every slice waiting was scored: the next scores have causes of their own
        return written

    async def _locked(
        self, conn: Connection, keys: Sequence[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str, str], StoredContribution], set[tuple[str, str]]]:
        """What the batch's submissions contribute now, per (tenant, submission, model) with tombstones
        (model ''), and which submissions have a ledger row; their rows stay locked to the end."""
        if not keys:
            return {}, set()
        rows = await conn.fetch(_LOCK_LEDGER, *(list(col) for col in zip(*keys, strict=True)))
        out: dict[tuple[str, str, str], StoredContribution] = {}
        for r in rows:
            tenant, submission = r["tenant"], r["submission_id"]
            for model, c in r["contributions"].items():
                out[(tenant, submission, model)] = StoredContribution(
                    c["revision"],
                    GroupKey(tenant, c["unit"], c["instrument"], model, c["period"]),
                    Contribution(item_values=c["item_values"], dimension_scores=c["dimension_scores"]),
                )
            if r["retracted_revision"] is not None:
                out[(tenant, submission, TOMBSTONE)] = StoredContribution(
                    r["retracted_revision"], GroupKey(tenant, "", "", TOMBSTONE, ""), Contribution({}, {})
                )
        return out, {(r["tenant"], r["submission_id"]) for r in rows}

    async def _save_ledger(self, conn: Connection, plan: Plan, known: set[tuple[str, str]]) -> None:
        """Write the ledger row of every submission the batch changed, whole: COPYed in when new, upserted
        through the staging table when it was scored before."""
        latest: dict[tuple[str, str], IncomingContribution] = {}
        for w in plan.winners:
            key = (w.tenant, w.submission_id)
            if key not in latest or latest[key].revision < w.revision:
                latest[key] = w
        changed = latest.keys() | {(t.tenant, t.submission_id) for t in plan.tombstones}
        rows: dict[tuple[str, str], tuple[dict[str, Any], int | None]] = {key: ({}, None) for key in changed}
        for (tenant, submission, model), c in plan.after.items():
            row = rows.get((tenant, submission))
            if row is None:
                continue
            if model == TOMBSTONE:
                rows[(tenant, submission)] = (row[0], c.revision)
                continue
            row[0][model] = {
                "revision": c.revision,
                "instrument": c.group.instrument,
                "unit": c.group.unit,
                "period": c.group.period,
                "item_values": dict(c.contribution.item_values),
                "dimension_scores": dict(c.contribution.dimension_scores),
            }
        new: list[tuple[Any, ...]] = []
        rewritten: list[tuple[Any, ...]] = []
        for key, (contributions, retracted) in rows.items():
            winner = latest.get(key)
            record = (*key, winner.respondent if winner is not None else None, retracted, contributions)
            (rewritten if key in known else new).append(record)
        if new:
            await conn.copy_records_to_table("ledger", schema_name=SCHEMA, columns=_LEDGER_COLUMNS, records=new)
        if rewritten:
            await _stage(conn, "stage_ledger", rewritten)
            await conn.execute(_UPDATE_LEDGER)

    async def _save_unit_totals(
        self, conn: Connection, changed: Sequence[tuple[SliceKey, SliceState, Mapping[str, Totals]]]
    ) -> None:
        """Write the totals of every unit a batch changed, whole, as the slices now hold them: streamed to
        COPY, a unit at a time, not a list of every changed unit's counts (issue 14)."""

        def records() -> Iterator[tuple[Any, ...]]:
            for key, state, deltas in changed:
                for unit in deltas:
                    totals = state.unit_totals(unit)
                    yield (
                        *_slice_values(key),
                        unit,
                        state.period_start,
                        state.period_end,
                        totals.respondents,
                        *_totals_json(totals),
                    )

        if await _stage(conn, "stage_unit_totals", records()):
            await conn.execute(_SAVE_UNIT_TOTALS)

    async def _bump_versions(
        self, conn: Connection, slices: Sequence[SliceKey], ends: dict[SliceKey, datetime]
    ) -> dict[SliceKey, _Bumped]:
        if not slices:
            return {}
        rows = await conn.fetch(_BUMP_VERSIONS, *_slice_columns(slices), [ends.get(k) for k in slices])
        return {_slice_of(r): _Bumped(r["version"], r["period_end"], r["org_shape"]) for r in rows}

    async def _save_scores(
        self,
        conn: Connection,
        rescored: Sequence[tuple[SliceKey, SliceState, Iterator[list[tuple[ScoreRow, int]]], dict[str, float]]],
    ) -> int:
        """Write the changed groups of every slice, one row each, with the next revisions: the relay
        publishes their events (`ScoreGroupsRelaySource`). Returns the score rows (group and dimension)
        written.

        The groups are rescored as COPY takes them, one at a time: a tick holds one group's rows and
        record, not the 23,000 rows of a slice rescored whole (issue 14, docs/benchmarks.md)."""
        written = 0

        def records() -> Iterator[tuple[Any, ...]]:
            nonlocal written
            computed_at = utc_now()
            for key, state, groups, tenant_index in rescored:
                model_version = self._catalog.tenants[key.tenant].models[key.model].version
                for changed in groups:
                    unit, scope, sequence = changed[0][0].unit, changed[0][0].scope, changed[0][1]
                    figures: dict[str, Any] = {}
                    stored: dict[str, StoredRow] = {}
                    for row, _ in changed:
                        figures[row.dimension] = {
                            "respondents": row.respondents,
                            "publishable": row.publishable,
                            "suppression_reason": row.suppression_reason,
                            "index": row.index,
                            "standard_error": row.standard_error,
                            "favourable_pct": row.favourable_pct,
                            "details": dict(row.details),
                            "tenant_index": tenant_index.get(row.dimension),
                        }
                        stored[row.dimension] = StoredRow(
                            row.respondents,
                            row.publishable,
                            row.index,
                            row.standard_error,
                            row.favourable_pct,
                            sequence,
                        )
                    state.rows[(unit, scope)] = stored
                    written += len(figures)
                    cause = self._causes.get((key.tenant, unit)) or self._causes.get((key.tenant, ""))
                    yield (
                        *_slice_values(key),
                        unit,
                        scope,
                        model_version,
                        state.period_start,
                        state.period_end,
                        figures,
                        sequence,
                        computed_at,
                        cause,
                    )

        if await _stage(conn, "stage_score_groups", records()):
            await conn.execute("SELECT pg_advisory_xact_lock($1)", REVISION_LOCK)
            await conn.execute(_MERGE_SCORES)
        return written

    async def _load(
        self, conn: Connection, key: SliceKey, version: int, tenant: Tenant, period: Period | None
    ) -> SliceState | None:
        """The slice as the database holds it before this batch (the slice's row lock is held). A slice
        with no rows yet starts empty in `period`; with no period either, there is nothing to score."""
        rows = await conn.fetch(
            f"SELECT unit, period_start, period_end, respondents, counts, moments FROM {SCHEMA}.unit_totals"
            f" WHERE {_SLICE_FILTER}",
            *_slice_values(key),
        )
        if rows:
            period_start, period_end = rows[0]["period_start"], rows[0]["period_end"]
        elif period is not None:
            period_start, period_end = period.start, period.end
        else:
            return None
        direct = {
            intern(r["unit"]): Totals(
                respondents=r["respondents"],
                counts={
                    intern(item): {int(value): n for value, n in values.items()} for item, values in r["counts"].items()
                },
                moments={
                    intern(d): (n, Decimal(total), Decimal(squares)) for d, (n, total, squares) in r["moments"].items()
                },
            )
            for r in rows
        }
        stored: dict[tuple[str, str], dict[str, StoredRow]] = {}
        for r in await conn.fetch(_STORED_ROWS, *_slice_values(key)):
            group = (intern(r["unit"]), intern(r["scope"]))
            rows_of = stored.get(group)
            if rows_of is None:
                rows_of = stored[group] = {}
            rows_of[intern(r["dimension"])] = StoredRow(
                r["respondents"], r["publishable"], r["index"], r["standard_error"], r["favourable_pct"], r["sequence"]
            )
        return SliceState.build(
            tenant, version=version, period_start=period_start, period_end=period_end, direct=direct, rows=stored
        )


class ScoreGroupsRelaySource(PositionedTable):
    """The score groups as the relay's source of UnitScored events, in revision order (commit order).

    A group's event id follows from its sequence, so a broker new to scoring gets every group's newest
    figures again under the ids it had. A group with nothing publishable (suppressed, withdrawn) has
    no event; the position passes it all the same.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        topic: Callable[[str], str],
        on_published: Callable[[int], None] = lambda _n: None,
    ) -> None:
        super().__init__(
            pool,
            schema=SCHEMA,
            table="score_groups",
            position="revision",
            columns="tenant, unit, scope, instrument, model, model_version, period, period_start, period_end,"
            " figures, sequence, computed_at, correlation_id",
            stamped_at="computed_at",
        )
        self._topic = topic
        self._on_published = on_published

    def messages(self, rows: Sequence[asyncpg.Record]) -> list[OutboxMessage]:
        return [message for r in rows if (message := _score_message(self._topic, r)) is not None]

    def published(self, count: int) -> None:
        self._on_published(count)


_UNIT_SERIES = f"""
SELECT instrument, model, model_version, dimension, scope, period, period_start, period_end, respondents,
       publishable, suppression_reason, index, standard_error, favourable_pct, details, computed_at
FROM {SCHEMA}.scores
WHERE tenant = $1 AND unit = $2 AND ($3::text IS NULL OR model = $3) AND ($4::text IS NULL OR scope = $4)
  AND ($5::text IS NULL OR dimension = $5)
  AND respondents > 0  -- withdrawn rows: the group has no respondents left, or is outside the org then
ORDER BY model, dimension, scope, period_start
"""

# A group's status over its dimensions: published when any is (they share the group's verdict), else the
# reason of those with respondents, else of its withdrawn rows. The counts stay in the database.
_GROUP_STATUSES = f"""
SELECT g.model, g.period, g.unit, g.scope,
       CASE WHEN bool_or((f.value ->> 'publishable')::boolean) THEN 'published'
            ELSE coalesce(min(f.value ->> 'suppression_reason') FILTER (WHERE (f.value ->> 'respondents')::int > 0),
                          min(f.value ->> 'suppression_reason'), 'no_responses')
       END AS status
FROM {SCHEMA}.score_groups g, jsonb_each(g.figures) f
WHERE g.tenant = $1 AND g.instrument = $2 AND g.period = ANY($3::text[])
GROUP BY 1, 2, 3, 4
"""

_MEASURED_PERIODS = f"""
SELECT DISTINCT model, period FROM {SCHEMA}.slice_versions
WHERE tenant = $1 AND instrument = $2 AND period = ANY($3::text[])
"""

# HME report (portal issue 15): the subtree groups of a few units over a few periods.
_SUBTREE_FIGURES = f"""
SELECT period, unit, dimension, respondents, publishable, suppression_reason, index
FROM {SCHEMA}.scores
WHERE tenant = $1 AND instrument = $2 AND model = $3 AND period = ANY($4::text[]) AND unit = ANY($5::text[])
  AND scope = 'subtree' AND respondents > 0
"""


# Every unit's figures of a few periods for one model, the portal's pages in one query: the primary key
# (tenant, instrument, model, period, unit, scope) finds the rows. A hidden group's index and respondents
# are blanked here, so they never leave the database.
_TENANT_SCORES = f"""
SELECT g.unit, g.scope, g.period, f.key AS dimension,
       (f.value ->> 'publishable')::boolean AS publishable,
       f.value ->> 'suppression_reason' AS suppression_reason,
       CASE WHEN (f.value ->> 'publishable')::boolean THEN (f.value ->> 'index')::double precision END AS index,
       CASE WHEN (f.value ->> 'publishable')::boolean THEN (f.value ->> 'respondents')::integer END AS respondents
FROM {SCHEMA}.score_groups g, jsonb_each(g.figures) f
WHERE g.tenant = $1 AND g.instrument = $2 AND g.model = $3 AND g.period = ANY($4::text[])
  AND ($5::text IS NULL OR g.scope = $5) AND ($6::text[] IS NULL OR g.unit = ANY($6::text[]))
  AND (f.value ->> 'respondents')::integer > 0  -- withdrawn rows, as in the unit series
"""


class PostgresScoreReader:
    """The read API's queries (`ports.ScoreReader`), on the pool the service has once it is up."""

    def __init__(self, pool: Callable[[], asyncpg.Pool]) -> None:
        self._pool = pool

    async def unit_series(
        self, tenant: str, unit: str, *, model: str | None, scope: str | None, dimension: str | None
    ) -> Sequence[Mapping[str, Any]]:
        rows = await self._pool().fetch(_UNIT_SERIES, tenant, unit, model, scope, dimension)
        return [dict(r) for r in rows]

    async def group_statuses(self, tenant: str, instrument: str, periods: Sequence[str]) -> Sequence[Mapping[str, Any]]:
        rows = await self._pool().fetch(_GROUP_STATUSES, tenant, instrument, list(periods))
        return [dict(r) for r in rows]

    async def measured_periods(self, tenant: str, instrument: str, periods: Sequence[str]) -> set[tuple[str, str]]:
        rows = await self._pool().fetch(_MEASURED_PERIODS, tenant, instrument, list(periods))
        return {(r["model"], r["period"]) for r in rows}

    # HME report (portal issue 15)
    async def subtree_figures(
        self, tenant: str, instrument: str, model: str, periods: Sequence[str], units: Sequence[str]
    ) -> Sequence[Mapping[str, Any]]:
        rows = await self._pool().fetch(_SUBTREE_FIGURES, tenant, instrument, model, list(periods), list(units))
        return [dict(r) for r in rows]

    async def tenant_scores(
        self,
        tenant: str,
        instrument: str,
        model: str,
        periods: Sequence[str],
        *,
        scope: str | None,
        units: Sequence[str] | None,
    ) -> Sequence[Mapping[str, Any]]:
        rows = await self._pool().fetch(
            _TENANT_SCORES, tenant, instrument, model, list(periods), scope, None if units is None else list(units)
        )
        return [dict(r) for r in rows]


def _score_message(topic: Callable[[str], str], r: asyncpg.Record) -> OutboxMessage | None:
    """The group's event with every dimension that has an index; None when it has none (suppressed)."""
    published = {d: f for d, f in r["figures"].items() if f["publishable"] and f["index"] is not None}
    if not published:
        return None
    identity = f"{r['tenant']}|{r['unit']}|{r['scope']}|{r['instrument']}|{r['model']}|{r['period']}|{r['sequence']}"
    # A struct, not the pydantic UnitScored: the same bytes for figures scoring computed itself, in 8.5
    # rather than 20 us per seven-dimension event (bench/codecs.py).
    event = UnitScoredRecord(
        event_id=uuid.uuid5(SCORE_NAMESPACE, identity),
        occurred_at=r["computed_at"],
        tenant=r["tenant"],
        unit=r["unit"],
        scope=r["scope"],
        model=r["model"],
        model_version=r["model_version"],
        instrument=r["instrument"],
        period=r["period"],
        period_start=r["period_start"],
        period_end=r["period_end"],
        respondents=max(f["respondents"] for f in published.values()),
        sequence=r["sequence"],
        dimensions={
            d: DimensionScoreRecord(
                index=f["index"],
                standard_error=f["standard_error"],
                favourable_pct=f["favourable_pct"],
                tenant_index=f["tenant_index"],
            )
            for d, f in published.items()
        },
    )
    headers = {"computed_at": r["computed_at"].isoformat()}
    if r["correlation_id"]:
        headers[correlation.HEADER] = r["correlation_id"]
    return OutboxMessage(topic(SCORES.name), partition_key(r["tenant"], r["unit"]), encode_event(event), headers)
