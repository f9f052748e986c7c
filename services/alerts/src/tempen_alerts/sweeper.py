"""The sweeper: judges series whose periods closed with no new score, and the time-based escalation; tells
what a quiet backfill left open once it has ended; reminds of action plans whose due date has passed.

Scores arrive when people answer; periods close and days pass without any message. The sweeper
judges what is due at the service's clock, so a test that moves the clock sees exactly what a
deployment sees when those days have passed.
"""

from __future__ import annotations

import asyncio
import logging

from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.ports import AlertsStore
from tempen_alerts.service import AlertsService, log_changes
from tempen_shared.db import TRANSIENT_DB_ERRORS, StoreUnavailableError

logger = logging.getLogger(__name__)
ACTIVE_STATES = ("open", "acknowledged", "escalated")


async def sweep_once(store: AlertsStore, service: AlertsService, metrics: AlertsMetrics) -> list[str]:
    """Judge every due series once at `service.clock()`; returns the states reached, in order."""
    now = service.clock()
    async with store.transaction() as repo:
        due = await repo.series_due(now=now)
    made: list[str] = []
    for key in due:
        async with store.transaction() as repo:  # one series per transaction: a failure costs one series
            judged = await service.judge(repo, key, now=now)  # time passed: no submission caused these
        log_changes(judged.changes)
        made.extend(judged.transitions)
        for state in judged.transitions:
            metrics.transitions.labels(state).inc()
    async with store.transaction() as repo:
        ended = await service.history_due(repo, now=now)
    for import_id in ended:
        async with store.transaction() as repo:  # one backfill per transaction: queued and marked done together
            await service.summarise_history(repo, import_id, now=now)
    async with store.transaction() as repo:
        reminders = await service.reminders_due(repo, now=now)
    for tenant, alert_id in reminders:
        async with store.transaction() as repo:  # one alert per transaction: its reminder row and e-mail together
            if await service.remind(repo, tenant, alert_id, now=now):
                metrics.plan_reminders.inc()
    async with store.transaction() as repo:
        counts = await repo.active_counts()
    for state in ACTIVE_STATES:
        metrics.open_alerts.labels(state).set(counts.get(state, 0))
    return made


async def run_sweeper(store: AlertsStore, service: AlertsService, metrics: AlertsMetrics, *, interval_s: float) -> None:
    while True:
        try:
            await sweep_once(store, service, metrics)
        except (StoreUnavailableError, *TRANSIENT_DB_ERRORS) as exc:  # type: ignore[misc]
            logger.warning("sweeper paused: %r", exc)
        await asyncio.sleep(interval_s)
