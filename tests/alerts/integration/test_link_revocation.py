"""Revoking one e-mail's personal link with `tempen links revoke`, through alerts' admin API, on the real
broker, PostgreSQL and SMTP: only that link is marked, who and why are kept, and the portal can learn it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest

from tempen.cli import main
from tempen_shared.access.tokens import Scope
from tests.alerts.integration.support import (
    NEXT_LEVEL,
    SmtpSink,
    admin_token,
    notification_states,
    publish_scores,
    running_alerts,
    unit_scores,
)
from tests.auth.helpers import issue_token
from tests.support import eventually

if TYPE_CHECKING:
    from tests.conftest import Infra

pytestmark = pytest.mark.integration

NOTIFICATIONS = 6  # three dimensions opened, each to the next level and to the unit's manager
LOW_MONTHS = [*unit_scores(2026, 8, 40.0), *unit_scores(2026, 9, 42.0)]


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))  # the CLI's blocking client; the server runs in this loop
    out, err = capsys.readouterr()
    return code, out, err


async def test_revoking_one_link_marks_that_e_mail_only_keeps_who_and_why_and_refuses_what_it_must(
    infra: Infra, database_url: str, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with SmtpSink() as sink:
        async with running_alerts(
            bootstrap_servers=infra.bootstrap_servers,
            database_url=database_url,
            topic_prefix=topic_prefix,
            smtp_port=sink.port,
        ) as base:
            await publish_scores(infra.bootstrap_servers, topic_prefix, LOW_MONTHS)
            conn = await asyncpg.connect(database_url)
            try:
                await eventually(lambda: _all_sent(conn), timeout_s=60)
                admin = await admin_token(database_url)
                connection = ("--url", base, "--token", admin)

                code, out, _ = await _cli(
                    capsys, "links", "list", "testkommun", NEXT_LEVEL.upper(), "--json", *connection
                )
                assert code == 0
                links = json.loads(out)["links"]
                assert len(links) == 3, "the next level got one e-mail per dimension; the address is case-blind"
                assert {link["status"] for link in links} == {"valid"}
                target = links[0]

                code, out, _ = await _cli(
                    capsys,
                    "links",
                    "revoke",
                    "testkommun",
                    target["notification_id"],
                    "--reason",
                    "forwarded to the whole team",
                    "--by",
                    "operator-anna",
                    *connection,
                )
                assert code == 0, out
                assert "Revoked the link" in out

                headers = {"authorization": f"Bearer {admin}"}
                async with httpx.AsyncClient(base_url=base, headers=headers) as api:
                    alert = (await api.get(f"/v1/tenants/testkommun/alerts/{target['alert_id']}")).json()
                    marked = {n["notification_id"]: n["link_revoked_at"] for n in alert["notifications"]}
                    assert marked[target["notification_id"]] is not None
                    assert [v for k, v in marked.items() if k != target["notification_id"]] == [None]
                    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
                    revoked = (
                        await api.get("/v1/tenants/testkommun/admin/links/revoked", params={"since": since})
                    ).json()["revoked"]
                    assert [r["notification_id"] for r in revoked] == [target["notification_id"]]
                    no_since = await api.get("/v1/tenants/testkommun/admin/links/revoked")
                    assert no_since.status_code == 422
                    assert no_since.json()["errors"][0]["field"] == "since"

                code, out, _ = await _cli(
                    capsys, "links", "revoke", "testkommun", target["notification_id"], "--reason", "again",
                    "--by", "operator-bo", *connection,
                )  # fmt: skip
                assert code == 0
                assert "already revoked" in out
                assert "operator-anna" in out, "the first revocation is the one kept"

                code, out, _ = await _cli(capsys, "links", "list", "testkommun", NEXT_LEVEL, *connection)
                assert "revoked" in out
                assert "operator-anna" in out

                kept = await conn.fetch("SELECT revoked_by, reason FROM alerts.link_revocations")
                assert [(r["revoked_by"], r["reason"]) for r in kept] == [
                    ("operator-anna", "forwarded to the whole team")
                ]

                code, _, err = await _cli(
                    capsys, "links", "revoke", "testkommun", "9b0c3f4e-0000-4000-8000-000000000000", "--reason",
                    "no such e-mail", *connection,
                )  # fmt: skip
                assert code == 2
                assert "tempen links list" in err, "the refusal says what to do next"
                code, _, err = await _cli(capsys, "links", "revoke", "testkommun", "x", "--reason", "why", *connection)
                assert code == 2
                assert "notification_id" in err
                code, _, err = await _cli(
                    capsys, "links", "revoke", "testkommun", target["notification_id"], "--reason", "", *connection
                )
                assert code == 2
                assert "reason" in err

                manage = await issue_token(database_url, tenant="testkommun", scopes=set(Scope) - {Scope.ADMIN})
                code, _, err = await _cli(
                    capsys, "links", "list", "testkommun", NEXT_LEVEL, "--url", base, "--token", manage
                )
                assert code == 2, "revoking and listing links needs the admin scope, not manage"
                assert "admin token" in err
            finally:
                await conn.close()


async def _all_sent(conn: asyncpg.Connection) -> bool:
    return await notification_states(conn) == {"sent": NOTIFICATIONS}
