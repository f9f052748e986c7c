"""The portal in a real browser (Debian's Chromium, driven by Playwright) against the real services: low
pulses raise an alert, its e-mail reaches the real SMTP sink, the manager opens the personal link,
sees the alert with its trend, acknowledges it, writes an action plan and a follow-up comment, with the
keyboard alone and with JavaScript turned off. Two more low months escalate the alert to the next level,
whose e-mail quotes the plan, and that manager's own link opens the page with the plan's history. Every
page is checked with axe-core for WCAG 2.1 A and AA violations."""

from __future__ import annotations

import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from tests.auth.helpers import admin_headers
from tests.e2e.browser import axe_violations, chromium, chromium_path
from tests.e2e.system import running_system
from tests.e2e.test_pipeline import month_start, pulse
from tests.support import eventually

if TYPE_CHECKING:
    from tests.conftest import Infra

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

BO = "bo@testkommun.example"
KIM = "kim@testkommun.example"  # the level above Bo
PLAN = "Vi pratar om arbetsbelastningen i arbetsplatsträffen och bokar medarbetarsamtal."
COMMENT = "Första arbetsplatsträffen är hållen."
LINK = re.compile(r"http://127\.0\.0\.1:\d+/l/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


async def tab_to(page: Any, element_id: str, *, presses: int = 60) -> None:
    """Press Tab until the element with `element_id` has the focus, as a keyboard user would."""
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    pytest.fail(f"#{element_id} cannot be reached with the Tab key")


async def type_date(page: Any, day: date) -> None:
    """Type a date into the focused date field segment by segment, in the order this Chromium shows them
    (its UI language decides it, not the page's: Debian's headless build shows month, day, year)."""
    for part in (f"{day.month:02d}", f"{day.day:02d}", f"{day.year}"):
        await page.keyboard.type(part)
    value = await page.evaluate("document.activeElement.value")
    assert value == day.isoformat(), f"the date field reads {value!r}: this Chromium orders date fields differently"


def plain_text(message: Any) -> str:
    text: str = message.get_body(preferencelist=("plain",)).get_content()
    return text.replace("\r\n", "\n")


async def test_a_manager_opens_the_e_mail_s_link_sees_the_trend_and_acknowledges_with_the_keyboard(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path
) -> None:
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
            # Two low months open the alert; two lower ones, after Bo's plan, escalate it (no improvement).
            for months_ago in (4, 3):
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

        async with chromium(executable) as browser:
            # The whole flow without JavaScript, as some municipal workplaces run their browsers.
            plain = await browser.new_context(java_script_enabled=False, locale="sv-SE")
            page = await plain.new_page()
            await page.goto(link)
            assert re.search(r"/t/testkommun/alerts/[^/]+$", page.url), "redirected off the token at once"
            heading = await page.locator("h1").inner_text()
            assert heading.startswith("Signal: "), heading
            assert heading.endswith(" i Grupp A1"), heading
            assert await page.locator("svg[role=img]").count() == 1, "the trend chart is drawn"
            assert await page.locator("details table tbody tr").count() == 2, "its table: two months"
            await page.screenshot(path=str(tmp_path / "alert-sv.png"), full_page=True)
            shots = os.environ.get("TEMPEN_SCREENSHOTS")
            if shots:
                await page.screenshot(path=str(Path(shots) / "portal-alert-sv.png"), full_page=True)

            # Keyboard only: Tab to the plan, type it, Tab to the date, Tab to the button, Enter.
            await tab_to(page, "action_plan")
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

            # The plan, keyboard only: what, owner, due date, status (arrow keys in the radio group), save.
            await tab_to(page, "plan-what")
            await page.keyboard.press("Control+A")
            await page.keyboard.type(PLAN)
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.id") == "plan-owner"
            assert await page.evaluate("document.activeElement.value") == BO, "the owner starts as oneself"
            await page.keyboard.press("Control+A")
            await page.keyboard.type("Bo Berg")
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.id") == "plan-due_date"
            today = datetime.now(ZoneInfo("Europe/Stockholm")).date()  # the tenant's day, as alerts sees it
            due = today + timedelta(days=60)
            await type_date(page, due)
            for _ in range(4):  # past the date's fields to the status group
                await page.keyboard.press("Tab")
                if await page.evaluate("document.activeElement.type") == "radio":
                    break
            else:
                pytest.fail("the plan's status cannot be reached with the Tab key")
            await page.keyboard.press("ArrowDown")  # planned -> in progress
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.id") == "plan-save"
            async with page.expect_navigation():
                await page.keyboard.press("Enter")
            main = await page.locator("main").inner_text()
            assert "Handlingsplanen är sparad." in main
            assert "Pågår" in main
            assert "(version 2)" in main, "the acknowledgement was version 1"

            # A follow-up comment, keyboard only.
            await tab_to(page, "plan-text")
            await page.keyboard.type(COMMENT)
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.id") == "plan-comment-save"
            async with page.expect_navigation():
                await page.keyboard.press("Enter")
            assert "Kommentaren är sparad." in await page.locator("main").inner_text()
            assert COMMENT in await page.locator("ol.comments").inner_text()
            await plain.close()

            # Two more low months: no improvement at level 1, so the alert goes to Kim, the next level.
            async with httpx.AsyncClient(base_url=sup.services["ingest"].url, timeout=30, headers=headers) as http:
                for months_ago in (2, 1):
                    response = await http.post(
                        "/v1/tenants/testkommun/submissions",
                        json=pulse("grupp-a1", month_start(months_ago), 8, 1, "web"),
                    )
                    assert response.status_code == 202, response.text
            await eventually(lambda: [m for m in mail.to(KIM) if PLAN in plain_text(m)], timeout_s=120)
            escalation = next(m for m in mail.to(KIM) if PLAN in plain_text(m))
            assert "Eskalerat till nästa chefsnivå" in str(escalation["Subject"])
            quoted = plain_text(escalation)
            assert (
                f"Handlingsplan:\n  Vad som ska göras: {PLAN}\n  Ansvarig: Bo Berg\n"
                f"  Klart senast: {due.isoformat()}\n  Läge: pågår\n"
            ) in quoted, quoted
            assert f"  Senaste kommentar ({today.isoformat()}, {BO}): {COMMENT}\n" in quoted, quoted
            kims_link = LINK.search(quoted)
            assert kims_link, quoted

            # Kim opens her own link and reads what Bo promised, before deciding what to do.
            kims = await browser.new_context(java_script_enabled=False, locale="sv-SE")
            page = await kims.new_page()
            await page.goto(kims_link.group(0))
            main = await page.locator("main").inner_text()
            assert f"Inloggad som {KIM}" in await page.locator("body").inner_text()
            assert "Eskalerad" in await page.locator(".state").inner_text()
            history = page.locator("table:has(caption:text('Planens historik')) tbody tr")
            assert await history.count() == 2, "the acknowledgement's plan and Bo's revision"
            assert PLAN in await history.nth(0).inner_text()
            assert BO in await history.nth(1).inner_text()
            assert COMMENT in main
            if shots:
                await page.screenshot(path=str(Path(shots) / "portal-plan-sv.png"), full_page=True)
            await kims.close()

            # axe-core needs script in the page: the same pages again, checked with it.
            checked = await browser.new_context(java_script_enabled=True, bypass_csp=True)
            page = await checked.new_page()
            await page.goto(link)
            assert await axe_violations(page) == [], "the alert page with a plan and comments meets WCAG 2.1 AA"
            await page.fill("#plan-what", "ok")
            async with page.expect_navigation():
                await page.click("#plan-save")
            assert await page.locator("#plan-what-error").count() == 1, "refused, the reason next to the field"
            assert await axe_violations(page) == [], "the alert page with a refused plan meets WCAG 2.1 AA"
            await page.goto(kims_link.group(0))
            assert await axe_violations(page) == [], "the next level's page meets WCAG 2.1 AA"
            await page.goto(sup.services["portal"].url + "/")
            assert await axe_violations(page) == [], "the start page meets WCAG 2.1 AA"
            await page.goto(sup.services["portal"].url + "/l/not-a-link")
            assert await axe_violations(page) == [], "the error page meets WCAG 2.1 AA"
            await checked.close()

        conn = await asyncpg.connect(database_url)
        try:
            acknowledged = await conn.fetch("SELECT actor FROM alerts.transitions WHERE to_state = 'acknowledged'")
            written = await conn.fetch(
                "SELECT revision, owner, written_by FROM alerts.plan_revisions ORDER BY revision"
            )
            commented = await conn.fetch("SELECT written_by FROM alerts.plan_comments")
        finally:
            await conn.close()
        assert [r["actor"] for r in acknowledged] == [BO], "recorded under the signed-in person's name"
        assert [(r["revision"], r["owner"], r["written_by"]) for r in written] == [(1, BO, BO), (2, "Bo Berg", BO)]
        assert [r["written_by"] for r in commented] == [BO]
