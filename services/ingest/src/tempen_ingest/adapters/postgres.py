from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from tempen_ingest.ports import Outcome, PreparedSubmission, StoredSubmission
from tempen_shared.db import TRANSIENT_DB_ERRORS, Connection, StoreUnavailableError
from tempen_shared.events import DeadLetter, SubmissionAccepted, submission_event_id
from tempen_shared.outbox import OutboxMessage, dead_letter_messages, enqueue
from tempen_shared.topics import SUBMISSIONS, partition_key

SCHEMA = "ingest"

_LOCK_EXISTING = f"""
SELECT s.tenant, s.submission_id, s.revision, s.fingerprint
FROM {SCHEMA}.submissions s
JOIN unnest($1::text[], $2::text[]) AS k(tenant, submission_id) USING (tenant, submission_id)
ORDER BY s.tenant, s.submission_id
FOR UPDATE OF s
"""

_INSERT_NEW = f"""
INSERT INTO {SCHEMA}.submissions
    (tenant, submission_id, revision, fingerprint, instrument, unit, submitted_at, respondent, answers)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
                     $8::text[], $9::jsonb[])
ON CONFLICT (tenant, submission_id) DO NOTHING
RETURNING tenant, submission_id
"""

_UPDATE_CORRECTED = f"""
UPDATE {SCHEMA}.submissions AS s
SET revision = u.revision, fingerprint = u.fingerprint, instrument = u.instrument, unit = u.unit,
    submitted_at = u.submitted_at, respondent = u.respondent, answers = u.answers, updated_at = now()
FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
            $8::text[], $9::jsonb[])
    AS u(tenant, submission_id, revision, fingerprint, instrument, unit, submitted_at, respondent, answers)
WHERE s.tenant = u.tenant AND s.submission_id = u.submission_id
"""

Key = tuple[str, str]


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
        self, submissions: Sequence[PreparedSubmission], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[StoredSubmission]:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                outcomes = await self._store(conn, submissions, dead_letters)
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailableError(str(exc)) from exc
        self._on_commit()
        return outcomes

    async def _store(
        self, conn: Connection, submissions: Sequence[PreparedSubmission], dead_letters: Sequence[DeadLetter]
    ) -> list[StoredSubmission]:
        keys = sorted({(p.submission.tenant, p.submission.submission_id) for p in submissions})
        known = await self._lock(conn, keys)
        outcomes, final = _decide(submissions, known)
        new = [k for k, (rev, _p) in final.items() if k not in known]
        changed = [k for k in final if k in known]
        if new:
            inserted = {
                (r["tenant"], r["submission_id"])
                for r in await conn.fetch(_INSERT_NEW, *_columns([(k, final[k]) for k in new]))
            }
            raced = [k for k in new if k not in inserted]
            if raced:
                # Another request stored the same id between our lock and insert: decide again
                # against what it stored. Rare, so the simple way is fine.
                known.update(await self._lock(conn, sorted(raced)))
                outcomes, final = _decide(submissions, known)
                changed = [k for k in final if k in known and k not in inserted]
        if changed:
            await conn.execute(_UPDATE_CORRECTED, *_columns([(k, final[k]) for k in changed]))
        messages = [_message(self._topic, revision, prepared) for revision, prepared in final.values()]
        messages.extend(dead_letter_messages(dead_letters))
        await enqueue(conn, SCHEMA, messages)
        return outcomes

    async def _lock(self, conn: Connection, keys: Sequence[Key]) -> dict[Key, tuple[int, str]]:
        if not keys:
            return {}
        rows = await conn.fetch(_LOCK_EXISTING, [k[0] for k in keys], [k[1] for k in keys])
        return {(r["tenant"], r["submission_id"]): (r["revision"], r["fingerprint"]) for r in rows}


def _decide(
    submissions: Sequence[PreparedSubmission], known: dict[Key, tuple[int, str]]
) -> tuple[list[StoredSubmission], dict[Key, tuple[int, PreparedSubmission]]]:
    """Walk the batch in order; the last version of each id wins, as if they had come one by one."""
    state = dict(known)
    outcomes: list[StoredSubmission] = []
    final: dict[Key, tuple[int, PreparedSubmission]] = {}
    for prepared in submissions:
        key = (prepared.submission.tenant, prepared.submission.submission_id)
        current = state.get(key)
        if current is None:
            revision, outcome = 1, Outcome.ACCEPTED
        elif current[1] == prepared.fingerprint:
            outcomes.append(StoredSubmission(Outcome.DUPLICATE, current[0]))
            continue
        else:
            revision, outcome = current[0] + 1, Outcome.CORRECTED
        state[key] = (revision, prepared.fingerprint)
        final[key] = (revision, prepared)
        outcomes.append(StoredSubmission(outcome, revision))
    return outcomes, final


def _columns(rows: Sequence[tuple[Key, tuple[int, PreparedSubmission]]]) -> list[list[Any]]:
    cols: list[list[Any]] = [[] for _ in range(9)]
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
            ),
            strict=True,
        ):
            col.append(value)
    return cols


def _message(topic: Callable[[str], str], revision: int, prepared: PreparedSubmission) -> OutboxMessage:
    s = prepared.submission
    event = SubmissionAccepted(
        event_id=submission_event_id(s.tenant, s.submission_id, revision),
        occurred_at=datetime.now(UTC),
        tenant=s.tenant,
        instrument=s.instrument,
        unit=s.unit,
        submission_id=s.submission_id,
        revision=revision,
        submitted_at=s.submitted_at,
        answers=s.answers,
        respondent=prepared.respondent,
    )
    return OutboxMessage.of(
        topic(SUBMISSIONS.name),
        partition_key(s.tenant, s.unit),
        event,
        # ingested_at lets scoring and alerts measure end-to-end latency without trusting platform clocks.
        {"correlation_id": prepared.correlation_id, "ingested_at": datetime.now(UTC).isoformat()},
    )
