"""The portal in a real browser (Debian's Chromium, driven by Playwright) against the real services: low
pulses raise an alert, its e-mail reaches the real SMTP sink, the manager opens the personal link,
sees the alert with its trend, and acknowledges it with a plan, with the keyboard alone and with
JavaScript turned off. Every page is checked with axe-core for WCAG 2.1 A and AA violations."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest

from tests.auth.helpers import admin_headers
from tests.e2e.system import running_system
from tests.e2e.test_pipeline import month_start, pulse
from tests.support import eventually

if TYPE_CHECKING:
    from tests.conftest import Infra

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

CHROMIUM = os.environ.get("TEMPEN_CHROMIUM", "/usr/bin/chromium")
AXE = (Path(__file__).parents[1] / "vendor" / "axe.min.js").read_text(encoding="utf-8")
BO = "bo@testkommun.example"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/l/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def chromium_path() -> str:
    found = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found is None:  # a real part that cannot run here fails loudly, never skips
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium package (as root)")
    return found


async def axe_violations(page: Any) -> list[tuple[str, list[Any]]]:
    await page.evaluate(AXE)
    result = await page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in result["violations"]]


async def test_a_manager_opens_the_e_mail_s_link_sees_the_trend_and_acknowledges_with_the_keyboard(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    executable = chromium_path()
    async with running_system(
        tmp_path,
        fixture_config,
        portal=True,
        KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
        DATABASE_URL=database_url,
        TEMPEN_TOPIC_PREFIX=topic_prefix,
    ) as (sup, mail):
        headers = await admin_headers(database_url)
        async with httpx.AsyncClient(base_url=sup.services["ingest"].url, timeout=30, headers=headers) as http:
            for months_ago in (3, 2, 1):
                response = await http.post(
                    "/v1/tenants/testkommun/submissions", json=pulse("grupp-a1", month_start(months_ago), 8, 2, "web")
                )
                assert response.status_code == 202, response.text
        await eventually(lambda: mail.to(BO), timeout_s=90)
        body = mail.to(BO)[0].get_body(preferencelist=("plain",)).get_content()
        found = LINK.search(body)
        assert found, f"the e-mail carries a personal link to the portal:\n{body}"
        link = found.group(0)
        assert link.startswith(sup.services["portal"].url)
        assert "@" not in link, "no e-mail address in the link"

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=executable, headless=True)
            try:
                # The whole flow without JavaScript, as some municipal workplaces run their browsers.
                plain = await browser.new_context(java_script_enabled=False, locale="sv-SE")
                page = await plain.new_page()
                await page.goto(link)
                assert re.search(r"/t/testkommun/alerts/[^/]+$", page.url), "redirected off the token at once"
                heading = await page.locator("h1").inner_text()
                assert heading.startswith("Signal: "), heading
                assert heading.endswith(" i Grupp A1"), heading
                assert await page.locator("svg[role=img]").count() == 1, "the trend chart is drawn"
                assert await page.locator("details table tbody tr").count() == 3, "its table: three months"
                await page.screenshot(path=str(tmp_path / "alert-sv.png"), full_page=True)
                if shots := os.environ.get("TEMPEN_SCREENSHOTS"):
                    await page.screenshot(path=str(Path(shots) / "portal-alert-sv.png"), full_page=True)

                # Keyboard only: Tab to the plan, type it, Tab to the date, Tab to the button, Enter.
                for _ in range(40):
                    await page.keyboard.press("Tab")
                    if await page.evaluate("document.activeElement && document.activeElement.id") == "action_plan":
                        break
                else:
                    pytest.fail("the action plan field cannot be reached with the Tab key")
                await page.keyboard.type("Vi pratar i arbetsplatsträffen och följer upp i juni.")
                await page.keyboard.press("Tab")
                assert await page.evaluate("document.activeElement.id") == "follow_up_date"
                for _ in range(6):  # past the date's day, month and year fields (the date is optional)
                    await page.keyboard.press("Tab")
                    if await page.evaluate("document.activeElement.type") == "submit":
                        break
                else:
                    pytest.fail("the acknowledge button cannot be reached with the Tab key")
                async with page.expect_navigation():
                    await page.keyboard.press("Enter")
                assert "Tack! Signalen är kvitterad" in await page.locator("main").inner_text()
                assert "Kvitterad" in await page.locator(".state").inner_text()
                await plain.close()

                # axe-core needs script in the page: the same pages again, checked with it.
                checked = await browser.new_context(java_script_enabled=True, bypass_csp=True)
                page = await checked.new_page()
                await page.goto(link)
                assert await axe_violations(page) == [], "the alert page meets WCAG 2.1 AA"
                await page.goto(sup.services["portal"].url + "/")
                assert await axe_violations(page) == [], "the start page meets WCAG 2.1 AA"
                await page.goto(sup.services["portal"].url + "/l/not-a-link")
                assert await axe_violations(page) == [], "the error page meets WCAG 2.1 AA"
                await checked.close()
            finally:
                await browser.close()

        conn = await asyncpg.connect(database_url)
        try:
            acknowledged = await conn.fetch("SELECT actor FROM alerts.transitions WHERE to_state = 'acknowledged'")
        finally:
            await conn.close()
        assert [r["actor"] for r in acknowledged] == [BO], "recorded under the signed-in person's name"
