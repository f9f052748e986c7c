"""Scores follow a batch's totals on a tick: a batch makes its totals durable at once, the scores come at
most every interval (longer while batches come full), and scores left behind by a crash between a
batch and its tick are caught up by the realigner of the next replica to start."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from tempen_scoring.adapters.postgres import SCHEMA, PostgresScoringStore
from tempen_scoring.domain.rescoring import IncomingContribution
from tempen_scoring.realign import realign_once
from tempen_scoring.service import contributions_of
from tempen_shared.events import SubmissionAccepted, submission_event_id
from tempen_shared.tenancy.loader import load_catalog
from tests.conftest import FIXTURE_CONFIG

pytestmark = pytest.mark.integration

CATALOG = load_catalog(FIXTURE_CONFIG)
WHEN = datetime(2025, 5, 14, 9, 0, tzinfo=UTC)  # a closed month


def _store(scoring_pool: asyncpg.Pool, *, interval_s: float, backlog_interval_s: float = 0.0) -> PostgresScoringStore:
    return PostgresScoringStore(
        scoring_pool,
        catalog=CATALOG,
        topic=lambda name: f"test.{name}",
        on_commit=lambda: None,
        score_interval_s=interval_s,
        backlog_score_interval_s=backlog_interval_s,
    )


def _batch(first: int, count: int, unit: str = "grupp-a1") -> list[IncomingContribution]:
    out: list[IncomingContribution] = []
    for n in range(first, first + count):
        event = SubmissionAccepted(
            event_id=submission_event_id("testkommun", f"s{n}", 1),
            occurred_at=WHEN,
            tenant="testkommun",
            instrument="test-puls",
            unit=unit,
            submission_id=f"s{n}",
            revision=1,
            submitted_at=WHEN,
            answers={"q1": 2 + n % 3, "q2": 4, "q3": 5},
        )
        out.extend(contributions_of(event, CATALOG))
    return out


async def _respondents(scoring_pool: asyncpg.Pool, unit: str, scope: str = "unit") -> int | None:
    value: int | None = await scoring_pool.fetchval(
        f"SELECT max(respondents) FROM {SCHEMA}.scores WHERE unit = $1 AND scope = $2", unit, scope
    )
    return value


async def test_totals_are_durable_at_once_and_scores_follow_when_the_tick_is_due(scoring_pool: asyncpg.Pool) -> None:
    store = _store(scoring_pool, interval_s=3600)
    assert await store.apply(_batch(0, 5), []) == (5, 0, 0), "no score rows before the tick"
    assert await store.apply(_batch(5, 3, "grupp-b1"), []) == (3, 0, 0)
    assert await scoring_pool.fetchval(f"SELECT sum(respondents) FROM {SCHEMA}.unit_totals") == 8
    assert await _respondents(scoring_pool, "grupp-a1") is None

    assert await store.score_pending() is True, "not due: the scores still wait"
    assert await _respondents(scoring_pool, "grupp-a1") is None
    assert await store.score_pending(force=True) is False
    assert await _respondents(scoring_pool, "grupp-a1") == 5
    assert await _respondents(scoring_pool, "forv", "subtree") == 8, "both batches' units rolled up in one tick"
    assert await scoring_pool.fetchval(f"SELECT bool_and(scored_version = version) FROM {SCHEMA}.slice_versions")


async def test_a_full_batch_waits_for_the_longer_backlog_tick(scoring_pool: asyncpg.Pool) -> None:
    store = _store(scoring_pool, interval_s=0.0, backlog_interval_s=3600)
    _, _, written = await store.apply(_batch(0, 5), [], backlog=True)
    assert written == 0, "under a backlog a batch leaves its scores to the longer tick"
    _, _, written = await store.apply(_batch(5, 1), [], backlog=False)
    assert written > 0, "once batches no longer come full, the short tick applies"
    assert await _respondents(scoring_pool, "grupp-a1") == 6


async def test_scores_a_crash_left_behind_are_caught_up_by_the_next_replica(scoring_pool: asyncpg.Pool) -> None:
    crashed = _store(scoring_pool, interval_s=3600)
    await crashed.apply(_batch(0, 6), [])
    del crashed  # gone between its batch and its tick: only the totals are stored

    restarted = _store(scoring_pool, interval_s=0.5)
    assert len(await restarted.misaligned()) == 1, "at start-up any slice whose scores lag is taken"
    assert await restarted.misaligned() == [], "later, one just bumped may be another replica's to score"
    assert await _respondents(scoring_pool, "grupp-a1") is None

    again = _store(scoring_pool, interval_s=0.5)
    slices, written = await realign_once(again)
    assert (slices, written > 0) == (1, True)
    assert await _respondents(scoring_pool, "grupp-a1") == 6
    assert await again.misaligned() == []
