"""The score tick: score rows follow a batch's totals at most once per interval.

A batch makes its totals durable and leaves its slices' scores to the next tick (`PostgresScoringStore`).
A tick falls due in a later batch's transaction, or here, when no further batch comes: this loop is
woken when a batch leaves scores waiting and writes them once the tick is due. The score groups are
their own outbox: the relay publishes each written group once, at its newest figures
(`ScoreGroupsRelaySource`), so a group rewritten by several ticks between two relay rounds is sent once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from tempen_shared.db import TRANSIENT_DB_ERRORS, StoreUnavailableError

logger = logging.getLogger(__name__)


class TickingStore(Protocol):
    async def score_pending(self, *, force: bool = False) -> bool:
        """Write the scores that lag their totals if a tick is due; returns whether some still wait."""
        ...


async def run_ticker(
    store: TickingStore,
    wake: asyncio.Event,
    *,
    interval_s: float,
    idle_check_s: float = 10.0,
) -> None:
    """Write waiting scores when woken (a batch left scores for the next tick) and at least every
    `idle_check_s`, looking again every `interval_s` while the tick is not due yet."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=idle_check_s)
        wake.clear()
        try:
            if await store.score_pending():
                wake.set()  # not due yet: look again after the interval
        except Exception as exc:
            if not isinstance(exc, (StoreUnavailableError, *TRANSIENT_DB_ERRORS)):
                logger.exception("writing scores on the tick failed; trying again in %.0f s", idle_check_s)
            else:
                logger.warning("writing scores on the tick postponed: %s", exc)
            wake.set()  # the slices stay marked as waiting: try again
            await asyncio.sleep(min(idle_check_s, 1.0))
            continue
        await asyncio.sleep(interval_s)
