"""alert_policy.alert_on in the service: series it leaves out are stored but never open an alert, and an alert
opened before the tenant left its dimension out is closed, e-mailing nobody. Real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from tempen_alerts.adapters.postgres import PostgresAlertsStore
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.service import AlertsService
from tempen_alerts.sweeper import sweep_once
from tempen_shared.tenancy.loader import Catalog
from tests.alerts.integration.support import (
    SettableClock,
    alerts_service,
    alerts_store,
    two_challenged_months,
    with_tenant_settings,
)

pytestmark = pytest.mark.integration

JUDGED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # January and February 2026 were challenged


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresAlertsStore]:
    async with alerts_store(database_url) as opened:
        yield opened


def _catalog(alert_on: Any) -> Catalog:
    return with_tenant_settings(alert_policy={"alert_on": alert_on})


def _service(catalog: Catalog, clock: SettableClock) -> AlertsService:
    return alerts_service(clock, catalog=catalog)


async def test_with_totals_only_the_total_index_opens_and_the_dimensions_are_stored_unjudged(
    store: PostgresAlertsStore,
) -> None:
    clock = SettableClock(JUDGED)
    await two_challenged_months(store)

    made = await sweep_once(store, _service(_catalog("totals"), clock), AlertsMetrics(CollectorRegistry()))

    assert made == ["open"]
    assert [r["dimension"] for r in await store.pool.fetch("SELECT dimension FROM alerts.alerts")] == ["total"]
    stored = await store.pool.fetch("SELECT DISTINCT dimension FROM alerts.period_scores ORDER BY dimension")
    assert [r["dimension"] for r in stored] == ["ledarskap", "motivation", "total"]
    clock.advance(days=1)
    assert await sweep_once(store, _service(_catalog("totals"), clock), AlertsMetrics(CollectorRegistry())) == []


async def test_a_list_per_model_opens_only_the_dimensions_listed(store: PostgresAlertsStore) -> None:
    await two_challenged_months(store)
    service = _service(_catalog({"test-model": ("ledarskap",)}), SettableClock(JUDGED))

    assert await sweep_once(store, service, AlertsMetrics(CollectorRegistry())) == ["open"]
    assert await store.pool.fetchval("SELECT dimension FROM alerts.alerts") == "ledarskap"


async def test_an_open_alert_on_a_dimension_left_out_later_is_closed_and_nobody_is_emailed(
    store: PostgresAlertsStore,
) -> None:
    clock = SettableClock(JUDGED)
    metrics = AlertsMetrics(CollectorRegistry())
    await two_challenged_months(store)
    assert await sweep_once(store, _service(_catalog("all"), clock), metrics) == ["open"] * 3
    queued = await store.pool.fetchval("SELECT count(*) FROM alerts.notifications")

    clock.advance(hours=1)  # HR changes the policy to the dimensions only; the sweeper judges the active alerts
    assert await sweep_once(store, _service(_catalog("dimensions"), clock), metrics) == ["resolved"]
    clock.advance(days=1)
    assert await sweep_once(store, _service(_catalog("dimensions"), clock), metrics) == [], "closed once, not reopened"

    states = {r["dimension"]: r["state"] for r in await store.pool.fetch("SELECT dimension, state FROM alerts.alerts")}
    assert states == {"ledarskap": "open", "motivation": "open", "total": "resolved"}
    [closed] = await store.pool.fetch(
        "SELECT from_state, rule, reason, actor, period FROM alerts.transitions WHERE to_state = 'resolved'"
    )
    assert (closed["from_state"], closed["rule"], closed["actor"], closed["period"]) == (
        "open",
        "not_alerted",
        "tempen",
        "2026-02",
    )
    assert closed["reason"].startswith("not alerted: alert_policy.alert_on (dimensions) leaves this dimension out")
    assert await store.pool.fetchval("SELECT count(*) FROM alerts.notifications") == queued, "nobody is e-mailed"
