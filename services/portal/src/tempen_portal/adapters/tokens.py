"""The API tokens, read from the services' shared database for the portal's one API (sign-in links).

The portal owns no data and must serve its pages while the database is away, so it connects only
when a token is first checked, and again after a failed attempt: an outage answers 503 for the API
alone, never stops the portal starting.
"""

from __future__ import annotations

import asyncio

import asyncpg

from tempen_shared.access.store import PostgresTokenLookup
from tempen_shared.access.tokens import Grant
from tempen_shared.db import TRANSIENT_DB_ERRORS, StoreUnavailableError, create_pool


class LazyTokenLookup:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def find(self, digest: bytes) -> Grant | None:
        async with self._lock:
            if self._pool is None:
                try:
                    self._pool = await create_pool(self._dsn, max_size=2)
                except TRANSIENT_DB_ERRORS as exc:
                    raise StoreUnavailableError(f"the token store is unreachable: {exc}") from exc
        return await PostgresTokenLookup(self._pool).find(digest)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
