"""A session lasts TEMPEN_PORTAL_SESSION_HOURS from its sign-in, however active the person is: the cookie
is re-signed with a fresh timestamp on every change, so only the sign-in time can end it."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
from pydantic import SecretStr

from tempen_portal.app import create_app
from tempen_portal.config import PortalSettings
from tempen_shared.tenancy.loader import load_catalog
from tests.portal.fakes import FakeAlertsApi, FakeScoresApi
from tests.portal.test_pages import BO, NOW, SECRET, _alert, _csrf, _link


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


async def test_an_active_session_ends_its_hours_after_the_sign_in(fixture_config: Path) -> None:
    alerts, clock = FakeAlertsApi(), Clock()
    nid = str(uuid4())
    alerts.add("testkommun", _alert("a1", "grupp-a1", {nid: BO}))
    settings = PortalSettings(api_token=SecretStr("unused"), link_secret=SecretStr(SECRET), session_hours=2.0)
    app = create_app(settings, catalog=load_catalog(fixture_config), clock=clock, alerts=alerts, scores=FakeScoresApi())
    transport = httpx.ASGITransport(app=app, client=("203.0.113.8", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as portal:
        assert (await portal.get(_link("a1", nid))).status_code == 303
        for minutes in (30, 60, 90, 119):  # active all along: every page changes the session, re-signing it
            clock.now = NOW + timedelta(minutes=minutes)
            page = await portal.get("/t/testkommun/alerts/a1")
            assert page.status_code == 200, minutes
            await portal.get("/lang/sv?next=/")
        csrf = _csrf(page.text)
        clock.now = NOW + timedelta(hours=2, minutes=1)
        ended = await portal.get("/t/testkommun/alerts/a1")
        assert ended.status_code == 401
        assert "Öppna länken i ditt e-postmeddelande för att logga in." in ended.text
        plan = {"csrf": csrf, "what": "Prata i APT", "owner": "Bo Ek", "due_date": "2026-05-01", "status": "planned"}
        assert (await portal.post("/t/testkommun/alerts/a1/plan", data=plan)).status_code == 401
    assert alerts.plans == []
