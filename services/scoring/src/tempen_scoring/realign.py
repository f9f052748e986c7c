"""Keeping roll-ups in step with the org: when a new org version changes the tree a past or current
period falls under, the slices of that period are rescored whole against it.

A batch of submissions already rolls its slices up against the tree in force; this covers the slices
no submission touches any more. It runs when this replica stores new org rows, and every
`interval_s` for those another replica stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from tempen_scoring.domain.rescoring import SliceKey
from tempen_shared.db import TRANSIENT_DB_ERRORS, StoreUnavailableError

logger = logging.getLogger(__name__)


class RealigningStore(Protocol):
    async def misaligned(self) -> list[SliceKey]: ...

    async def realign(self, key: SliceKey) -> int:
        """Rescore one slice whole against the tree now in force; returns the score rows that changed."""
        ...


async def realign_once(store: RealigningStore) -> tuple[int, int]:
    """Rescore every misaligned slice, one transaction each. Returns (slices, score rows changed)."""
    slices = await store.misaligned()
    changed = 0
    for key in slices:
        changed += await store.realign(key)
    if slices:
        logger.info(
            "rolled %d slice(s) up again against a new org version; %d score row(s) changed",
            len(slices),
            changed,
        )
    return len(slices), changed


async def run_realigner(store: RealigningStore, wake: asyncio.Event, *, interval_s: float) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), timeout=interval_s)
        wake.clear()
        try:
            await realign_once(store)
        except Exception as exc:
            if not isinstance(exc, (StoreUnavailableError, *TRANSIENT_DB_ERRORS)):
                logger.exception("realigning slices to the org failed; trying again in %.0f s", interval_s)
                continue
            # An outage: the next round catches up.
            logger.warning("realigning slices to the org postponed: %s", exc)
