"""The score tick: at most every interval, longer in a backlog, and never closer than a multiple of what
the last tick took, so batches keep flowing when a tick is expensive (a large municipality)."""

from __future__ import annotations

from tempen_scoring.domain.ticks import TICK_SPACING, TickPolicy, tick_due

POLICY = TickPolicy.of(0.5, 5.0)


def _due(
    *, now: float, last_scored: float = 0.0, last_batch: float = 0.0, backlog: bool = False, last_tick_s: float = 0.0
) -> bool:
    return tick_due(
        POLICY, now=now, last_scored=last_scored, last_batch=last_batch, backlog=backlog, last_tick_s=last_tick_s
    )


def test_one_batch_at_a_time_ticks_after_the_steady_interval() -> None:
    assert not _due(now=0.49, last_batch=0.4)
    assert _due(now=0.5, last_batch=0.4)


def test_full_batches_tick_after_the_backlog_interval_while_they_keep_coming() -> None:
    assert not _due(now=4.9, last_batch=4.8, backlog=True)
    assert _due(now=5.0, last_batch=4.8, backlog=True)


def test_a_backlog_ends_when_batches_stop_coming() -> None:
    assert not _due(now=1.0, last_batch=0.9, backlog=True), "the next full batch is due any moment"
    assert _due(now=1.5, last_batch=0.9, backlog=True), "none came for longer than the steady interval"


def test_an_expensive_tick_spaces_the_next_by_a_multiple_of_its_cost() -> None:
    took = 0.8  # rescoring most groups of a 3,000-unit municipality
    assert not _due(now=TICK_SPACING * took - 0.01, last_tick_s=took)
    assert _due(now=TICK_SPACING * took, last_tick_s=took)
    assert _due(now=0.5, last_tick_s=0.1), "a cheap tick leaves the interval as configured"


def test_the_backlog_interval_is_never_shorter_than_the_steady_one() -> None:
    assert TickPolicy.of(2.0, 1.0) == TickPolicy(2.0, 2.0)


def test_an_interval_of_zero_scores_with_every_batch() -> None:
    every = TickPolicy.of(0.0, 0.0)
    assert tick_due(every, now=0.01, last_scored=0.0, last_batch=0.0, backlog=False, last_tick_s=1.0)
