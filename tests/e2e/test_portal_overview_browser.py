"""My units and HR's overview in a real browser (Debian's Chromium, driven by Playwright) against the real
services: three months of pulses, a manager signed in by the link in their alert e-mail and HR by the
link in the e-mail of an alert that goes straight to HR (about the kommun's own group, which has no
manager above it). Without JavaScript, then checked with axe-core for WCAG 2.1 A and AA violations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.auth.helpers import admin_headers
from tests.e2e.browser import axe_violations, chromium, chromium_path
from tests.e2e.system import running_system
from tests.e2e.test_pipeline import month_start, pulse
from tests.e2e.test_portal_browser import BO, LINK
from tests.support import MailSink, eventually

if TYPE_CHECKING:
    from tests.conftest import Infra

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

HR = "hr@testkommun.example"


def _link(mail: MailSink, to: str) -> str:
    body = mail.to(to)[0].get_body(preferencelist=("plain",)).get_content()
    found = LINK.search(body)
    assert found, f"the e-mail to {to} carries a personal link:\n{body}"
    return found.group(0)


async def test_a_manager_s_units_and_hr_s_heatmap_in_chromium_show_hidden_groups_as_words(
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
            for months_ago in (3, 2, 1):
                when = month_start(months_ago)
                batch = [
                    *pulse("grupp-a1", when, 8, 2, "web"),  # low: an alert to Bo, the next level
                    *pulse("kommun", when, 8, 2, "web"),  # low, and nobody above Kim: an alert to HR
                    # Too few to show; Enhet B's own 6 are then hidden too, or Förvaltningen minus Enhet A
                    # would reveal them (scoring's tests/scoring/integration/test_hidden_units.py).
                    *pulse("grupp-b1", when, 2, 4, "web"),
                    *pulse("enhet-b", when, 6, 4, "web"),
                ]
                response = await http.post("/v1/tenants/testkommun/submissions", json=batch)
                assert response.status_code == 202, response.text
        try:
            await eventually(lambda: mail.to(BO) and mail.to(HR), timeout_s=120)
        except AssertionError as exc:
            raise AssertionError(f"e-mails went to {[str(m['To']) for m in mail.messages]}") from exc
        portal = sup.services["portal"].url
        manager_link, hr_link = _link(mail, BO), _link(mail, HR)

        async with chromium(executable) as browser:
            plain = await browser.new_context(java_script_enabled=False, locale="sv-SE")
            page = await plain.new_page()
            await page.goto(manager_link)
            await page.goto(portal + "/t/testkommun/")
            await page.get_by_role("link", name="Mina enheter").click()
            assert await page.locator("h1").inner_text() == "Mina enheter"
            units = [await h.inner_text() for h in await page.locator("table.units tbody th").all()]
            assert units == ["Förvaltningen", "Enhet A", "Grupp A1", "Enhet B", "Grupp B1"], units
            b1 = await page.locator("table.units tbody tr", has_text="Grupp B1").locator("td").all_inner_texts()
            assert [c.strip() for c in b1[:3]] == ["för få svar"] * 3, b1
            assert await page.locator("svg.spark[role=img]").count() >= 3, "sparklines drawn without script"
            if shots := os.environ.get("TEMPEN_SCREENSHOTS"):
                await page.screenshot(path=str(Path(shots) / "portal-units-sv.png"), full_page=True)
            refused = await page.goto(portal + "/t/testkommun/overview")
            assert refused is not None
            assert refused.status == 403, "HR's overview is not a manager's"
            await plain.close()

            hr = await browser.new_context(java_script_enabled=False, locale="sv-SE")
            page = await hr.new_page()
            await page.goto(hr_link)
            await page.goto(portal + "/t/testkommun/")
            await page.get_by_role("link", name="HR-översikt").click()
            assert await page.locator("h1").inner_text() == "HR-översikt"
            rows = await page.locator("table.heatmap tbody tr:not(.group) th").all_inner_texts()
            assert "Testkommun" in rows
            assert "Grupp A1" in rows
            b1 = await page.locator("table.heatmap tbody tr", has_text="Grupp B1").locator("td").all_inner_texts()
            assert [c.strip() for c in b1[:3]] == ["för få svar"] * 3, b1
            assert [c.strip() for c in b1[3:]] == ["–", "–"], "no count and no response rate for a hidden group"
            await page.get_by_label("Område").select_option("ledarskap")
            await page.get_by_role("button", name="Visa").click()
            assert await page.locator("table.heatmap thead th").count() == 4, "unit, ledarskap, answers, rate"
            if shots := os.environ.get("TEMPEN_SCREENSHOTS"):
                await page.screenshot(path=str(Path(shots) / "portal-overview-sv.png"), full_page=True)
            await page.get_by_role("link", name="Enheter som inte kan visas, och varför").click()
            assert "Grupp B1" in await page.locator("table.hidden-units").inner_text()
            await hr.close()

            # axe-core needs script in the page: the same pages again, checked with it.
            for link, paths in (
                (manager_link, ("/t/testkommun/", "/t/testkommun/units", "/t/testkommun/overview")),
                (
                    hr_link,
                    (
                        "/t/testkommun/",
                        "/t/testkommun/units",
                        "/t/testkommun/overview",
                        "/t/testkommun/overview?dimension=total",
                        "/t/testkommun/overview/hidden",
                    ),
                ),
            ):
                checked = await browser.new_context(java_script_enabled=True, bypass_csp=True)
                page = await checked.new_page()
                await page.goto(link)
                for path in paths:
                    await page.goto(portal + path)
                    assert await axe_violations(page) == [], f"{path} meets WCAG 2.1 AA"
                await checked.close()
