"""When score rows follow the totals: the tick.

A batch makes its totals durable at once; the scores of the slices it changed follow on the next tick.
Pure: the store passes the monotonic clock readings it keeps.
"""

from __future__ import annotations

from dataclasses import dataclass

# A tick waits at least this many times as long as the last one took, so ticks take at most about a
# quarter of scoring's time. Once most groups change in every tick (a large municipality at steady
# load), a tick costs about the same however long the interval was: without this, ticks that take
# as long as the interval would leave no time to apply batches.
TICK_SPACING = 3.0


@dataclass(frozen=True, slots=True)
class TickPolicy:
    interval_s: float  # while batches arrive one by one
    backlog_interval_s: float  # while batches come full (a burst, a replay)

    @classmethod
    def of(cls, interval_s: float, backlog_interval_s: float) -> TickPolicy:
        return cls(interval_s, max(backlog_interval_s, interval_s))


def tick_due(
    policy: TickPolicy, *, now: float, last_scored: float, last_batch: float, backlog: bool, last_tick_s: float
) -> bool:
    """Whether scores should be written now. `backlog`: the last batch came full; `last_batch`: when it
    ended (or began, while it runs); `last_tick_s`: how long the last tick took."""
    # A backlog ends when batches stop coming, not only when one comes less than full.
    in_backlog = backlog and now - last_batch < max(policy.interval_s, 0.1)
    interval = policy.backlog_interval_s if in_backlog else policy.interval_s
    if interval <= 0:
        return True  # configured to score with every batch
    return now - last_scored >= max(interval, TICK_SPACING * last_tick_s)
