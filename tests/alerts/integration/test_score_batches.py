"""Alerts consumes score events in batches; when it lags behind scoring, one batch holds several
versions of the same score. The newest must win, whatever the order within the batch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from tempen_alerts.adapters.postgres import SCHEMA, PostgresAlertsStore
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.ports import SeriesKey
from tempen_alerts.service import AlertsService
from tempen_alerts.sweeper import sweep_once
from tempen_shared.events import UnitScored
from tests.alerts.integration.support import (
    DIMENSIONS,
    UNIT,
    SettableClock,
    alerts_store,
    fixture_catalog,
    unit_scores,
)

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


async def _judge_all(store: PostgresAlertsStore, service: AlertsService, *, prefetch: bool, now: datetime) -> list[str]:
    made: list[str] = []
    async with store.transaction() as repo:
        keys = sorted(
            (
                SeriesKey(r["tenant"], r["unit"], r["instrument"], r["model"], r["dimension"])
                for r in await repo.conn.fetch(f"SELECT * FROM {SCHEMA}.series WHERE rejudge")
            ),
            key=lambda k: (k.unit, k.dimension),
        )
        if prefetch:
            await repo.prefetch(keys)
        for key in keys:
            made.extend(
                f"{key.unit}/{key.dimension}:{s}" for s in (await service.judge(repo, key, now=now)).transitions
            )
    return made


async def _state(store: PostgresAlertsStore) -> list[tuple[object, ...]]:
    rows = await store.pool.fetch(
        f"""SELECT s.unit, s.dimension, s.rejudge, s.judged_through, a.state, a.level
            FROM {SCHEMA}.series s LEFT JOIN {SCHEMA}.alerts a USING (tenant, unit, instrument, model, dimension)
            ORDER BY 1, 2"""
    )
    return [tuple(r) for r in rows]


async def test_judging_a_batch_with_one_prefetch_decides_as_judging_series_one_by_one(database_url: str) -> None:
    """Alerts reads the series, histories and active alerts of a whole batch in three statements; what it
    decides and stores must be exactly what the one-series-at-a-time path decides."""
    months = [(2026, m, index) for m, index in ((1, 40.0), (2, 41.0), (3, 72.0), (4, 39.0), (5, 38.0), (6, 37.0))]
    outcomes = []
    for prefetch in (False, True):
        async with alerts_store(database_url) as store:
            await store.pool.execute(f"TRUNCATE {SCHEMA}.series, {SCHEMA}.period_scores, {SCHEMA}.alerts CASCADE")
            service = AlertsService(
                catalog=fixture_catalog(),
                topic=lambda name: f"test.{name}",
                public_url="https://a.test",
                channel="email",
            )
            made: list[str] = []
            for year, number, index in months:
                async with store.transaction() as repo:
                    await repo.upsert_scores(
                        [
                            *unit_scores(year, number, index),
                            *unit_scores(year, number, 100 - index, unit="grupp-b1"),
                        ]
                    )
                made += await _judge_all(store, service, prefetch=prefetch, now=datetime(2026, 8, 1, tzinfo=UTC))
            outcomes.append((made, await _state(store)))
    one_by_one, prefetched = outcomes
    assert any(m.endswith(":open") for m in one_by_one[0]), "the scores must open alerts for the test to mean anything"
    assert prefetched == one_by_one


async def _series_versions(store: PostgresAlertsStore) -> dict[tuple[str, str], tuple[str, str]]:
    """Each series row's version: the transaction that last wrote it and where it lies."""
    rows = await store.pool.fetch(
        f"SELECT unit, dimension, xmin::text AS xmin, ctid::text AS ctid FROM {SCHEMA}.series"
    )
    return {(r["unit"], r["dimension"]): (r["xmin"], r["ctid"]) for r in rows}


async def test_a_batch_judged_in_its_own_transaction_writes_a_series_only_when_its_judgement_moves(
    store: PostgresAlertsStore,
) -> None:
    """As the consumer does it: store, prefetch, judge every changed series, flush. A series was written
    twice per batch (flagged for rejudging, then cleared); a new version of scores already judged, for
    a period judged before, now leaves the series rows as they were."""
    service = AlertsService(
        catalog=fixture_catalog(),
        topic=lambda name: f"test.{name}",
        public_url="https://a.test",
        channel="email",
    )
    now = datetime(2026, 8, 1, tzinfo=UTC)

    async def batch(sequence: int, index: float) -> int:
        async with store.transaction() as repo:
            keys = await repo.upsert_scores(unit_scores(2026, 3, index, sequence=sequence), judging=True)
            await repo.prefetch(list(keys))
            for key in keys:
                await service.judge(repo, key, now=now)
        return len(keys)

    assert await batch(1, 60.0) == len(DIMENSIONS)
    before = await _series_versions(store)
    assert await batch(2, 61.0) == len(DIMENSIONS), "the new figures were stored and judged"
    after = await _series_versions(store)

    assert len(before) == len(DIMENSIONS)
    assert after == before, "judged again with no new closed period: no series row written"
    flagged = await store.pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.series WHERE rejudge")
    assert flagged == 0, "nothing left for the sweeper: every series was judged in the batch's transaction"


async def test_a_change_to_a_period_still_open_is_stored_unjudged_and_the_sweeper_judges_it_once_closed(
    store: PostgresAlertsStore,
) -> None:
    """Steady load changes the month still open, again and again. Judging reads closed months only, so the
    consumer judges a series only when a closed month changed (`AlertsService.due`); the open month's
    figures wait, unjudged and unflagged, until the sweeper finds the month closed. The alert then opens
    exactly as if the consumer had judged every batch."""
    in_february = datetime(2026, 2, 15, tzinfo=UTC)
    clock = SettableClock(in_february)
    service = AlertsService(
        catalog=fixture_catalog(),
        topic=lambda name: f"test.{name}",
        public_url="https://a.test",
        channel="email",
        clock=clock,
    )

    async def consume(scores: list[UnitScored], now: datetime) -> list[SeriesKey]:
        """What the Kafka handler does with a batch."""
        async with store.transaction() as repo:
            changed = await repo.upsert_scores(scores, judging=True)
            due = service.due(changed, now=now)
            await repo.prefetch(due)
            for key in due:
                await service.judge(repo, key, now=now)
        return due

    # January closed and February open change together: January's change must be judged now.
    assert len(await consume([*unit_scores(2026, 1, 40.0), *unit_scores(2026, 2, 60.0)], in_february)) == len(
        DIMENSIONS
    )
    before = await _series_versions(store)
    # Only February moves (low now): nothing to judge, no series row written, nothing flagged.
    assert await consume(unit_scores(2026, 2, 41.0, sequence=2), in_february) == []
    assert await _series_versions(store) == before
    assert await store.pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.series WHERE rejudge") == 0
    assert await store.pool.fetchval(f"SELECT count(*) FROM {SCHEMA}.alerts") == 0

    # Once February has closed (and its grace hours passed), the sweeper judges it: two low months open.
    clock.now = datetime(2026, 3, 10, tzinfo=UTC)
    assert await sweep_once(store, service, AlertsMetrics(CollectorRegistry())) == ["open"] * len(DIMENSIONS)
