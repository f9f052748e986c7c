"""The queue of responses to fetch (`ingest.response_fetches`), in PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import asyncpg

from tempen_ingest.ports import FetchKey, PendingFetch, Settlement
from tempen_shared.db import TRANSIENT_DB_ERRORS, Connection, StoreUnavailableError

SCHEMA = "ingest"

_ENQUEUE = f"""
INSERT INTO {SCHEMA}.response_fetches (tenant, platform, response_id, mapping_id, survey_id, event_id)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT DO NOTHING
RETURNING true
"""

# Due rows are held by moving their due time past the lease: no claimed state to clean up after a
# crash, and a fetch is a GET, so fetching a response twice after a lost lease stores nothing twice.
_CLAIM = f"""
UPDATE {SCHEMA}.response_fetches AS f
SET next_attempt_at = now() + make_interval(secs => $2)
WHERE (f.tenant, f.platform, f.response_id) IN (
    SELECT tenant, platform, response_id FROM {SCHEMA}.response_fetches
    WHERE state = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, received_at LIMIT $1 FOR UPDATE SKIP LOCKED
)
RETURNING f.tenant, f.platform, f.response_id, f.mapping_id, f.survey_id, f.event_id, f.attempts, f.received_at
"""

_RETRY = f"""
UPDATE {SCHEMA}.response_fetches
SET attempts = attempts + 1, last_error = $4, next_attempt_at = now() + make_interval(secs => $5)
WHERE tenant = $1 AND platform = $2 AND response_id = $3 AND state = 'pending'
"""

_SETTLE = f"""
UPDATE {SCHEMA}.response_fetches
SET state = $4, last_error = $5, settled_at = now()
WHERE tenant = $1 AND platform = $2 AND response_id = $3 AND state = 'pending'
"""


async def settle_in(conn: Connection, settlement: Settlement) -> None:
    """Mark a fetch settled inside the caller's transaction (with the submission it stored)."""
    key = settlement.key
    await conn.execute(_SETTLE, key.tenant, key.platform, key.response_id, settlement.state, settlement.reason)


class PostgresFetchQueue:
    def __init__(self, pool: asyncpg.Pool, *, on_enqueue: Callable[[], None] = lambda: None) -> None:
        self._pool = pool
        self._on_enqueue = on_enqueue  # wakes the fetcher

    async def enqueue(self, fetch: PendingFetch) -> bool:
        key = fetch.key
        try:
            new = await self._pool.fetchval(
                _ENQUEUE, key.tenant, key.platform, key.response_id, fetch.mapping_id, fetch.survey_id, fetch.event_id
            )
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailableError(str(exc)) from exc
        if new:
            self._on_enqueue()
        return bool(new)

    async def claim(self, *, limit: int, lease_s: float) -> list[PendingFetch]:
        rows = await self._pool.fetch(_CLAIM, limit, lease_s)
        return [
            PendingFetch(
                key=FetchKey(row["tenant"], row["platform"], row["response_id"]),
                mapping_id=row["mapping_id"],
                survey_id=row["survey_id"],
                event_id=row["event_id"],
                attempts=row["attempts"],
            )
            for row in sorted(rows, key=lambda r: (r["received_at"], r["response_id"]))
        ]

    async def retry_later(self, key: FetchKey, *, delay_s: float, error: str) -> None:
        await self._pool.execute(_RETRY, key.tenant, key.platform, key.response_id, error[:1000], delay_s)

    async def settle(self, settlement: Settlement) -> None:
        async with self._pool.acquire() as conn:
            await settle_in(conn, settlement)

    async def backlog(self) -> int:
        return int(
            await self._pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.response_fetches WHERE state = 'pending'") or 0
        )

    async def prune(self, *, before: datetime) -> int:
        status = await self._pool.execute(
            f"DELETE FROM {SCHEMA}.response_fetches WHERE state IN ('done', 'skipped') AND settled_at < $1", before
        )
        return int(status.split()[-1])
