"""Scoring's schema as a deployment of an earlier release has it, to test a migration on its data."""

from __future__ import annotations

from importlib import resources

import asyncpg

from tempen_scoring.adapters.postgres import SCHEMA
from tempen_shared.db import OUTBOX_DDL, migrate
from tempen_shared.orgcopy import ORG_COPY


async def migrate_before(pool: asyncpg.Pool, first_new: str) -> None:
    """Apply scoring's migrations whose names sort before `first_new` ("0005"), and record them as
    `migrate` does, so that the next `migrate` applies only the rest."""
    await migrate(pool, schema=SCHEMA, package=ORG_COPY)
    files = sorted(
        (e for e in resources.files("tempen_scoring").joinpath("migrations").iterdir() if e.name.endswith(".sql")),
        key=lambda e: e.name,
    )
    async with pool.acquire() as conn:
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        await conn.execute(OUTBOX_DDL.format(schema=SCHEMA))  # every release had it
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations"
            " (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for entry in files:
            if entry.name >= first_new:
                break
            await conn.execute(entry.read_text(encoding="utf-8").replace("{schema}", SCHEMA))
            await conn.execute(f"INSERT INTO {SCHEMA}.schema_migrations (name) VALUES ($1)", entry.name)
