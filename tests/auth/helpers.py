"""Issue real tokens in a test database, the way `tempen tokens create` does (a plain module, not conftest)."""

from __future__ import annotations

from collections.abc import Iterable

from tempen_shared.access.store import create_token, migrate_access, revoke_token
from tempen_shared.access.tokens import Scope
from tempen_shared.db import create_pool


async def issue_token(
    database_url: str, *, tenant: str | None, scopes: Iterable[Scope] = (), revoked: bool = False
) -> str:
    """A new token of `tenant` (None: an admin token) in the database at `database_url`."""
    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate_access(pool)
        token, info = await create_token(pool, tenant=tenant, name="test", scopes=scopes)
        if revoked:
            await revoke_token(pool, tenant=tenant, reference=info.prefix)
        return token
    finally:
        await pool.close()


async def admin_headers(database_url: str) -> dict[str, str]:
    """An Authorization header with a new admin token: for tests about something other than access."""
    return {"authorization": f"Bearer {await issue_token(database_url, tenant=None)}"}
