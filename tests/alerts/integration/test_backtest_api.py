"""`POST /v1/tenants/{tenant}/alerts/backtest`: alerts' whole app on the real broker and PostgreSQL, asked
over HTTP with real tokens. The source is alerts' own copy of the scores here; scoring's API as the source
is driven through the CLI in tests/alerts/cli/test_backtest_command.py, and refusing here."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import asyncpg
import httpx
import pytest

from tempen_scoring.app import create_app as create_scoring_app
from tempen_shared.access.store import create_token, migrate_access
from tempen_shared.access.tokens import Scope
from tempen_shared.db import create_pool
from tests.alerts.integration.support import (
    FIXTURE_CONFIG,
    TENANT,
    admin_token,
    alerts_store,
    month,
    running_alerts,
    unit_scores,
)
from tests.support import free_port, scoring_settings, serving

if TYPE_CHECKING:  # the fixture's type; nothing is imported from conftest at run time
    from tests.conftest import Infra

pytestmark = pytest.mark.integration

ROUTE = f"/v1/tenants/{TENANT}/alerts/backtest"


@pytest.fixture
async def alerts(infra: Infra, database_url: str, topic_prefix: str) -> AsyncIterator[str]:
    """Alerts with Grupp A1's June and August 2026 low in its copy of the scores, and September recovered,
    each series marked judged through September so the sweeper leaves them be (as if judged under an
    earlier policy): whatever alert a backtest finds, none is in the store. Its scoring URL is a closed port,
    so scoring is down."""
    async with alerts_store(database_url) as store, store.transaction() as repo:
        changed = await repo.upsert_scores(
            [*unit_scores(2026, 6, 40.0), *unit_scores(2026, 8, 42.0), *unit_scores(2026, 9, 80.0)], judging=True
        )
        for key in changed:
            await repo.mark_judged(key, month(2026, 9)[2])
    async with running_alerts(
        bootstrap_servers=infra.bootstrap_servers,
        database_url=database_url,
        topic_prefix=topic_prefix,
        smtp_port=free_port(),
        scoring_url=f"http://127.0.0.1:{free_port()}",
        scoring_timeout_s=2.0,
    ) as base:
        yield base


async def _post(base: str, token: str, body: Any, *, content: bytes | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        if content is not None:
            return await http.post(ROUTE, content=content, headers={**headers, "content-type": "application/json"})
        return await http.post(ROUTE, json=body, headers=headers)


async def _tenant_token(database_url: str, *scopes: Scope) -> str:
    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate_access(pool)
        token, _ = await create_token(pool, tenant=TENANT, name=f"backtest {'+'.join(scopes)}", scopes=scopes)
        return token
    finally:
        await pool.close()


def _errors(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


async def test_a_read_token_backtests_alerts_copy_and_nothing_is_written_or_sent(
    alerts: str, database_url: str
) -> None:
    token = await _tenant_token(database_url, Scope.READ)
    response = await _post(alerts, token, {"source": "alerts", "units": ["grupp-a1"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["source"] == "alerts.period_scores"
    assert body["policy"] == "tenant"
    assert body["summary"] == {
        "series_replayed": 3,
        "series_left_out": 0,
        "alert_on": "all",
        "opened": 3,
        "escalated": 0,
        "handed_to_hr": 0,
        "resolved": 3,
        "still_active": 0,
    }
    opened = [r for r in body["rows"] if r["change"] == "opened"]
    assert {r["dimension"] for r in opened} == {"ledarskap", "motivation", "total"}
    first = opened[0]
    assert (first["unit_name"], first["period"], first["level"], first["told"]) == (
        "Grupp A1",
        "2026-08",
        1,
        "Bo Förvaltningschef",
    )
    assert "2026-06..2026-08: 41.0 (n=16, SE 1.4) below the threshold 65.0" in first["reason"]
    pool = await create_pool(database_url, max_size=2)
    try:
        assert await pool.fetchval("SELECT count(*) FROM alerts.alerts") == 0
        assert await pool.fetchval("SELECT count(*) FROM alerts.transitions") == 0
        assert await pool.fetchval("SELECT count(*) FROM alerts.notifications") == 0
    finally:
        await pool.close()


async def test_a_policy_given_is_used_and_its_bad_fields_are_named(alerts: str, database_url: str) -> None:
    token = await admin_token(database_url)
    strict = await _post(alerts, token, {"source": "alerts", "policy": {"threshold": 30}})
    assert strict.status_code == 200, strict.text
    assert strict.json()["policy"] == "given"
    assert strict.json()["rows"] == [], "nothing falls below 30"

    invalid = await _post(
        alerts, token, {"source": "alerts", "policy": {"threshold": 130, "sustained_period": 2}, "assume_ack": 1}
    )
    assert invalid.status_code == 422
    errors = _errors(invalid)
    assert errors["policy.threshold"] == "Input should be less than or equal to 100"
    assert errors["policy.sustained_period"] == "Extra inputs are not permitted"
    assert errors["assume_ack"] == "Extra inputs are not permitted"

    unknown = await _post(alerts, token, {"source": "alerts", "policy": {"alert_on": {"test-model": ["tillit"]}}})
    assert unknown.status_code == 422
    assert _errors(unknown)["policy.alert_on.test-model.0"].startswith("unknown dimension 'tillit' of test-model")


async def test_bad_requests_get_a_problem_naming_the_field(alerts: str, database_url: str) -> None:
    token = await admin_token(database_url)
    unit = await _post(alerts, token, {"source": "alerts", "units": ["grupp-a1", "grupp-x9"]})
    assert unit.status_code == 422
    assert _errors(unit)["units"] == f"not in {TENANT}'s org: grupp-x9"

    source = await _post(alerts, token, {"source": "database"})
    assert source.status_code == 422
    assert "source" in _errors(source)

    malformed = await _post(alerts, token, None, content=b'{"source": ')
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("application/problem+json")

    too_big = await _post(alerts, token, None, content=b'{"units": [' + b'"a",' * 100_000 + b'"a"]}')
    assert too_big.status_code == 413

    async with httpx.AsyncClient(base_url=alerts, timeout=30) as http:
        other = await http.post(
            "/v1/tenants/nowhere/alerts/backtest", json={}, headers={"authorization": f"Bearer {token}"}
        )
    assert other.status_code == 404
    assert _errors(other) == {"tenant": "unknown tenant"}


async def test_a_submit_token_may_not_backtest(alerts: str, database_url: str) -> None:
    token = await _tenant_token(database_url, Scope.SUBMIT)
    response = await _post(alerts, token, {"source": "alerts"})
    assert response.status_code == 403


async def test_with_scoring_down_a_backtest_of_its_scores_is_a_503_that_says_what_to_do(
    alerts: str, database_url: str
) -> None:
    token = await admin_token(database_url)
    response = await _post(alerts, token, {"source": "scoring"})
    assert response.status_code == 503
    assert response.headers["retry-after"]
    detail = response.json()["detail"]
    assert "scoring is not reachable at http://127.0.0.1:" in detail
    assert "TEMPEN_ALERTS_SCORING_URL" in detail
    assert "source alerts" in detail


async def test_when_scoring_refuses_the_callers_token_the_backtest_says_so_with_a_502(
    infra: Infra, database_url: str, topic_prefix: str
) -> None:
    # Scoring on a database of its own knows none of alerts' tokens: the caller's token, passed on, is refused.
    other = f"t_{uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.admin_database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{other}"')
    finally:
        await admin.close()
    settings_of_scoring = scoring_settings(
        bootstrap_servers=infra.bootstrap_servers,
        database_url=infra.database_url(other),
        config_dir=FIXTURE_CONFIG,
        topic_prefix=topic_prefix,
    )
    try:
        async with (
            serving(create_scoring_app(settings_of_scoring)) as scoring,
            running_alerts(
                bootstrap_servers=infra.bootstrap_servers,
                database_url=database_url,
                topic_prefix=topic_prefix,
                smtp_port=free_port(),
                scoring_url=scoring,
            ) as alerts,
        ):
            token = await _tenant_token(database_url, Scope.READ)
            response = await _post(alerts, token, {"source": "scoring"})
    finally:
        admin = await asyncpg.connect(infra.admin_database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')
        finally:
            await admin.close()
    assert response.status_code == 502
    assert response.json()["title"] == "Scoring refused the token"
    assert "scoring refused the token (401)" in response.json()["detail"]
    assert "source alerts" in response.json()["detail"]
