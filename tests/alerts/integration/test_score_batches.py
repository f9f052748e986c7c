"""Alerts consumes score events in batches; when it lags behind scoring, one batch holds several
versions of the same score. The newest must win, whatever the order within the batch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tempen_alerts.adapters.postgres import SCHEMA, PostgresAlertsStore
from tests.alerts.integration.support import DIMENSIONS, UNIT, alerts_store, unit_scores

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresAlertsStore]:
    async with alerts_store(database_url) as opened:
        yield opened


@pytest.mark.parametrize("order", ["oldest first", "newest first"])
async def test_one_batch_with_three_versions_of_a_score_keeps_the_newest(
    store: PostgresAlertsStore, order: str
) -> None:
    versions = [unit_scores(2026, 1, index, sequence=seq) for seq, index in ((1, 40.0), (2, 55.0), (3, 70.0))]
    if order == "newest first":
        versions.reverse()

    async with store.transaction() as repo:
        keys = await repo.upsert_scores([s for version in versions for s in version])
        rows = await repo.conn.fetch(
            f"SELECT dimension, index, sequence FROM {SCHEMA}.period_scores WHERE unit = $1", UNIT
        )

    assert sorted(k.dimension for k in keys) == sorted(DIMENSIONS)
    assert {(r["dimension"], r["index"], r["sequence"]) for r in rows} == {(d, 70.0, 3) for d in DIMENSIONS}
