"""Alerts as a process that dies the moment the transaction of its first batch of score events has committed:
after the store's commit and before the consumer's Kafka commit. `os._exit` is a crash as SIGKILL is one (no
clean-up, no Kafka commit, no leaving the group), but at exactly that point.

Run as `python -m tests.alerts.integration.crashing_alerts` with alerts' environment; exits CRASHED."""

from __future__ import annotations

import os
import weakref
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from tempen_alerts.__main__ import main
from tempen_alerts.adapters.postgres import PostgresAlertsRepository, PostgresAlertsStore
from tempen_alerts.ports import SeriesKey

CRASHED = 17

_transaction = PostgresAlertsStore.transaction
_upsert_scores = PostgresAlertsRepository.upsert_scores
_stored_scores: weakref.WeakSet[PostgresAlertsRepository] = weakref.WeakSet()  # transactions of a batch


async def _upsert_and_mark(
    self: PostgresAlertsRepository, scores: Sequence[Any], **options: Any
) -> dict[SeriesKey, datetime]:
    if scores:
        _stored_scores.add(self)
    return await _upsert_scores(self, scores, **options)


@asynccontextmanager
async def _transaction_then_die(self: PostgresAlertsStore) -> AsyncIterator[PostgresAlertsRepository]:
    async with _transaction(self) as repo:
        yield repo
    if repo in _stored_scores:
        os._exit(CRASHED)


if __name__ == "__main__":
    PostgresAlertsRepository.upsert_scores = _upsert_and_mark  # type: ignore[method-assign]
    PostgresAlertsStore.transaction = _transaction_then_die  # type: ignore[method-assign]
    main()
