from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from tempen_ingest.adapters.fetches import settle_in
from tempen_ingest.ports import (
    Comment,
    Delivery,
    Outcome,
    PreparedSubmission,
    Purged,
    ReplayedDeliveryError,
    Retraction,
    Settlement,
    StoredSubmission,
)
from tempen_shared import correlation
from tempen_shared.clock import utc_now
from tempen_shared.db import TRANSIENT_DB_ERRORS, Connection, StoreUnavailableError
from tempen_shared.events import DeadLetter, SubmissionRetracted, submission_event_id
from tempen_shared.events.wire import SubmissionAcceptedRecord, encode_event
from tempen_shared.outbox import OutboxMessage, PositionedTable, dead_letter_messages, enqueue
from tempen_shared.topics import SUBMISSIONS

SCHEMA = "ingest"
logger = logging.getLogger(__name__)

_LOCK_EXISTING = f"""
SELECT s.tenant, s.submission_id, s.revision, s.fingerprint, s.erased_at IS NOT NULL AS erased
FROM {SCHEMA}.submissions s
JOIN unnest($1::text[], $2::text[]) AS k(tenant, submission_id) USING (tenant, submission_id)
ORDER BY s.tenant, s.submission_id
FOR UPDATE OF s
"""

# Every insert and correction draws the next sequence value: the relay publishes in that order
# (see migration 0004 and `SubmissionsRelaySource`).
_INSERT_NEW = f"""
INSERT INTO {SCHEMA}.submissions
    (tenant, submission_id, revision, fingerprint, instrument, unit, submitted_at, respondent, answers,
     correlation_id, ingested_at, sequence)
SELECT *, nextval('{SCHEMA}.submission_sequence')
FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
            $8::text[], $9::jsonb[], $10::text[], $11::timestamptz[])
ON CONFLICT (tenant, submission_id) DO NOTHING
RETURNING tenant, submission_id
"""

_UPDATE_CORRECTED = f"""
UPDATE {SCHEMA}.submissions AS s
SET revision = u.revision, fingerprint = u.fingerprint, instrument = u.instrument, unit = u.unit,
    submitted_at = u.submitted_at, respondent = u.respondent, answers = u.answers, answers_purged_at = NULL,
    correlation_id = u.correlation_id, ingested_at = u.ingested_at,
    sequence = nextval('{SCHEMA}.submission_sequence'), updated_at = now()
FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
            $8::text[], $9::jsonb[], $10::text[], $11::timestamptz[])
    AS u(tenant, submission_id, revision, fingerprint, instrument, unit, submitted_at, respondent, answers,
         correlation_id, ingested_at)
WHERE s.tenant = u.tenant AND s.submission_id = u.submission_id
"""

_INSERT_DELIVERY = f"""
INSERT INTO {SCHEMA}.deliveries (tenant, platform, delivery_id) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
RETURNING true
"""

_UPSERT_COMMENTS = f"""
INSERT INTO {SCHEMA}.comments (tenant, submission_id, question, text)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
ON CONFLICT (tenant, submission_id, question) DO UPDATE SET text = EXCLUDED.text, received_at = now()
"""

# Rows are locked in key order first, the order `store` locks them in, so the two never deadlock.
_ERASE = f"""
WITH target AS (
    SELECT tenant, submission_id FROM {SCHEMA}.submissions
    WHERE tenant = $1 AND respondent = $2 AND erased_at IS NULL
    ORDER BY tenant, submission_id
    FOR UPDATE
)
UPDATE {SCHEMA}.submissions AS s
SET revision = s.revision + 1, answers = NULL, respondent = NULL, fingerprint = 'erased', erased_at = now(),
    updated_at = now()
FROM target
WHERE s.tenant = target.tenant AND s.submission_id = target.submission_id
RETURNING s.tenant, s.unit, s.submission_id, s.revision
"""

# Retention works in chunks, so one run never holds many row locks or one huge transaction.
_PURGE_ANSWERS = f"""
UPDATE {SCHEMA}.submissions SET answers = NULL, answers_purged_at = now()
WHERE (tenant, submission_id) IN (
    SELECT tenant, submission_id FROM {SCHEMA}.submissions
    WHERE answers IS NOT NULL AND updated_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
)
"""
_PURGE_COMMENTS = f"""
DELETE FROM {SCHEMA}.comments WHERE (tenant, submission_id, question) IN (
    SELECT tenant, submission_id, question FROM {SCHEMA}.comments WHERE received_at < $1 LIMIT $2
)
"""
_PURGE_DELIVERIES = f"""
DELETE FROM {SCHEMA}.deliveries WHERE (tenant, platform, delivery_id) IN (
    SELECT tenant, platform, delivery_id FROM {SCHEMA}.deliveries WHERE received_at < $1 LIMIT $2
)
"""
_PURGE_CHUNK = 5000

# Held from before a store transaction draws sequence values until it commits: sequence order is
# then commit order, so the relay, having read a value, has read every lower one that will commit.
# Taken before any row lock, so two stores never wait for each other in opposite orders.
SEQUENCE_LOCK = int.from_bytes(
    hashlib.sha256(f"tempen-{SCHEMA}-submission-sequence".encode()).digest()[:8], "big", signed=True
)

