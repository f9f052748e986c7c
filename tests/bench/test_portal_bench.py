"""The portal bench signs its requests in with a session cookie it makes itself: the portal must take it
as its own sign-in would leave it, or the bench would time the "sign in first" page instead."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from bench.portal import _cookie
from pydantic import SecretStr

from tempen_portal.app import create_app, session_secret
from tempen_portal.config import PortalSettings
from tempen_shared.tenancy.loader import load_catalog
from tests.portal.fakes import FakeAlertsApi, FakeScoresApi


async def test_the_bench_s_session_cookie_signs_in_as_the_portal_s_own(fixture_config: Path) -> None:
    settings = PortalSettings(api_token=SecretStr("unused"), link_secret=SecretStr("a-link-secret-for-the-bench"))
    app = create_app(settings, catalog=load_catalog(fixture_config), alerts=FakeAlertsApi(), scores=FakeScoresApi())
    now = int(time.time())  # the app's clock is the real one; a session needs its sign-in time
    cookie = _cookie(
        session_secret(settings), {"tenant": "testkommun", "person": "hr@testkommun.example", "signed_in_at": now}
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
        signed_in = await client.get("/t/testkommun/", cookies={"tempen_session": cookie})
        forged = await client.get("/t/testkommun/", cookies={"tempen_session": _cookie("another secret", {})})

    assert signed_in.status_code == 200
    assert "Inloggad som hr@testkommun.example" in signed_in.text
    assert forged.status_code == 401
