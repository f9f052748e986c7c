"""The periodic privacy job: raw answers, free text and delivery ids are deleted when their time is up."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta

from tempen_ingest.service import IngestService
from tempen_shared.db import StoreUnavailableError

logger = logging.getLogger(__name__)


async def run_retention(
    service: Callable[[], IngestService], *, answers_after: timedelta, comments_after: timedelta, interval_s: float
) -> None:
    while True:
        try:
            purged = await service().purge(answers_after=answers_after, comments_after=comments_after)
        except StoreUnavailableError as exc:
            logger.warning("retention run skipped, the database is unavailable: %s", exc)
        except Exception:
            # A periodic job must outlive one failed run: log the bug and try again at the next interval.
            logger.exception("retention run failed")
        else:
            if purged.answers or purged.comments or purged.deliveries:
                logger.info(
                    "retention: deleted the raw answers of %d submissions, %d comments and %d delivery ids",
                    purged.answers,
                    purged.comments,
                    purged.deliveries,
                )
        await asyncio.sleep(interval_s)
