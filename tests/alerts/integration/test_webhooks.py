"""Signed webhooks from alerts running as one process to a real HTTP receiver on loopback."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tempen_ingest.domain.signatures import verify_standard_webhook
from tempen_shared.tenancy.loader import Catalog
from tempen_shared.tenancy.models import Notifications
from tempen_shared.webhooks_signing import generate_secret
from tests.alerts.integration.support import (
    DIMENSIONS,
    TENANT,
    SmtpSink,
    admin_token,
    fixture_catalog,
    publish_scores,
    running_alerts,
    unit_scores,
)
from tests.support import eventually, serving

if TYPE_CHECKING:  # the fixture's type; nothing is imported from conftest at run time
    from tests.conftest import Infra

pytestmark = pytest.mark.integration

SECRET_ENV = "TEMPEN_TEST_ALERTS_WEBHOOK_SECRET"
LOW_MONTHS = [*unit_scores(2026, 8, 40.0), *unit_scores(2026, 9, 42.0)]
ACTION_PLAN = "Veckovisa samtal med enhetschefen om arbetsmiljön"


@dataclass
class Receiver:
    """A ticket system's endpoint: answers the first call with 503, then accepts; keeps what it got."""

    failures_first: int = 1
    calls: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            body = await request.body()
            status = 503 if len(self.calls) < self.failures_first else 204
            self.calls.append((dict(request.headers), body, status))
            return Response(status_code=status)

        return Starlette(routes=[Route("/hooks/tempen", receive, methods=["POST"])])

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for headers, body, status in self.calls if status == 204]


def signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification written from the specification, independent of tempen's signer."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, entry) for entry in headers["webhook-signature"].split())


def with_webhook(catalog: Catalog, url: str) -> Catalog:
    tenant = catalog.tenants[TENANT]
    notifications = Notifications.model_validate(
        {**tenant.config.notifications.model_dump(), "webhook_url": url, "webhook_secret": {"env": SECRET_ENV}}
    )
    config = tenant.config.model_copy(update={"notifications": notifications})
    return replace(catalog, tenants={**catalog.tenants, TENANT: replace(tenant, config=config)})


