"""The notifier on the real store and a real SMTP server: claim one row at a time, stop gracefully,
retry what a server refuses for now, give up on what it refuses for good."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from tempen_alerts.adapters.notifier import EMAIL_CHANNELS, Notifier, SmtpSender
from tempen_alerts.adapters.postgres import PostgresAlertsStore
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.service import AlertsService
from tempen_alerts.sweeper import sweep_once
from tests.alerts.integration.support import (
    NEXT_LEVEL,
    SettableClock,
    SmtpSink,
    alerts_store,
    fixture_catalog,
    notification_states,
    unit_scores,
)
from tests.support import eventually

pytestmark = pytest.mark.integration

NOTIFICATIONS = 6  # three dimensions opened, each to the next level and to the unit's manager


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresAlertsStore]:
    async with alerts_store(database_url) as opened:
        service = AlertsService(
            catalog=fixture_catalog(),
            topic=lambda name: f"test.{name}",
            public_url="https://alerts.test",
            channel="email",
            clock=SettableClock(datetime(2026, 3, 2, tzinfo=UTC)),
        )
        async with opened.transaction() as repo:
            await repo.upsert_scores([*unit_scores(2026, 1, 40.0), *unit_scores(2026, 2, 41.0)])
        assert await sweep_once(opened, service, AlertsMetrics(CollectorRegistry())) == ["open"] * 3
        yield opened


def _notifier(store: PostgresAlertsStore, sink: SmtpSink, registry: CollectorRegistry, **options: float) -> Notifier:
    return Notifier(
        store.pool,
        SmtpSender(
            host="127.0.0.1",
            port=sink.port,
            username=None,
            password=None,
            starttls=False,
            timeout_s=options.get("timeout_s", 10),
            from_address=lambda _tenant: "tempen@testkommun.example",
        ),
        AlertsMetrics(registry),
        channels=EMAIL_CHANNELS,
        max_attempts=int(options.get("max_attempts", 5)),
        backoff_s=options.get("backoff_s", 0.05),
        dead_letter_topic="test.tempen.alerts",
        lease_s=options.get("lease_s", 1.0),
    )


async def test_a_notifier_that_dies_mid_delivery_leaves_only_that_one_notification_in_doubt(
    store: PostgresAlertsStore,
) -> None:
    with SmtpSink() as sink:
        sink.gate.clear()  # the server hangs in the first DATA
        # A short timeout: the cancelled client still says QUIT to the hanging server, and waits that long.
        task = asyncio.create_task(_notifier(store, sink, CollectorRegistry(), timeout_s=1).run())
        await asyncio.to_thread(sink.in_data.wait, 10)
        task.cancel()  # the process is gone in the middle of the SMTP transaction
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await notification_states(store.pool) == {"sending": 1, "pending": NOTIFICATIONS - 1}

        sink.gate.set()
        restarted = asyncio.create_task(_notifier(store, sink, CollectorRegistry()).run())
        try:
            await eventually(lambda: _states_are(store, {"in_doubt": 1, "sent": NOTIFICATIONS - 1}), timeout_s=20)
        finally:
            restarted.cancel()
    ids = Counter(sink.message_ids())
    assert max(ids.values()) == 1, ids
    assert len(ids) >= NOTIFICATIONS - 1


async def test_a_starting_replica_leaves_a_delivery_another_live_replica_has_in_hand_alone(
    store: PostgresAlertsStore,
) -> None:
    with SmtpSink() as sink:
        sink.gate.clear()  # the first replica's delivery hangs in DATA: it is in hand, not dead
        first = asyncio.create_task(_notifier(store, sink, CollectorRegistry(), timeout_s=30, lease_s=60).run())
        await asyncio.to_thread(sink.in_data.wait, 10)
        second = _notifier(store, sink, CollectorRegistry(), lease_s=60)
        assert await second.mark_in_doubt() == 0
        assert (await notification_states(store.pool)).get("in_doubt", 0) == 0
        sink.gate.set()
        try:
            await eventually(lambda: _states_are(store, {"sent": NOTIFICATIONS}), timeout_s=20)
        finally:
            first.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await first


async def test_a_graceful_stop_finishes_the_delivery_in_hand_and_claims_nothing_more(
    store: PostgresAlertsStore,
) -> None:
    with SmtpSink() as sink:
        sink.gate.clear()
        notifier = _notifier(store, sink, CollectorRegistry())
        task = asyncio.create_task(notifier.run())
        await asyncio.to_thread(sink.in_data.wait, 10)
        notifier.stop()
        sink.gate.set()
        await asyncio.wait_for(task, timeout=10)
    assert await notification_states(store.pool) == {"sent": 1, "pending": NOTIFICATIONS - 1}
    assert len(sink.messages) == 1


async def test_a_greylisted_recipient_is_retried_and_each_message_delivered_once(store: PostgresAlertsStore) -> None:
    registry = CollectorRegistry()
    with SmtpSink(refuse_rcpt={NEXT_LEVEL: ["450 4.2.0 Greylisted, try again later"] * 3}) as sink:
        task = asyncio.create_task(_notifier(store, sink, registry).run())
        try:
            await eventually(lambda: _states_are(store, {"sent": NOTIFICATIONS}), timeout_s=20)
        finally:
            task.cancel()
    ids = Counter(sink.message_ids())
    assert len(ids) == NOTIFICATIONS, ids
    assert max(ids.values()) == 1, ids
    attempts = await store.pool.fetch("SELECT recipient, attempts FROM alerts.notifications")
    # Each of the three refusals costs exactly one more attempt. Which message meets which refusal
    # depends on the order the notifier claims them (one may be retried before another is tried at
    # all), so the invariant is the sum, not two attempts each.
    next_level = [r["attempts"] for r in attempts if r["recipient"] == NEXT_LEVEL]
    assert len(next_level) == 3
    assert sum(next_level) == 3 + 3, next_level
    assert all(r["attempts"] == 1 for r in attempts if r["recipient"] != NEXT_LEVEL)
    assert registry.get_sample_value("tempen_notifications_total", {"channel": "email", "outcome": "retried"}) == 3
    assert registry.get_sample_value("tempen_notifications_total", {"channel": "email", "outcome": "sent"}) == 6


async def test_a_permanent_refusal_fails_at_once_and_a_temporary_one_after_the_last_attempt(
    store: PostgresAlertsStore,
) -> None:
    registry = CollectorRegistry()
    refusals = SmtpSink(
        always_refuse_rcpt={NEXT_LEVEL: "550 5.1.1 No such user"},
        always_refuse_data={"cecilia@testkommun.example": "451 4.3.0 Temporary local problem"},
    )
    with refusals as sink:
        task = asyncio.create_task(_notifier(store, sink, registry, max_attempts=3).run())
        try:
            await eventually(lambda: _states_are(store, {"failed": NOTIFICATIONS}), timeout_s=20)
        finally:
            task.cancel()
    rows = await store.pool.fetch("SELECT recipient, attempts, last_error FROM alerts.notifications")
    assert {(r["recipient"], r["attempts"]) for r in rows} == {(NEXT_LEVEL, 1), ("cecilia@testkommun.example", 3)}
    assert all(r["last_error"] for r in rows)
    letters = await store.pool.fetch("SELECT topic, headers FROM alerts.outbox WHERE topic LIKE '%.dlq'")
    assert [(r["topic"], r["headers"]["reason"]) for r in letters] == [
        ("test.tempen.alerts.dlq", "notification_failed")
    ] * NOTIFICATIONS
    assert registry.get_sample_value("tempen_notifications_total", {"channel": "email", "outcome": "failed"}) == 6
    assert sink.messages == []


async def _states_are(store: PostgresAlertsStore, expected: dict[str, int]) -> bool:
    return await notification_states(store.pool) == expected
