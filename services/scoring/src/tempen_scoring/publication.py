"""Publishing score events: the newest version of each changed score, at most once per interval.

The store writes score rows on its tick (in a batch's transaction, or in `score_pending` here) and
marks them unpublished in the same transaction (their `sequence` runs ahead of
`published_sequence`); this loop puts their events in the outbox and marks them published, again in
one transaction, so a crash anywhere publishes each version at most once and the newest version of
every row eventually. Under a burst the same rows (a unit's scores, the subtree scores of every unit
above) change with every batch; consumers keep only the highest sequence, so waiting `interval_s`
between rounds sends one event where there were dozens, and alerts judges once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from tempen_shared.db import TRANSIENT_DB_ERRORS, StoreUnavailableError

logger = logging.getLogger(__name__)

ROUND_LIMIT = 5_000  # rows per transaction


class PublishingStore(Protocol):
    async def publish_unpublished(self, limit: int = ROUND_LIMIT) -> tuple[int, int]: ...

    async def score_pending(self, *, force: bool = False) -> bool:
        """Write the scores that lag their totals if a tick is due; returns whether some still wait."""
        ...


async def publish_round(store: PublishingStore, *, on_published: Callable[[int], None]) -> int:
    """Publish everything unpublished now, a transaction per `ROUND_LIMIT` rows; returns the events published."""
    total = 0
    while True:
        claimed, published = await store.publish_unpublished(ROUND_LIMIT)
        total += published
        if published:
            on_published(published)
        if claimed < ROUND_LIMIT:
            return total


async def run_publisher(
    store: PublishingStore,
    wake: asyncio.Event,
    *,
    interval_s: float,
    on_published: Callable[[int], None],
    idle_check_s: float = 10.0,
) -> None:
    """Publish when woken (a batch wrote rows or left scores to compute) and at least every
    `idle_check_s` (rows another replica wrote, or left by a crash), then wait `interval_s` so the
    writes meanwhile go out together. Scores a batch left for the next tick are written first, once
    the tick is due, so they are not held back when no further batch comes."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=idle_check_s)
        wake.clear()
        try:
            if await store.score_pending():
                wake.set()  # not due yet: look again after the interval
            await publish_round(store, on_published=on_published)
        except Exception as exc:
            if not isinstance(exc, (StoreUnavailableError, *TRANSIENT_DB_ERRORS)):
                logger.exception("publishing score events failed; trying again in %.0f s", idle_check_s)
            else:
                logger.warning("publishing score events postponed: %s", exc)
            wake.set()  # what was not published is still marked unpublished: try again
            await asyncio.sleep(min(idle_check_s, 1.0))
            continue
        await asyncio.sleep(interval_s)
