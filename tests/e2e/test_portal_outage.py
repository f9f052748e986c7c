"""The portal against the real services when alerts goes away and comes back, and when an operator
revokes the link a manager signed in with: pages say what is wrong, /readyz names alerts, and the
portal recovers on its own."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tempen.cli import main
from tempen_shared.links import read_link
from tests.auth.helpers import admin_headers, issue_token
from tests.e2e.system import running_system
from tests.e2e.test_pipeline import month_start, pulse
from tests.support import eventually

if TYPE_CHECKING:
    from tests.conftest import Infra

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

BO = "bo@testkommun.example"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/l/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")


async def test_an_alerts_outage_answers_503_with_retry_after_names_alerts_and_passes_and_a_revoked_link_ends(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path
) -> None:
    async with running_system(
        tmp_path,
        fixture_config,
        portal=True,
        KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
        DATABASE_URL=database_url,
        TEMPEN_TOPIC_PREFIX=topic_prefix,
        TEMPEN_PORTAL_REVOCATION_POLL_S="1",
    ) as (sup, mail):
        headers = await admin_headers(database_url)
        async with httpx.AsyncClient(base_url=sup.services["ingest"].url, timeout=30, headers=headers) as http:
            for months_ago in (3, 2, 1):
                response = await http.post(
                    "/v1/tenants/testkommun/submissions", json=pulse("grupp-a1", month_start(months_ago), 8, 2, "web")
                )
                assert response.status_code == 202, response.text
        await eventually(lambda: mail.to(BO), timeout_s=90)
        found = LINK.search(mail.to(BO)[0].get_body(preferencelist=("plain",)).get_content())
        assert found, "the e-mail carries a personal link to the portal"
        link = found.group(0)

        async with httpx.AsyncClient(base_url=sup.services["portal"].url, timeout=30) as browser:
            opened = await browser.get(link)
            assert opened.status_code == 303
            alert_page = opened.headers["location"]
            assert (await browser.get(alert_page)).status_code == 200

            await asyncio.to_thread(sup.stop_service, "alerts")
            down = await browser.get(alert_page)
            assert down.status_code == 503
            assert int(down.headers["retry-after"]) > 0
            assert "Tjänsten svarar inte just nu" in down.text
            ready = await browser.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["alerts"] is False
            assert ready.json()["checks"]["scoring"] is True, "only the service that is down is named"
            again = await browser.get(link)
            assert again.status_code == 503, "a good link during an outage is not called broken"

            sup.start_service("alerts")
            await asyncio.to_thread(sup.wait_ready, timeout_s=90, names=("alerts",))
            back = await browser.get(alert_page)
            assert back.status_code == 200, "the same session works again, nothing to do for the manager"
            assert "Signal: " in back.text
            assert (await browser.get("/readyz")).status_code == 200

            # An operator revokes Bo's link with the CLI, through alerts' admin API: Bo's session ends on
            # every page within the poll interval (1 s here), not only on the alert's own page.
            alerts_url = sup.services["alerts"].url
            admin = await issue_token(database_url, tenant=None)
            secret = (tmp_path / "state" / "link-secret").read_bytes().strip()  # what `tempen up` made
            token = link.rsplit("/", 1)[1]
            notification = str(read_link(secret, token, now=datetime.now(UTC)).notification_id)
            code = await asyncio.to_thread(
                main,
                [
                    "links",
                    "revoke",
                    "testkommun",
                    notification,
                    "--reason",
                    "e2e",
                    "--url",
                    alerts_url,
                    "--token",
                    admin,
                ],
            )
            assert code == 0
            await asyncio.sleep(1.5)
            ended = await browser.get("/")
            assert ended.status_code == 403
            assert "Du har loggats ut" in ended.text
            assert (await browser.get(alert_page)).status_code == 401
            refused = await browser.get(link)
            assert refused.status_code == 403
            assert "Länken är återkallad" in refused.text
