"""Operator-issued sign-in links: the portal's API issues them with an admin token (checked against the
real token store in PostgreSQL) to HR and managers only, `/s/{token}` opens a session for that person,
and `tempen portal sign-in-link` asks the portal over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette

from tempen.cli import main
from tempen_portal.app import create_app
from tempen_portal.config import PortalSettings
from tempen_shared.access.store import create_token, migrate_access
from tempen_shared.access.tokens import Scope
from tempen_shared.db import create_pool
from tempen_shared.links import AlertLink, sign_link
from tempen_shared.tenancy.loader import load_catalog
from tests.portal.fakes import FakeAlertsApi, FakeScoresApi
from tests.portal.test_sign_in_oidc import _alert
from tests.support import free_port

pytestmark = pytest.mark.integration

PORTAL = "http://portal.test"
SECRET = "link-secret-for-the-sign-in-link-tests"
START = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
API = f"{PORTAL}/v1/tenants/testkommun/sign-in-links"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def tokens(database_url: str) -> dict[str, str]:
    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate_access(pool)
        admin, _ = await create_token(pool, tenant=None, name="operator", scopes=())
        reader, _ = await create_token(pool, tenant="testkommun", name="reader", scopes=[Scope.READ])
        return {"admin": admin, "reader": reader}
    finally:
        await pool.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def alerts() -> FakeAlertsApi:
    fake = FakeAlertsApi()
    for alert_id, unit in (("a-kommun", "kommun"), ("a-a1", "grupp-a1"), ("a-b1", "grupp-b1")):
        fake.add("testkommun", _alert(alert_id, unit))
    return fake


@pytest.fixture
def app(database_url: str, fixture_config: Path, clock: Clock, alerts: FakeAlertsApi) -> Starlette:
    settings = PortalSettings(
        api_token=SecretStr("unused"),
        link_secret=SecretStr(SECRET),
        public_url=PORTAL,
        database_url=SecretStr(database_url),
    )
    return create_app(
        settings, catalog=load_catalog(fixture_config), clock=clock, alerts=alerts, scores=FakeScoresApi()
    )


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.11", 4000))
    async with httpx.AsyncClient(transport=transport, base_url=PORTAL) as http:
        yield http


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _issued(client: httpx.AsyncClient, token: str, **body: object) -> httpx.Response:
    return await client.post(API, json=body, headers=_bearer(token))


async def _opened(client: httpx.AsyncClient, url: str) -> httpx.Response:
    client.cookies.clear()  # a new browser
    return await client.get(url.removeprefix(PORTAL))


async def _sees(client: httpx.AsyncClient) -> dict[str, int]:
    return {
        alert_id: (await client.get(f"/t/testkommun/alerts/{alert_id}")).status_code
        for alert_id in ("a-kommun", "a-a1", "a-b1")
    }


async def test_hr_gets_a_link_that_opens_the_page_it_names_as_hr(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    issued = await _issued(client, tokens["admin"], email="HR@testkommun.example", next="/t/testkommun/overview")
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["person"] == "hr@testkommun.example"
    assert body["role"] == "hr"
    assert body["expires_at"] == (START + timedelta(hours=24)).isoformat()
    assert body["url"].startswith(f"{PORTAL}/s/")
    assert "hr@testkommun" not in body["url"].lower()

    opened = await _opened(client, body["url"])
    assert opened.status_code == 303
    assert opened.headers["location"] == "/t/testkommun/overview"
    assert await _sees(client) == {"a-kommun": 200, "a-a1": 200, "a-b1": 200}


async def test_a_manager_gets_a_link_to_the_start_page_and_sees_their_subtree(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    body = (await _issued(client, tokens["admin"], email="cecilia@testkommun.example", valid_hours=2)).json()
    assert (body["role"], body["next"]) == ("manager", "/t/testkommun/")
    opened = await _opened(client, body["url"])
    assert opened.headers["location"] == "/t/testkommun/"
    assert await _sees(client) == {"a-kommun": 403, "a-a1": 200, "a-b1": 403}


async def test_someone_neither_hr_nor_a_manager_is_refused_with_the_reason(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    refused = await _issued(client, tokens["admin"], email="stranger@testkommun.example")
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["errors"] == [
        {"field": "email", "reason": "not the tenant's HR address or a manager in its org tree"}
    ]
    assert "org/testkommun.csv" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "hr@testkommun.example", "next": "https://evil.example/t/testkommun/"}, "next"),
        ({"email": "hr@testkommun.example", "next": "//evil.example/t/testkommun/"}, "next"),
        ({"email": "hr@testkommun.example", "next": "/t/annan/overview"}, "next"),
        ({"email": "hr@testkommun.example", "valid_hours": 169}, "valid_hours"),
        ({"email": "hr@testkommun.example", "valid_hours": 0}, "valid_hours"),
        ({"email": "hr@testkommun.example", "person": "x"}, "person"),
        ({}, "email"),
    ],
)
async def test_a_request_outside_the_bounds_is_refused_naming_the_field(
    client: httpx.AsyncClient, tokens: dict[str, str], body: dict[str, object], field: str
) -> None:
    refused = await client.post(API, json=body, headers=_bearer(tokens["admin"]))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in refused.json()["errors"]] == [field]


async def test_only_an_admin_token_issues_links(client: httpx.AsyncClient, tokens: dict[str, str]) -> None:
    body = {"email": "hr@testkommun.example"}
    assert (await client.post(API, json=body)).status_code == 401
    assert (await client.post(API, json=body, headers=_bearer("tempen_00000000_" + "0" * 48))).status_code == 401
    refused = await client.post(API, json=body, headers=_bearer(tokens["reader"]))
    assert refused.status_code == 403
    assert "lacks the scope admin" in refused.json()["detail"]
    unknown = await client.post(
        f"{PORTAL}/v1/tenants/nowhere/sign-in-links", json=body, headers=_bearer(tokens["admin"])
    )
    assert unknown.status_code == 404


async def test_a_link_stops_working_when_it_expires(
    client: httpx.AsyncClient, tokens: dict[str, str], clock: Clock
) -> None:
    url = (await _issued(client, tokens["admin"], email="hr@testkommun.example", valid_hours=1)).json()["url"]
    clock.now = START + timedelta(hours=1)
    expired = await _opened(client, url)
    assert expired.status_code == 400
    assert "har gått ut" in expired.text
    assert (await client.get("/t/testkommun/alerts/a-kommun")).status_code == 401


async def test_an_alert_link_is_no_sign_in_link_and_a_sign_in_link_no_alert_link(
    client: httpx.AsyncClient, tokens: dict[str, str], alerts: FakeAlertsApi
) -> None:
    nid = str(uuid4())
    alerts.add("testkommun", {**_alert("a-link", "grupp-a1"), "notifications": [_note(nid)]})
    alert_token = sign_link(SECRET.encode(), AlertLink("testkommun", "a-link", UUID(nid), START))
    assert (await _opened(client, f"/s/{alert_token}")).status_code == 400
    sign_in_url = (await _issued(client, tokens["admin"], email="hr@testkommun.example")).json()["url"]
    assert (await _opened(client, sign_in_url.replace("/s/", "/l/"))).status_code == 400
    assert (await client.get("/t/testkommun/alerts/a-kommun")).status_code == 401


async def test_failed_sign_in_links_are_rate_limited(client: httpx.AsyncClient) -> None:
    for attempt in range(10):
        assert (await client.get(f"/s/guess{attempt}.guess")).status_code == 400
    blocked = await client.get("/s/guess.guess")
    assert blocked.status_code == 429


async def test_the_command_prints_the_link_and_says_why_when_refused(
    app: Starlette, tokens: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        args = ["portal", "sign-in-link", "--url", url, "--token", tokens["admin"], "--tenant", "testkommun"]
        assert await asyncio.to_thread(main, [*args, "--next", "/t/testkommun/overview", "Dan@testkommun.example"]) == 0
        out = capsys.readouterr().out
        assert "A personal sign-in link for dan@testkommun.example (manager) in testkommun, opening" in out
        assert f"  {PORTAL}/s/" in out
        assert await asyncio.to_thread(main, [*args, "stranger@testkommun.example"]) == 1
        refused = capsys.readouterr().out
        assert "No sign-in link: the portal refused (422 Not HR or a manager)" in refused
        assert "stranger@testkommun.example is neither testkommun's hr_email nor a manager" in refused
        no_token = ["portal", "sign-in-link", "--url", url, "--token", "wrong", "--tenant", "testkommun", "x@y.se"]
        assert await asyncio.to_thread(main, no_token) == 1
        assert "needs an admin token" in capsys.readouterr().out
    finally:
        server.should_exit = True
        await serving


def _note(notification_id: str) -> dict[str, object]:
    return {
        "notification_id": notification_id,
        "recipient": "hr@testkommun.example",
        "recipient_role": "hr",
        "channel": "email",
        "state": "sent",
        "created_at": "2026-03-02T08:00:00+00:00",
        "sent_at": "2026-03-02T08:00:01+00:00",
    }
