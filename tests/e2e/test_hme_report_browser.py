"""The HME report page in a real browser (Debian's Chromium, driven by Playwright): the portal over HTTP
against the real scoring app on real PostgreSQL with two HME rounds (tests/scoring/hme_support.py).
HR reads it with JavaScript turned off, downloads the CSV, and axe-core finds no WCAG 2.1 A/AA
violation in Swedish or English.

Signing in takes an alert e-mail's link, and the alert behind it comes from the in-memory alerts
(tests/portal/fakes.py): the alert flow with the real alerts service is tests/e2e/test_portal_browser.py;
this test is about the report, which reads scoring alone."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr

from tempen_portal.app import create_app
from tempen_portal.config import PortalSettings
from tempen_shared.links import AlertLink, sign_link
from tests.auth.helpers import issue_token
from tests.e2e.browser import axe_violations, chromium, chromium_path
from tests.portal.fakes import FakeAlertsApi
from tests.portal.test_pages import _alert
from tests.scoring.hme_support import TODAY, hme_scoring
from tests.support import serving

if TYPE_CHECKING:
    from tests.conftest import Infra

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

SECRET = "link-secret-for-the-hme-browser-test"
HR = "hr@testkommun.example"


async def test_hr_reads_the_hme_report_without_script_and_it_meets_wcag_2_1_aa(
    infra: Infra, database_url: str, topic_prefix: str, tmp_path: Path
) -> None:
    executable = chromium_path()
    async with hme_scoring(
        tmp_path, bootstrap_servers=infra.bootstrap_servers, database_url=database_url, topic_prefix=topic_prefix
    ) as (scoring_url, _, catalog, _):
        token = await issue_token(database_url, tenant=None)
        alerts = FakeAlertsApi()
        nid = str(uuid4())
        alerts.add("testkommun", _alert("a1", "enhet-a1", {nid: HR}))
        settings = PortalSettings(api_token=SecretStr(token), link_secret=SecretStr(SECRET), scoring_url=scoring_url)
        portal_app = create_app(settings, catalog=catalog, clock=lambda: TODAY, alerts=alerts)
        async with serving(portal_app) as portal:
            link = (
                portal
                + "/l/"
                + sign_link(SECRET.encode(), AlertLink("testkommun", "a1", UUID(nid), TODAY - timedelta(days=1)))
            )
            async with chromium(executable) as browser:
                plain = await browser.new_context(java_script_enabled=False, locale="sv-SE", accept_downloads=True)
                page = await plain.new_page()
                await page.goto(link)
                await page.get_by_role("link", name="Start").click()  # the nav's start page offers the report
                await page.get_by_role("link", name="HME-rapport").click()
                assert page.url == portal + "/t/testkommun/report/hme"
                assert await page.locator("h1").inner_text() == "HME-rapport"
                captions = await page.locator("table caption").all_inner_texts()
                assert captions == ["Mätomgång 2025", "Mätomgång 2024"]
                latest = page.locator("table").first
                rows = await latest.locator("tbody tr").all_inner_texts()
                assert [r.split("\n")[0] for r in rows] == [
                    "Testkommun",
                    "Förvaltning A",
                    "Förvaltning B",
                    "Förvaltning C",
                ]
                assert "för få svar" in rows[2]
                assert "för få svar" in rows[3]
                assert not any(ch.isdigit() for ch in rows[2] + rows[3]), "a hidden row holds no number"
                if shots := os.environ.get("TEMPEN_SCREENSHOTS"):
                    await page.screenshot(path=str(Path(shots) / "portal-hme-report-sv.png"), full_page=True)
                # Fewer rounds with the form, no script needed.
                await page.get_by_label("Antal mätomgångar").fill("1")
                await page.get_by_role("button", name="Visa").click()
                assert await page.locator("table caption").all_inner_texts() == ["Mätomgång 2025"]
                async with page.expect_download() as waiting:
                    await page.get_by_role("link", name="Ladda ner som CSV för Kolada").click()
                download = await waiting.value
                assert download.suggested_filename == "hme-testkommun.csv"
                saved = tmp_path / "hme.csv"
                await download.save_as(saved)
                raw = saved.read_bytes()
                assert raw.startswith(b"\xef\xbb\xbf")
                text = raw.decode("utf-8-sig")
                assert "2025;U00200;T;" in text
                assert "2024" not in text, "the CSV follows the rounds chosen on the page"
                await plain.close()

                # axe-core needs script in the page: the same page again, checked with it.
                checked = await browser.new_context(java_script_enabled=True, bypass_csp=True)
                page = await checked.new_page()
                await page.goto(link)
                await page.goto(portal + "/t/testkommun/report/hme")
                assert await axe_violations(page) == [], "the HME report meets WCAG 2.1 AA"
                await page.goto(portal + "/lang/en?next=/t/testkommun/report/hme")
                assert await page.locator("h1").inner_text() == "HME report"
                assert await axe_violations(page) == [], "in English too"
                await page.goto(portal + "/t/testkommun/report/hme?rounds=0")
                assert await axe_violations(page) == [], "and the page refusing a bad query"
                await checked.close()
