"""Pools on the suite's real PostgreSQL for scoring's store tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tempen_scoring.adapters.postgres import SCHEMA
from tempen_shared.db import create_pool, migrate
from tempen_shared.orgcopy import ORG_COPY


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database with no schema yet: a migration test builds an older one first."""
    pool = await create_pool(database_url)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def scoring_pool(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The pool with scoring's schema migrated as the service does at start-up."""
    await migrate(pool, schema=SCHEMA, package="tempen_scoring")
    await migrate(pool, schema=SCHEMA, package=ORG_COPY)
    return pool
