"""Pools on the suite's real PostgreSQL for scoring's store tests, and the scoring app serving six months."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from tempen_scoring.adapters.postgres import SCHEMA, PostgresScoringStore
from tempen_scoring.app import create_app
from tempen_scoring.domain.rescoring import IncomingContribution
from tempen_shared.db import create_pool, migrate
from tempen_shared.orgcopy import ORG_COPY
from tests.conftest import FIXTURE_CONFIG, Infra
from tests.scoring.integration.support import CATALOG, MONTHS, TODAY, submissions
from tests.support import scoring_settings, serving


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


@pytest.fixture
async def six_months(
    infra: Infra, scoring_pool: asyncpg.Pool, database_url: str, topic_prefix: str
) -> AsyncIterator[tuple[str, PostgresScoringStore]]:
    """The scoring app's address, serving a database with the six months of support.py scored; the store
    to add more."""
    store = PostgresScoringStore(
        scoring_pool, catalog=CATALOG, topic=lambda n: f"{topic_prefix}{n}", on_commit=lambda: None, slice_cache=0
    )
    batch: list[IncomingContribution] = []
    for month in MONTHS:
        batch += submissions("grupp-b1", month, 0, 2)
        batch += submissions("enhet-b", month, 0, 6)
        batch += submissions("grupp-a1", month, 0, 4 if month == 9 else 8)
    await store.apply(batch, [])
    settings = scoring_settings(
        bootstrap_servers=infra.bootstrap_servers,
        database_url=database_url,
        config_dir=FIXTURE_CONFIG,
        topic_prefix=topic_prefix,
    )
    async with serving(create_app(settings, clock=lambda: TODAY)) as base:
        yield base, store
