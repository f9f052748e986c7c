"""PostgreSQL plumbing: pools, the transient-error taxonomy, and per-service schema migrations."""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any, TypeAlias

import asyncpg
import orjson
from asyncpg import exceptions as pg
from asyncpg.pool import PoolConnectionProxy

# What a transaction body receives: a plain connection or one borrowed from a pool.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


class StoreUnavailableError(Exception):
    """The database cannot be reached right now; the same call may succeed later. Never dead-letter on it."""


# Errors after which the same work may succeed later. Everything else (constraint violations, bad
# SQL) is a bug and must not be retried as if it were an outage.
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused or reset connections, timeouts (TimeoutError is an OSError)
    pg.PostgresConnectionError,
    pg.CannotConnectNowError,
    pg.TooManyConnectionsError,
    pg.SerializationError,
    pg.DeadlockDetectedError,
    pg.AdminShutdownError,
    pg.CrashShutdownError,
    asyncpg.InterfaceError,
    # "cannot switch to state ..; another operation is in progress": a connection left mid-protocol
    # by a server that went away (seen on a PostgreSQL fast stop). The pool replaces the connection.
    pg.InternalClientError,
)

# What an HTTP route answers with 503 and Retry-After: the database cannot serve this request now.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (StoreUnavailableError, *TRANSIENT_DB_ERRORS)


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda value: b"\x01" + orjson.dumps(value),
        decoder=lambda data: orjson.loads(data[1:]),
        schema="pg_catalog",
        format="binary",
    )


async def create_pool(dsn: str, *, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections encode and decode jsonb with orjson."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=max_size, init=_init_connection, command_timeout=60
    )
    return pool


OUTBOX_DDL = """
CREATE TABLE IF NOT EXISTS {schema}.outbox (
    id           bigserial PRIMARY KEY,
    topic        text        NOT NULL,
    key          bytea       NOT NULL,
    payload      bytea       NOT NULL,
    headers      jsonb       NOT NULL DEFAULT '{{}}'::jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    broker_epoch text
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON {schema}.outbox (id) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_published_at ON {schema}.outbox (published_at) WHERE published_at IS NOT NULL;
"""


async def migrate(pool: asyncpg.Pool, *, schema: str, package: str) -> list[str]:
    """Create `schema` with its outbox, then apply `<package>/migrations/*.sql` not yet applied, in name order.

    Serialised by an advisory lock so replicas starting together do not race. Returns the names applied.
    """
    files = sorted(
        (entry for entry in resources.files(package).joinpath("migrations").iterdir() if entry.name.endswith(".sql")),
        key=lambda entry: entry.name,
    )
    lock_id = int.from_bytes(hashlib.sha256(f"tempen-migrate-{schema}".encode()).digest()[:8], "big", signed=True)
    applied: list[str] = []
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_id)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations"
            " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        await conn.execute(OUTBOX_DDL.format(schema=schema))
        done = {row["name"] for row in await conn.fetch(f"SELECT name FROM {schema}.schema_migrations")}
        for entry in files:
            if entry.name in done:
                continue
            await conn.execute(entry.read_text(encoding="utf-8").replace("{schema}", schema))
            await conn.execute(f"INSERT INTO {schema}.schema_migrations (name) VALUES ($1)", entry.name)
            applied.append(entry.name)
    return applied


def jsonable(value: Any) -> Any:
    """Round-trip through orjson so pydantic/datetime values become plain JSON types for jsonb columns."""
    return orjson.loads(orjson.dumps(value))