Key = tuple[str, str]
Known = dict[Key, tuple[int, str, bool]]  # revision, fingerprint, erased


class PostgresSubmissionStore:
    def __init__(self, pool: asyncpg.Pool, *, topic: Callable[[str], str], on_commit: Callable[[], None]) -> None:
        self._pool = pool
        self._topic = topic
        self._on_commit = on_commit  # wakes the outbox relay

    async def ping(self) -> bool:
        try:
            return bool(await self._pool.fetchval("SELECT true"))
        except TRANSIENT_DB_ERRORS:
            return False

    async def store(
        self,
        submissions: Sequence[PreparedSubmission],
        dead_letters: Sequence[DeadLetter] = (),
        *,
        delivery: Delivery | None = None,
        comments: Sequence[Comment] = (),
        settles: Settlement | None = None,
    ) -> list[StoredSubmission]:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                if delivery is not None and not await conn.fetchval(
                    _INSERT_DELIVERY, delivery.tenant, delivery.platform, delivery.delivery_id
                ):
                    raise ReplayedDeliveryError(delivery)
                if submissions:
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", SEQUENCE_LOCK)
                outcomes, erased = await self._store(conn, submissions, dead_letters)
                kept = [c for c in comments if (c.tenant, c.submission_id) not in erased]
                if kept:
                    await conn.execute(
                        _UPSERT_COMMENTS,
                        [c.tenant for c in kept],
                        [c.submission_id for c in kept],
                        [c.question for c in kept],
                        [c.text for c in kept],
                    )
                if settles is not None:
                    await settle_in(conn, settles)
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailableError(str(exc)) from exc
        self._on_commit()
        return outcomes

    async def erase_respondent(self, *, tenant: str, respondent: str) -> list[Retraction]:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(_ERASE, tenant, respondent)
                retractions = [
                    Retraction(r["tenant"], r["unit"], r["submission_id"], r["revision"])
                    for r in sorted(rows, key=lambda r: str(r["submission_id"]))
                ]
                if retractions:
                    await conn.execute(
                        f"DELETE FROM {SCHEMA}.comments WHERE tenant = $1 AND submission_id = ANY($2::text[])",
                        tenant,
                        [r.submission_id for r in retractions],
                    )
                    await enqueue(conn, SCHEMA, [_retraction(self._topic, r, respondent) for r in retractions])
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailableError(str(exc)) from exc
        if retractions:
            self._on_commit()
        return retractions

    async def purge(
        self, *, answers_before: datetime, comments_before: datetime, deliveries_before: datetime
    ) -> Purged:
        try:
            return Purged(
                answers=await self._in_chunks(_PURGE_ANSWERS, answers_before),
                comments=await self._in_chunks(_PURGE_COMMENTS, comments_before),
                deliveries=await self._in_chunks(_PURGE_DELIVERIES, deliveries_before),
            )
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailableError(str(exc)) from exc

    async def _in_chunks(self, statement: str, before: datetime) -> int:
        total = 0
        while True:
            status = await self._pool.execute(statement, before, _PURGE_CHUNK)
            count = int(status.split()[-1])
            total += count
            if count < _PURGE_CHUNK:
                return total

    async def _store(
        self, conn: Connection, submissions: Sequence[PreparedSubmission], dead_letters: Sequence[DeadLetter]
    ) -> tuple[list[StoredSubmission], set[Key]]:
        keys = sorted({(p.submission.tenant, p.submission.submission_id) for p in submissions})
        known = await self._lock(conn, keys)
        outcomes, final = _decide(submissions, known)
        new = [k for k, (rev, _p) in final.items() if k not in known]
        changed = [k for k in final if k in known]
        ingested_at = utc_now()
        if new:
            inserted = {
                (r["tenant"], r["submission_id"])
                for r in await conn.fetch(_INSERT_NEW, *_columns([(k, final[k]) for k in new], ingested_at))
            }
            raced = [k for k in new if k not in inserted]
            if raced:
                # Another request stored the same id between our lock and insert: decide again
                # against what it stored. Rare, so the simple way is fine.
                known.update(await self._lock(conn, sorted(raced)))
                outcomes, final = _decide(submissions, known)
                changed = [k for k in final if k in known and k not in inserted]
        if changed:
            await conn.execute(_UPDATE_CORRECTED, *_columns([(k, final[k]) for k in changed], ingested_at))
        # The stored rows are their own outbox (SubmissionsRelaySource); dead letters use the table.
        await enqueue(conn, SCHEMA, dead_letter_messages(dead_letters))
        return outcomes, {k for k, (_rev, _fp, erased) in known.items() if erased}

    async def _lock(self, conn: Connection, keys: Sequence[Key]) -> Known:
        if not keys:
            return {}
        rows = await conn.fetch(_LOCK_EXISTING, [k[0] for k in keys], [k[1] for k in keys])
        return {(r["tenant"], r["submission_id"]): (r["revision"], r["fingerprint"], r["erased"]) for r in rows}


