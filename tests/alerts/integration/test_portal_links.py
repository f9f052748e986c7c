"""Each alert e-mail carries its own recipient's signed link to the portal, naming that very
notification, so the portal signs in the person the e-mail went to and nobody else."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from tempen_alerts.adapters.postgres import PostgresAlertsStore
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.service import AlertsService, PortalLinks
from tempen_alerts.sweeper import sweep_once
from tempen_shared.links import read_link
from tests.alerts.integration.support import SettableClock, alerts_store, fixture_catalog, unit_scores

pytestmark = pytest.mark.integration

SECRET = b"the-secret-alerts-and-the-portal-share"
OPENED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LINK = re.compile(r"https://portal\.test/l/(\S+)")


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresAlertsStore]:
    async with alerts_store(database_url) as opened:
        yield opened


async def test_every_e_mail_links_to_the_portal_for_its_own_notification(store: PostgresAlertsStore) -> None:
    service = AlertsService(
        catalog=fixture_catalog(),
        topic=lambda name: f"test.{name}",
        public_url="https://alerts.test",
        channel="email",
        clock=SettableClock(OPENED),
        portal=PortalLinks("https://portal.test/", SECRET),
    )
    async with store.transaction() as repo:
        await repo.upsert_scores([*unit_scores(2026, 1, 40.0), *unit_scores(2026, 2, 41.0)])
    assert await sweep_once(store, service, AlertsMetrics(CollectorRegistry()))
    rows = await store.pool.fetch(
        "SELECT notification_id, alert_id, tenant, recipient, body_text, body_html FROM alerts.notifications"
    )
    assert len(rows) > 1
    for row in rows:
        found = LINK.search(row["body_text"])
        assert found, row["body_text"]
        assert "https://alerts.test" not in row["body_text"], "no link to the API when there is a portal"
        assert found.group(0) in row["body_html"]
        link = read_link(SECRET, found.group(1), now=OPENED + timedelta(days=1), valid_for=timedelta(days=30))
        assert (link.tenant, link.alert_id, link.notification_id) == (
            row["tenant"],
            row["alert_id"],
            row["notification_id"],
        )
        assert link.issued_at == OPENED
    assert len({LINK.search(r["body_text"]).group(1) for r in rows}) == len(rows), "one link per person"  # type: ignore[union-attr]
