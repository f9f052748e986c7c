"""A revoked e-mail link (`tempen links revoke`) signs nobody in, and the sessions it opened end: at
once on its alert's pages (the alert fetch says so), within the poll interval on every other page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from tempen_portal.app import create_app
from tempen_portal.config import PortalSettings
from tempen_shared.links import SignInLink, person_digest, sign_sign_in_link
from tempen_shared.tenancy.loader import load_catalog
from tests.portal.fakes import FakeAlertsApi, FakeScoresApi
from tests.portal.test_pages import BO, NOW, SECRET, _alert, _csrf, _link

PortalWith = Callable[[float], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def alerts() -> FakeAlertsApi:
    return FakeAlertsApi()


@pytest.fixture
def portal_with(alerts: FakeAlertsApi, fixture_config: Path) -> PortalWith:
    @asynccontextmanager
    async def opened(poll_s: float) -> AsyncIterator[httpx.AsyncClient]:
        settings = PortalSettings(
            api_token=SecretStr("unused"), link_secret=SecretStr(SECRET), revocation_poll_s=poll_s
        )
        app = create_app(
            settings, catalog=load_catalog(fixture_config), clock=lambda: NOW, alerts=alerts, scores=FakeScoresApi()
        )
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as client:
            yield client

    return opened


def _two_alerts(alerts: FakeAlertsApi) -> str:
    """Bo's e-mail about a1 (its link's notification id is returned) and a2 about the same unit, which
    Bo may see as its next level but whose e-mail went to someone else."""
    mine = str(uuid4())
    alerts.add("testkommun", _alert("a1", "grupp-a1", {mine: BO}))
    alerts.add("testkommun", _alert("a2", "grupp-a1", {str(uuid4()): "cecilia@testkommun.example"}))
    return mine


async def test_a_revoked_link_signs_nobody_in_and_says_what_to_do(
    alerts: FakeAlertsApi, portal_with: PortalWith
) -> None:
    nid = _two_alerts(alerts)
    alerts.revoke_link("testkommun", nid, NOW - timedelta(hours=1))
    async with portal_with(30.0) as portal:
        refused = await portal.get(_link("a1", nid))
        assert refused.status_code == 403
        assert "Länken är återkallad" in refused.text
        assert "be HR" in refused.text, "the page says what to do next"
        assert (await portal.get("/t/testkommun/alerts/a1")).status_code == 401, "no session was opened"


async def test_revoking_ends_the_session_at_once_on_its_alert_s_page(
    alerts: FakeAlertsApi, portal_with: PortalWith
) -> None:
    nid = _two_alerts(alerts)
    async with portal_with(3600.0) as portal:
        await portal.get(_link("a1", nid))
        assert (await portal.get("/t/testkommun/alerts/a1")).status_code == 200
        alerts.revoke_link("testkommun", nid, NOW)
        ended = await portal.get("/t/testkommun/alerts/a1")
        assert ended.status_code == 403
        assert "Du har loggats ut" in ended.text
        assert f"Inloggad som {BO}" not in ended.text
        assert (await portal.get("/t/testkommun/alerts/a2")).status_code == 401, "the session is gone"


async def test_revoking_ends_the_session_on_other_pages_at_the_next_poll_not_one_call_per_page(
    alerts: FakeAlertsApi, portal_with: PortalWith
) -> None:
    nid = _two_alerts(alerts)
    async with portal_with(3600.0) as portal:
        await portal.get(_link("a1", nid))
        for _ in range(5):
            assert (await portal.get("/t/testkommun/alerts/a2")).status_code == 200
        assert alerts.revocation_polls == 1, "alerts is asked once per interval, not on every page"
    alerts.revocation_polls = 0
    async with portal_with(0.0) as portal:
        await portal.get(_link("a1", nid))
        assert (await portal.get("/t/testkommun/alerts/a2")).status_code == 200
        alerts.revoke_link("testkommun", nid, NOW)
        ended = await portal.get("/t/testkommun/alerts/a2")  # a page whose alert says nothing of Bo's link
        assert ended.status_code == 403
        assert "Du har loggats ut" in ended.text
        assert (await portal.get("/t/testkommun/alerts/a2")).status_code == 401


async def test_while_alerts_cannot_be_asked_pages_go_on_and_the_session_ends_once_it_answers(
    alerts: FakeAlertsApi, portal_with: PortalWith
) -> None:
    nid = _two_alerts(alerts)
    async with portal_with(0.0) as portal:
        await portal.get(_link("a1", nid))
        alerts.revoke_link("testkommun", nid, NOW)
        alerts.down = True
        home = await portal.get("/")
        assert home.status_code == 200, "an outage of alerts is no reason to fail a page that does not need it"
        alerts.down = False
        assert (await portal.get("/")).status_code == 403
        assert (await portal.get("/t/testkommun/alerts/a1")).status_code == 401


async def test_a_new_link_opened_after_the_old_one_was_revoked_signs_in_at_once(
    alerts: FakeAlertsApi, portal_with: PortalWith
) -> None:
    old = _two_alerts(alerts)
    new = str(uuid4())
    alerts.add("testkommun", _alert("a3", "grupp-a1", {new: BO}))
    async with portal_with(0.0) as portal:
        await portal.get(_link("a1", old))
        alerts.revoke_link("testkommun", old, NOW)
        opened = await portal.get(_link("a3", new))
        assert opened.status_code == 303, "not a signed-out page first: the new e-mail's link just works"
        assert (await portal.get("/t/testkommun/alerts/a3")).status_code == 200


async def test_a_revoked_link_s_session_writes_no_plan_or_comment_before_the_next_poll(
    alerts: FakeAlertsApi, portal_with: PortalWith
) -> None:
    nid = _two_alerts(alerts)
    async with portal_with(3600.0) as portal:
        await portal.get(_link("a1", nid))
        csrf = _csrf((await portal.get("/t/testkommun/alerts/a1")).text)
        alerts.revoke_link("testkommun", nid, NOW)  # the poll is an hour away: only the alert's answer says so
        plan = {"csrf": csrf, "what": "Prata i APT", "owner": "Bo Ek", "due_date": "2026-05-01", "status": "planned"}
        written = await portal.post("/t/testkommun/alerts/a1/plan", data=plan)
        assert written.status_code == 403
        assert "Du har loggats ut" in written.text
        assert (await portal.get("/t/testkommun/alerts/a2")).status_code == 401, "the session is gone"
    async with portal_with(3600.0) as portal:
        other = str(uuid4())
        alerts.add("testkommun", _alert("a3", "grupp-a1", {other: BO}))
        await portal.get(_link("a3", other))
        csrf = _csrf((await portal.get("/t/testkommun/alerts/a3")).text)
        alerts.revoke_link("testkommun", other, NOW)
        commented = await portal.post("/t/testkommun/alerts/a3/plan/comments", data={"csrf": csrf, "text": "Hej hej"})
        assert commented.status_code == 403
        assert "Du har loggats ut" in commented.text
    assert alerts.plans == []
    assert all(not a.get("plan", {}).get("comments") for a in alerts.alerts.values())


async def test_a_revoked_link_s_session_can_still_sign_in_another_way(
    alerts: FakeAlertsApi, portal_with: PortalWith
) -> None:
    secret = SECRET.encode()
    token = sign_sign_in_link(
        secret,
        SignInLink(
            tenant="testkommun",
            person_digest=person_digest(secret, "testkommun", BO),
            next_path="/t/testkommun/alerts/a2",
            issued_at=NOW - timedelta(minutes=5),
            expires_at=NOW + timedelta(hours=1),
        ),
    )
    for path in (f"/s/{token}", "/t/testkommun/sign-in", "/oidc/callback?state=x&code=y"):
        nid = _two_alerts(alerts)
        async with portal_with(0.0) as portal:
            await portal.get(_link("a1", nid))
            alerts.revoke_link("testkommun", nid, NOW)
            answer = await portal.get(path)
            assert "Du har loggats ut" not in answer.text, f"{path}: a new sign-in replaces the session"
            if path.startswith("/s/"):
                assert answer.status_code == 303
                assert (await portal.get("/t/testkommun/alerts/a2")).status_code == 200
