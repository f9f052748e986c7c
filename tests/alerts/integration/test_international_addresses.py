"""Managers with å, ä or ö in their address, through the real notifier, store and an SMTP server (aiosmtpd)
that offers SMTPUTF8 or not: a domain is always sent (in IDNA2008 ASCII form); a local part needs
SMTPUTF8, and without it fails for good after one attempt, with a reason to act on, while the
other notifications are delivered."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tempen_alerts.adapters.notifier import EMAIL_CHANNELS, Notifier, SmtpSender
from tempen_alerts.adapters.postgres import PostgresAlertsStore
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.service import AlertsService
from tempen_alerts.sweeper import sweep_once
from tempen_shared.tenancy.addresses import SMTPUTF8_ADVICE
from tempen_shared.tenancy.loader import load_catalog
from tests.alerts.integration.support import (
    FIXTURE_CONFIG,
    NEXT_LEVEL,
    UNIT_MANAGER,
    SettableClock,
    SmtpSink,
    alerts_store,
    notification_states,
    unit_scores,
)
from tests.support import eventually

pytestmark = pytest.mark.integration

UNIT_MANAGER_SV = "cecilia.åström@testkommun.example"  # needs SMTPUTF8: nothing else can carry å before the @
NEXT_LEVEL_SV = "bo@förvaltningen.example"  # the domain is written xn--frvaltningen-4ib.example
NEXT_LEVEL_ASCII = "bo@xn--frvaltningen-4ib.example"
EACH = 3  # three dimensions opened, each told to the next level and to the unit's manager


@pytest.fixture
async def store(database_url: str, tmp_path: Path) -> AsyncIterator[PostgresAlertsStore]:
    config = tmp_path / "config"
    shutil.copytree(FIXTURE_CONFIG, config)
    org = config / "org" / "testkommun.csv"
    org.write_text(
        org.read_text(encoding="utf-8").replace(UNIT_MANAGER, UNIT_MANAGER_SV).replace(NEXT_LEVEL, NEXT_LEVEL_SV),
        encoding="utf-8",
    )
    async with alerts_store(database_url) as opened:
        service = AlertsService(
            catalog=load_catalog(config),
            topic=lambda name: f"test.{name}",
            public_url="https://alerts.test",
            channel="email",
            clock=SettableClock(datetime(2026, 3, 2, tzinfo=UTC)),
        )
        async with opened.transaction() as repo:
            await repo.upsert_scores([*unit_scores(2026, 1, 40.0), *unit_scores(2026, 2, 41.0)])
        assert await sweep_once(opened, service, AlertsMetrics(CollectorRegistry())) == ["open"] * EACH
        yield opened


def _notifier(store: PostgresAlertsStore, sink: SmtpSink, registry: CollectorRegistry) -> Notifier:
    return Notifier(
        store.pool,
        SmtpSender(
            host="127.0.0.1",
            port=sink.port,
            username=None,
            password=None,
            starttls=False,
            timeout_s=10,
            from_address=lambda _tenant: "tempen@testkommun.example",
        ),
        AlertsMetrics(registry),
        channels=EMAIL_CHANNELS,
        max_attempts=5,
        backoff_s=0.05,
        dead_letter_topic="test.tempen.alerts",
        lease_s=1.0,
    )


async def test_a_relay_with_smtputf8_gets_every_message_with_the_address_intact(store: PostgresAlertsStore) -> None:
    with SmtpSink(smtputf8=True) as sink:
        task = asyncio.create_task(_notifier(store, sink, CollectorRegistry()).run())
        try:
            await eventually(lambda: _states_are(store, {"sent": 2 * EACH}), timeout_s=20)
        finally:
            task.cancel()
    to_manager = [e for e in sink.envelopes if e[1] == [UNIT_MANAGER_SV]]
    to_next_level = [e for e in sink.envelopes if e[1] == [NEXT_LEVEL_ASCII]]
    assert (len(to_manager), len(to_next_level)) == (EACH, EACH), sink.envelopes
    assert all("SMTPUTF8" in options for _, _, options in to_manager)
    # An IDN domain alone never asks for SMTPUTF8: its ASCII form goes through any relay.
    assert not any("SMTPUTF8" in options for _, _, options in to_next_level)
    assert sorted(str(m["To"]) for m in sink.messages) == sorted([UNIT_MANAGER_SV] * EACH + [NEXT_LEVEL_ASCII] * EACH)


async def test_a_relay_without_smtputf8_fails_such_an_address_at_once_and_delivers_the_others(
    store: PostgresAlertsStore,
) -> None:
    registry = CollectorRegistry()
    with SmtpSink(smtputf8=False) as sink:
        task = asyncio.create_task(_notifier(store, sink, registry).run())
        try:
            await eventually(lambda: _states_are(store, {"sent": EACH, "failed": EACH}), timeout_s=20)
            await asyncio.sleep(0.3)  # longer than the backoff: a retry, if there were one, would show
        finally:
            task.cancel()
    rows = await store.pool.fetch("SELECT recipient, state, attempts, last_error FROM alerts.notifications")
    failed = [r for r in rows if r["state"] == "failed"]
    assert {(r["recipient"], r["attempts"], r["last_error"]) for r in failed} == {(UNIT_MANAGER_SV, 1, SMTPUTF8_ADVICE)}
    assert {r["recipient"] for r in rows if r["state"] == "sent"} == {NEXT_LEVEL_SV}
    assert [e[1] for e in sink.envelopes] == [[NEXT_LEVEL_ASCII]] * EACH
    letters = await store.pool.fetch("SELECT headers FROM alerts.outbox WHERE topic = 'test.tempen.alerts.dlq'")
    assert [r["headers"]["reason"] for r in letters] == ["notification_failed"] * EACH
    sample = registry.get_sample_value
    assert sample("tempen_notification_failures_total", {"channel": "email", "reason": "smtputf8_unsupported"}) == 3
    assert sample("tempen_notifications_total", {"channel": "email", "outcome": "failed"}) == EACH
    assert sample("tempen_notifications_total", {"channel": "email", "outcome": "retried"}) is None


async def _states_are(store: PostgresAlertsStore, expected: dict[str, int]) -> bool:
    return await notification_states(store.pool) == expected