def _decide(
    submissions: Sequence[PreparedSubmission], known: Known
) -> tuple[list[StoredSubmission], dict[Key, tuple[int, PreparedSubmission]]]:
    """Walk the batch in order; the last version of each id wins, as if they had come one by one."""
    state = dict(known)
    outcomes: list[StoredSubmission] = []
    final: dict[Key, tuple[int, PreparedSubmission]] = {}
    for prepared in submissions:
        key = (prepared.submission.tenant, prepared.submission.submission_id)
        current = state.get(key)
        if current is not None and current[2]:
            outcomes.append(StoredSubmission(Outcome.ERASED, current[0]))
            continue
        if current is None:
            revision, outcome = 1, Outcome.ACCEPTED
        elif current[1] == prepared.fingerprint:
            outcomes.append(StoredSubmission(Outcome.DUPLICATE, current[0]))
            continue
        else:
            revision, outcome = current[0] + 1, Outcome.CORRECTED
        state[key] = (revision, prepared.fingerprint, False)
        final[key] = (revision, prepared)
        outcomes.append(StoredSubmission(outcome, revision))
    return outcomes, final


def _columns(rows: Sequence[tuple[Key, tuple[int, PreparedSubmission]]], ingested_at: datetime) -> list[list[Any]]:
    cols: list[list[Any]] = [[] for _ in range(11)]
    for (tenant, submission_id), (revision, prepared) in rows:
        s = prepared.submission
        for col, value in zip(
            cols,
            (
                tenant,
                submission_id,
                revision,
                prepared.fingerprint,
                s.instrument,
                s.unit,
                s.submitted_at,
                prepared.respondent,
                s.answers,
                prepared.correlation_id,
                ingested_at,
            ),
            strict=True,
        ):
            col.append(value)
    return cols


def _retraction(topic: Callable[[str], str], retraction: Retraction, respondent: str) -> OutboxMessage:
    event = SubmissionRetracted(
        event_id=submission_event_id(retraction.tenant, retraction.submission_id, retraction.revision),
        occurred_at=utc_now(),
        tenant=retraction.tenant,
        unit=retraction.unit,
        submission_id=retraction.submission_id,
        revision=retraction.revision,
        respondent=respondent,
    )
    return OutboxMessage.of(
        topic(SUBMISSIONS.name),
        SUBMISSIONS.key_of(retraction.tenant, retraction.unit),
        event,
        {
            correlation.HEADER: correlation.submission_correlation_id(retraction.tenant, retraction.submission_id),
            "event_type": event.event_type,
        },
    )


class SubmissionsRelaySource(PositionedTable):
    """The submissions table as the relay's source of SubmissionAccepted events, in sequence order.

    A row whose answers are gone has nothing to publish: an erased one (its retraction goes through
    the outbox table) or one whose answers retention deleted before it was ever relayed.
    """

    def __init__(self, pool: asyncpg.Pool, *, topic: Callable[[str], str]) -> None:
        super().__init__(
            pool,
            schema=SCHEMA,
            table="submissions",
            position="sequence",
            columns="tenant, submission_id, revision, instrument, unit, submitted_at, respondent, answers,"
            " correlation_id, ingested_at, erased_at IS NOT NULL AS erased",
            stamped_at="ingested_at",
        )
        self._topic = topic

    def messages(self, rows: Sequence[asyncpg.Record]) -> list[OutboxMessage]:
        unpublishable = [row for row in rows if row["answers"] is None and not row["erased"]]
        if unpublishable:
            logger.warning(
                "submissions relay: %d rows lost their answers to retention before they were published",
                len(unpublishable),
            )
        return [_accepted(self._topic, row) for row in rows if row["answers"] is not None]


def _accepted(topic: Callable[[str], str], row: asyncpg.Record) -> OutboxMessage:
    # A struct, not the pydantic event: the row was validated when it was stored, and building and
    # dumping the pydantic event was 15 us of the relay's time per submission (bench/codecs.py).
    event = SubmissionAcceptedRecord(
        event_id=submission_event_id(row["tenant"], row["submission_id"], row["revision"]),
        occurred_at=row["ingested_at"],
        tenant=row["tenant"],
        instrument=row["instrument"],
        unit=row["unit"],
        submission_id=row["submission_id"],
        revision=row["revision"],
        submitted_at=row["submitted_at"],
        answers=row["answers"],
        respondent=row["respondent"],
    )
    return OutboxMessage(
        topic(SUBMISSIONS.name),
        SUBMISSIONS.key_of(row["tenant"], row["unit"]),
        encode_event(event),
        # ingested_at lets scoring and alerts measure end-to-end latency without trusting platform clocks.
        {
            correlation.HEADER: row["correlation_id"]
            or correlation.submission_correlation_id(row["tenant"], row["submission_id"]),
            "ingested_at": row["ingested_at"].isoformat(),
            "event_type": "submission_accepted",
        },
    )
