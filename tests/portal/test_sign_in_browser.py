"""The OpenID Connect sign-in in a real browser (Debian's Chromium, driven by Playwright, JavaScript off)
against the real provider, and axe-core on the portal's sign-in pages: the start page listing where to
sign in, and the page refusing someone who is neither HR nor a manager."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import uvicorn
from pydantic import SecretStr

from tempen_portal.app import create_app
from tempen_portal.config import PortalSettings
from tempen_shared.tenancy.loader import load_catalog
from tests.e2e.browser import axe_violations, chromium, chromium_path
from tests.portal.fakes import FakeAlertsApi, FakeScoresApi
from tests.portal.oidc_provider import running_provider
from tests.portal.test_sign_in_oidc import ACCOUNTS, CLIENT_SECRET, NOW, SECRET_ENV, _alert, _tenant_yaml
from tests.support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def test_hr_signs_in_through_the_provider_in_chromium_and_the_pages_meet_wcag(
    tmp_path: Path, fixture_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executable = chromium_path()
    monkeypatch.setenv(SECRET_ENV, CLIENT_SECRET)
    port = free_port()
    portal_url = f"http://127.0.0.1:{port}"
    clients = [
        {
            "client_id": "tempen-testkommun",
            "client_secret": CLIENT_SECRET,
            "redirect_uris": [f"{portal_url}/oidc/callback"],
        }
    ]
    config = tmp_path / "config"
    shutil.copytree(fixture_config, config)
    alerts = FakeAlertsApi()
    alerts.add("testkommun", _alert("a-kommun", "kommun"))
    with running_provider(tmp_path, clients=clients, accounts=ACCOUNTS) as issuer:
        (config / "tenants" / "testkommun.yaml").write_text(_tenant_yaml("testkommun", issuer, "tempen-testkommun"))
        settings = PortalSettings(
            api_token=SecretStr("unused"), link_secret=SecretStr("link-secret-for-the-browser"), public_url=portal_url
        )
        app = create_app(
            settings, catalog=load_catalog(config), clock=lambda: NOW, alerts=alerts, scores=FakeScoresApi()
        )
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                await asyncio.sleep(0.05)
            async with chromium(executable) as browser:
                plain = await browser.new_context(java_script_enabled=False, locale="sv-SE")
                page = await plain.new_page()
                await page.goto(portal_url + "/")
                await page.get_by_role("link", name="Logga in med kommunens inloggning: Testkommun").click()
                assert page.url.startswith(issuer), "sent to the provider"
                await page.locator("input[name=login]").fill("hanna")
                await page.locator("input[name=password]").fill("any")
                await page.locator("button[type=submit]").click()
                await page.locator("button[type=submit]").click()  # the provider's consent page
                await page.wait_for_url(f"{portal_url}/t/testkommun/")
                await page.goto(f"{portal_url}/t/testkommun/alerts/a-kommun")
                assert "hanna.hr@testkommun.example" in await page.locator("header").inner_text()
                assert await page.locator("h1").inner_text() != ""
                await plain.close()

                checked = await browser.new_context(java_script_enabled=True, bypass_csp=True)
                page = await checked.new_page()
                await page.goto(portal_url + "/")
                assert await axe_violations(page) == [], "the start page with its sign-in list meets WCAG 2.1 AA"
                await page.get_by_role("link", name="Logga in med kommunens inloggning: Testkommun").click()
                await page.locator("input[name=login]").fill("nobody")
                await page.locator("input[name=password]").fill("any")
                await page.locator("button[type=submit]").click()
                await page.locator("button[type=submit]").click()
                await page.wait_for_url(f"{portal_url}/oidc/callback*")
                assert "varken HR eller chef" in await page.locator("main").inner_text()
                assert await axe_violations(page) == [], "the refusal page meets WCAG 2.1 AA"
                await checked.close()
        finally:
            server.should_exit = True
            await serving
