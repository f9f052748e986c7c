"""The `access` schema on PostgreSQL: the services' read-only lookup, and the administration that
only `tempen tokens` performs (create, list, revoke)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from asyncpg import exceptions as pg

from tempen_shared.access.tokens import PREFIX_PATTERN, Grant, Scope, generate_token, token_digest
from tempen_shared.db import TRANSIENT_DB_ERRORS, StoreUnavailableError, migrate

SCHEMA = "access"
PACKAGE = "tempen_shared.access"


async def migrate_access(pool: asyncpg.Pool) -> list[str]:
    """Create or update the `access` schema; safe to run from every service and the CLI at once."""
    return await migrate(pool, schema=SCHEMA, package=PACKAGE)


class PostgresTokenLookup:
    """The services' view of the tokens: read only. The pool is owned by the service's lifespan."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def find(self, digest: bytes) -> Grant | None:
        try:
            row = await self._pool.fetchrow(
                f"SELECT token_id, prefix, tenant, scopes FROM {SCHEMA}.tokens"
                " WHERE token_hash = $1 AND revoked_at IS NULL",
                digest,
            )
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailableError(str(exc)) from exc
        if row is None:
            return None
        return Grant(
            token_id=row["token_id"],
            prefix=row["prefix"],
            tenant=row["tenant"],
            scopes=frozenset(Scope(s) for s in row["scopes"]),
        )


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: UUID
    tenant: str | None
    name: str
    prefix: str
    scopes: tuple[Scope, ...]
    created_at: datetime
    revoked_at: datetime | None

    @property
    def is_admin(self) -> bool:
        return self.tenant is None


_COLUMNS = "token_id, tenant, name, prefix, scopes, created_at, revoked_at"


def _info(row: asyncpg.Record) -> TokenInfo:
    return TokenInfo(
        token_id=row["token_id"],
        tenant=row["tenant"],
        name=row["name"],
        prefix=row["prefix"],
        scopes=tuple(Scope(s) for s in row["scopes"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


async def create_token(
    pool: asyncpg.Pool, *, tenant: str | None, name: str, scopes: Iterable[Scope]
) -> tuple[str, TokenInfo]:
    """Store a new token for `tenant` (None: an admin token) and return it with its listing.

    The returned token is the only copy: the database keeps its digest. An admin token holds every
    scope; a tenant token needs at least one.
    """
    wanted = tuple(Scope) if tenant is None else tuple(sorted(set(scopes), key=list(Scope).index))
    if not wanted:
        raise ValueError("a tenant token needs at least one scope")
    for _attempt in range(5):  # the prefix is 32 random bits: a clash is rare, two in a row rarer still
        new = generate_token()
        try:
            row = await pool.fetchrow(
                f"""INSERT INTO {SCHEMA}.tokens (token_id, tenant, is_admin, name, prefix, token_hash, scopes)
                    VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (prefix) DO NOTHING RETURNING {_COLUMNS}""",
                uuid.uuid4(),
                tenant,
                tenant is None,
                name,
                new.prefix,
                new.digest,
                [s.value for s in wanted],
            )
        except pg.CheckViolationError as exc:
            raise ValueError(f"the token was refused: {exc.message}") from None
        if row is not None:
            return new.token, _info(row)
    raise RuntimeError("could not find an unused token prefix")


async def list_tokens(pool: asyncpg.Pool, *, tenant: str | None) -> list[TokenInfo]:
    """A tenant's tokens (None: the admin tokens), revoked ones included, oldest first."""
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM {SCHEMA}.tokens WHERE tenant IS NOT DISTINCT FROM $1 ORDER BY created_at, prefix",
        tenant,
    )
    return [_info(r) for r in rows]


async def revoke_token(pool: asyncpg.Pool, *, tenant: str | None, reference: str) -> TokenInfo | None:
    """Revoke one of `tenant`'s tokens (None: an admin token) named by prefix or token id.

    Returns the token as it now is (revoking twice keeps the first time), or None when `tenant` has no
    such token: a token of another tenant is never touched.
    """
    token_id: UUID | None = None
    prefix: str | None = None
    match = PREFIX_PATTERN.match(reference.strip().lower())
    if match:
        prefix = match.group(1)
    else:
        try:
            token_id = UUID(reference.strip())
        except ValueError:
            return None
    row = await pool.fetchrow(
        f"""UPDATE {SCHEMA}.tokens SET revoked_at = coalesce(revoked_at, now())
            WHERE tenant IS NOT DISTINCT FROM $1 AND (prefix = $2 OR token_id = $3) RETURNING {_COLUMNS}""",
        tenant,
        prefix,
        token_id,
    )
    return _info(row) if row is not None else None


async def find_token(pool: asyncpg.Pool, token: str) -> TokenInfo | None:
    """The listing of a presented token, revoked or not; None when it was never issued here."""
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM {SCHEMA}.tokens WHERE token_hash = $1", token_digest(token))
    return _info(row) if row is not None else None