async def test_each_transition_reaches_the_webhook_once_signed_and_without_answers(
    infra: Infra, database_url: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = generate_secret()
    monkeypatch.setenv(SECRET_ENV, secret)
    receiver = Receiver()
    with SmtpSink() as sink:
        async with serving(receiver.app()) as hooks:
            catalog = with_webhook(fixture_catalog(), f"{hooks}/hooks/tempen")
            async with running_alerts(
                bootstrap_servers=infra.bootstrap_servers,
                database_url=database_url,
                topic_prefix=topic_prefix,
                smtp_port=sink.port,
                catalog=catalog,
            ) as base:
                await publish_scores(infra.bootstrap_servers, topic_prefix, LOW_MONTHS)
                await eventually(lambda: len(receiver.accepted()) == len(DIMENSIONS), timeout_s=60)

                conn = await asyncpg.connect(database_url)
                try:
                    alerts = {r["dimension"]: r["alert_id"] for r in await conn.fetch("SELECT * FROM alerts.alerts")}
                    # A follow-up date lies on or after the day the alert opened (domain/plans.py): take it from
                    # that day, which is whenever this test runs.
                    opened = await conn.fetchval("SELECT max(opened_at) FROM alerts.alerts")
                    follow_up = (
                        opened.astimezone(ZoneInfo("Europe/Stockholm")).date() + timedelta(days=30)
                    ).isoformat()
                finally:
                    await conn.close()
                token = await admin_token(database_url)
                async with httpx.AsyncClient(base_url=base, headers={"authorization": f"Bearer {token}"}) as http:
                    acknowledged = await http.post(
                        f"/v1/tenants/{TENANT}/alerts/{alerts['ledarskap']}/acknowledge",
                        json={"action_plan": ACTION_PLAN, "follow_up_date": follow_up, "acknowledged_by": "Bo"},
                    )
                    resolved = await http.post(
                        f"/v1/tenants/{TENANT}/alerts/{alerts['motivation']}/resolve",
                        json={"reason": "Enheten slogs ihop med Grupp B1", "resolved_by": "HR"},
                    )
                    again = await http.post(
                        f"/v1/tenants/{TENANT}/alerts/{alerts['motivation']}/acknowledge",
                        json={"action_plan": ACTION_PLAN},
                    )
                    out_of_bounds = await http.post(
                        f"/v1/tenants/{TENANT}/alerts/{alerts['ledarskap']}/acknowledge",
                        json={"action_plan": "Samtal\x07", "follow_up_date": "0001-01-01", "acknowledged_by": "B\x1bo"},
                    )
                    with_nul = await http.post(
                        f"/v1/tenants/{TENANT}/alerts/{alerts['ledarskap']}/acknowledge",
                        json={"action_plan": "Samtal\x00med gruppen"},
                    )
                    unknown = await http.post(
                        f"/v1/tenants/{TENANT}/alerts/nosuchalert/resolve", json={"reason": "x y z"}
                    )
                    detail = (await http.get(f"/v1/tenants/{TENANT}/alerts/{alerts['ledarskap']}")).json()
                    closed = (await http.get(f"/v1/tenants/{TENANT}/alerts/{alerts['motivation']}")).json()
                    in_english = (
                        await http.get(f"/v1/tenants/{TENANT}/alerts/{alerts['ledarskap']}?language=en")
                    ).json()
                    unknown_language = await http.get(f"/v1/tenants/{TENANT}/alerts/{alerts['ledarskap']}?language=de")
                await eventually(lambda: len(receiver.accepted()) == len(DIMENSIONS) + 2, timeout_s=30)
                async with httpx.AsyncClient() as http:
                    metrics = (await http.get(f"{base}/metrics")).text

    assert acknowledged.status_code == 200, acknowledged.text
    assert resolved.status_code == 200, resolved.text
    assert again.status_code == 409, "a resolved alert cannot be acknowledged"
    assert again.json()["detail"] == "the alert is resolved"
    assert unknown.status_code == 404
    assert out_of_bounds.status_code == 422, "NUL, escape characters and year 1 are refused, never a 500"
    assert {e["field"] for e in out_of_bounds.json()["errors"]} == {"action_plan", "follow_up_date", "acknowledged_by"}
    assert (with_nul.status_code, with_nul.json()["errors"][0]["field"]) == (422, "action_plan")
    assert [status for _, _, status in receiver.calls].count(503) == 1
    assert 'tempen_notifications_total{channel="webhook",outcome="retried"} 1.0' in metrics
    assert 'tempen_notifications_total{channel="webhook",outcome="sent"} 5.0' in metrics

    delivered = receiver.accepted()
    ids = Counter(headers["webhook-id"] for headers, _ in delivered)
    assert len(ids) == len(delivered), ids
    assert max(ids.values()) == 1, ids
    retried_id = receiver.calls[0][0]["webhook-id"]
    assert retried_id in ids, "the retry carries the same webhook-id, so a receiver can deduplicate"
    for headers, body in delivered:
        assert signed_by(secret, headers, body)
        assert not signed_by(generate_secret(), headers, body)
        assert verify_standard_webhook(secret=secret, headers=headers, body=body, now=datetime.now(UTC))
        assert headers["content-type"] == "application/json"

    payloads = [orjson.loads(body) for _, body in delivered]
    assert Counter(p["type"] for p in payloads) == {"alert.opened": 3, "alert.acknowledged": 1, "alert.resolved": 1}
    opened = next(p["data"] for p in payloads if p["type"] == "alert.opened" and p["data"]["dimension"] == "ledarskap")
    assert opened["alert_id"] == alerts["ledarskap"]
    assert opened["tenant"] == TENANT
    assert opened["unit"] == "grupp-a1"
    assert opened["unit_name"] == "Grupp A1"
    assert opened["dimension_name"] == "Ledarskap"
    assert (opened["state"], opened["previous_state"], opened["level"]) == ("open", None, 1)
    assert opened["rule"] == "sustained_challenge"
    assert opened["reason"].startswith("sustained challenge: 2 consecutive scored period(s)")
    assert opened["periods"] == [
        {"period": "2026-08", "suppressed": False, "index": 40.0, "n": 8, "standard_error": 2.0, "tenant_index": None},
        {"period": "2026-09", "suppressed": False, "index": 42.0, "n": 8, "standard_error": 2.0, "tenant_index": None},
    ]
    assert opened["acknowledge_url"] == f"https://alerts.test/v1/tenants/{TENANT}/alerts/{alerts['ledarskap']}"
    by_hand = next(p["data"] for p in payloads if p["type"] == "alert.resolved")
    assert (by_hand["rule"], by_hand["reason"]) == ("resolved_by_hand", "Enheten slogs ihop med Grupp B1")
    everything = b"".join(body for _, body in delivered).decode()
    for private in (ACTION_PLAN, "bo@testkommun.example", "Bo Förvaltningschef", "answers", "respondent"):
        assert private not in everything
    assert detail["action_plan"] == ACTION_PLAN
    # Why, in the tenant's language (Swedish) or the one asked for, with the numbers it was said from.
    explained = detail["explanation"]
    assert explained["language"] == "sv"
    assert explained["text"].splitlines()[:3] == [
        "Indexet har legat under gränsen 65 två månader i rad:",
        "  2026-08: 40,0 (8 svarande, ±4)",
        "  2026-09: 42,0 (8 svarande, ±4)",
    ]
    assert "mycket osannolikt" in explained["text"]
    assert explained["facts"]["kind"] == "opened"
    assert [p["index"] for p in explained["facts"]["periods"]] == [40.0, 42.0]
    assert explained["facts"]["chance"] < 0.001
    assert [h["explanation"] is not None for h in detail["history"]] == [True, False], "a person's has none"
    assert closed["explanation"] is None, "closed by hand: the opening's reasons no longer say why it stands"
    assert in_english["explanation"]["text"].startswith("The index has been below the threshold 65 for two months")
    assert unknown_language.status_code == 422
    assert unknown_language.json()["errors"][0]["field"] == "language"
    webhook_rows = [n for n in detail["notifications"] if n["channel"] == "webhook"]
    assert [n["recipient"] for n in webhook_rows] == [hooks] * 2, "only the endpoint's origin is stored"
    assert len(sink.messages) == 2 * len(DIMENSIONS), "e-mail goes out as before"


async def test_a_webhook_without_its_secret_is_never_sent_unsigned(
    infra: Infra, database_url: str, topic_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    receiver = Receiver(failures_first=0)
    with SmtpSink() as sink:
        async with serving(receiver.app()) as hooks:
            catalog = with_webhook(fixture_catalog(), f"{hooks}/hooks/tempen")
            async with running_alerts(
                bootstrap_servers=infra.bootstrap_servers,
                database_url=database_url,
                topic_prefix=topic_prefix,
                smtp_port=sink.port,
                catalog=catalog,
            ):
                await publish_scores(infra.bootstrap_servers, topic_prefix, LOW_MONTHS)
                conn = await asyncpg.connect(database_url)
                try:
                    await eventually(lambda: _failed_webhooks(conn), timeout_s=60)
                    errors = await conn.fetch("SELECT last_error FROM alerts.notifications WHERE channel = 'webhook'")
                finally:
                    await conn.close()
    assert receiver.calls == []
    assert {e["last_error"] for e in errors} == {
        "webhook_secret is not set or resolves to nothing; deliveries are never unsigned"
    }


async def _failed_webhooks(conn: asyncpg.Connection) -> Any:
    return await conn.fetchval(
        "SELECT count(*) = 3 FROM alerts.notifications WHERE channel = 'webhook' AND state = 'failed'"
    )
