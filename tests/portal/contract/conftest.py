"""The `world` fixture: every case in this package runs once against the fakes and once against the
real services (started once per module: pulses through ingest raise real alerts)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest

from tempen_portal.adapters.api import HttpAlertsApi, HttpScoresApi
from tests.auth.helpers import issue_token
from tests.e2e.system import running_system
from tests.e2e.test_pipeline import month_start, pulse
from tests.portal.contract.worlds import MANAGER, TENANT, UNIT, FakeWorld, KnownAlert, RealWorld, World
from tests.support import eventually

if TYPE_CHECKING:
    from tests.conftest import Infra

FIXTURE_CONFIG = Path(__file__).parents[2] / "fixtures" / "config"


@pytest.fixture(scope="module")
async def real_world(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RealWorld]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.admin_database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    database_url = infra.database_url(name)
    try:
        async with running_system(
            tmp_path_factory.mktemp("contract"),
            FIXTURE_CONFIG,
            KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
            DATABASE_URL=database_url,
            TEMPEN_TOPIC_PREFIX=f"t{uuid.uuid4().hex[:8]}.",
        ) as (sup, _mail):
            token = await issue_token(database_url, tenant=None)
            headers = {"authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=sup.services["ingest"].url, timeout=30, headers=headers) as http:
                # A month with too few answers to show (so the series has a suppressed period), then
                # three low ones: an alert per dimension, each told to MANAGER.
                for months_ago, answers in ((4, 3), (3, 8), (2, 8), (1, 8)):
                    answer = await http.post(
                        f"/v1/tenants/{TENANT}/submissions",
                        json=pulse(UNIT, month_start(months_ago), answers, 2, "c"),
                    )
                    assert answer.status_code == 202, answer.text
            alerts_url = sup.services["alerts"].url
            async with httpx.AsyncClient(base_url=alerts_url, timeout=30, headers=headers) as api:

                async def told() -> list[KnownAlert]:
                    links = (await api.get(f"/v1/tenants/{TENANT}/admin/links", params={"recipient": MANAGER})).json()
                    return [KnownAlert(n["alert_id"], n["notification_id"]) for n in links["links"]]

                await eventually(lambda: _at_least(told, 3), timeout_s=120)
                opened = await told()
            alerts = HttpAlertsApi(alerts_url, token, timeout_s=10)
            scores = HttpScoresApi(sup.services["scoring"].url, token, timeout_s=10)
            try:
                yield RealWorld(alerts, scores, alerts_url, token, opened)
            finally:
                await alerts.aclose()
                await scores.aclose()
    finally:
        admin = await asyncpg.connect(infra.admin_database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _at_least(found: Callable[[], Awaitable[list[KnownAlert]]], count: int) -> bool:
    return len(await found()) >= count


@pytest.fixture(
    params=[
        "fake",
        pytest.param("real", marks=[pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]),
    ]
)
def world(request: pytest.FixtureRequest) -> World:
    if request.param == "fake":
        return FakeWorld()
    real: RealWorld = request.getfixturevalue("real_world")
    return real
