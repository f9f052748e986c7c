"""No portal route shows or changes another tenant's data, and none shows anything without a session.

The routes are read from the app itself, so a page another change adds is covered without touching
this file: signed in as the most privileged person of tenant A (its HR), each tenant-scoped route is
asked for tenant B's page, with B's real alert and unit ids in the path and a valid form for POSTs.
The answer must be a refusal (4xx), never carry anything of B's, and B's data must be unchanged.
Routes that are public by design (a sign-in start page) are named in PUBLIC, with why."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from tempen_portal.app import create_app
from tempen_portal.config import PortalSettings
from tempen_shared.links import AlertLink, sign_link
from tempen_shared.tenancy.loader import load_catalog
from tests.portal.fakes import FakeAlertsApi, FakeScoresApi
from tests.portal.test_pages import NOW, SECRET, _alert

A, B = "testkommun", "grannby"
A_HR = "hr@testkommun.example"
B_UNIT, B_ALERT = "grannby-grupp", "grannby-alert-1"
# What of B's a page could leak: names, people, the plan, the index. (The ids are in the requested path,
# which pages may echo, e.g. in the language switch's return address.)
B_MARKERS = ("Grannbygruppen", "Grannby kommun", "chef@grannby.example", "GRANNBY-PLAN",
             "12,5", "Gösta Chef", "GRANNBY-HIDDEN")  # fmt: skip
# Tenant-scoped routes any visitor may open, and why; each still must not show B's data to A's people.
PUBLIC: dict[str, str] = {
    "/t/{tenant}/sign-in": "starts the tenant's OpenID Connect sign-in (oidc branch): nothing of the tenant's data",
    # An API, not a page: a bearer admin token, never a session; tests/portal/test_sign_in_links.py
    # checks its 401, 403 and 404 answers.
    "/v1/tenants/{tenant}/sign-in-links": "the operator's API for sign-in links, behind an admin bearer token",
}
OPERATIONAL = {"/healthz", "/readyz", "/metrics"}
# Path parameters filled with B's real ids; any other gets a value no page knows.
B_PARAMETERS = {"tenant": B, "alert_id": B_ALERT, "unit": B_UNIT}


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str

    def path(self, values: dict[str, str]) -> str:
        return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values.get(m.group(1), "probe-1"), self.template)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def tenant_endpoints(app: Starlette) -> Iterator[Endpoint]:
    for route in app.routes:
        if isinstance(route, Mount):
            assert route.path == "/static", f"a mounted app this test does not know: {route.path}"
            continue
        assert isinstance(route, Route), f"a route this test does not know how to call: {route!r}"
        if route.path in OPERATIONAL or "{tenant}" not in route.path:
            continue
        for method in sorted(route.methods or {"GET"}):
            if method != "HEAD":  # Starlette adds it to every GET route; GET covers it
                yield Endpoint(method, route.path)


@pytest.fixture
def two_tenants(fixture_config: Path, tmp_path: Path) -> Path:
    """The fixture configuration plus a second tenant, B, with its own org tree and the same HR person."""
    config = tmp_path / "config"
    shutil.copytree(fixture_config, config)
    tenant = (config / "tenants" / f"{A}.yaml").read_text(encoding="utf-8")
    (config / "tenants" / f"{B}.yaml").write_text(
        tenant.replace(f"id: {A}", f"id: {B}")
        .replace("name: Testkommun", "name: Grannby kommun")
        # The same HR address in both: a joint HR service, as neighbouring municipalities often share.
        # Signed in for A, that person must still see nothing of B's; only the session's tenant decides.
        .replace(f"org/{A}.csv", f"org/{B}.csv")
        .replace("tempen@testkommun.example", "tempen@grannby.example"),
        encoding="utf-8",
    )
    (config / "org" / f"{B}.csv").write_text(
        "unit_id,name,parent_id,manager_name,manager_email,headcount\n"
        "grannby,Grannby kommun,,Gun Direktör,gun@grannby.example,\n"
        f"{B_UNIT},Grannbygruppen,grannby,Gösta Chef,chef@grannby.example,9\n",
        encoding="utf-8",
    )
    return config


@dataclass
class Portal:
    app: Starlette
    alerts: FakeAlertsApi
    scores: FakeScoresApi

    def client(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=("203.0.113.8", 4000))
        return httpx.AsyncClient(transport=transport, base_url="http://portal.test")


@pytest.fixture
def portal(two_tenants: Path) -> Portal:
    alerts, scores = FakeAlertsApi(), FakeScoresApi()
    b_alert = _alert(B_ALERT, B_UNIT, {str(uuid4()): "chef@grannby.example"})
    b_alert["action_plan"] = "GRANNBY-PLAN: samtal"
    alerts.add(B, b_alert)
    scores.series[(B, B_UNIT)] = {
        "series": [
            {
                "model": "test-model",
                "dimension": "ledarskap",
                "scope": "unit",
                "points": [{"period": "2026-01", "index": 12.5, "suppressed": False}],
            }
        ]
    }
    # B's data on every other page a route could read: its HME report, its scores and its hidden units,
    # so a page that leaks shows B's markers instead of answering "not configured" or an empty table.
    scores.hme_reports[B] = _b_hme_report()
    scores.tenant_answers[B] = {"units": [_b_unit("grannby", "Grannby kommun"), _b_unit(B_UNIT, "Grannbygruppen")]}
    scores.hidden[B] = {
        "reports": [
            {
                "instrument": "test-puls",
                "model": "test-model",
                "periods": [{"period": "2026-02", "measured": True}],
                "units": [
                    {
                        "unit": B_UNIT,
                        "unit_name": "Grannbygruppen",
                        "scope": "unit",
                        "reasons": {"below_minimum": 1},
                        "hidden_periods": 1,
                        "measured_periods": 1,
                        "protects": [],
                        "alerts": {
                            "can_alert": False,
                            "needed": 2,
                            "published_periods": 0,
                            "measured_periods": 1,
                            "periods_to_alert": None,
                        },
                        "explanation": "GRANNBY-HIDDEN: fewer than 5 answered.",
                        "actions": [{"action": "merge_team", "text": "GRANNBY-HIDDEN merge"}],
                    }
                ],
            }
        ]
    }
    settings = PortalSettings(api_token=SecretStr("unused"), link_secret=SecretStr(SECRET))
    app = create_app(settings, catalog=load_catalog(two_tenants), clock=lambda: NOW, alerts=alerts, scores=scores)
    return Portal(app, alerts, scores)


def _b_unit(unit: str, name: str) -> dict[str, Any]:
    dimensions = {d: {"index": 12.5, "respondents": 9} for d in ("total", "ledarskap", "motivation")}
    point = {"published": True, "dimensions": dimensions, "respondents": 9, "response_rate": 0.125}
    return {
        "unit": unit,
        "unit_name": name,
        "scope": "subtree",
        "periods": [{"period": p, **point} for p in ("2025-12", "2026-01", "2026-02")],
    }


def _b_hme_report() -> dict[str, Any]:
    def row(unit: str, name: str, level: str) -> dict[str, Any]:
        indices = {"hme": 12.5, "motivation": 12.5, "ledarskap": 12.5, "styrning": 12.5}
        return {"unit": unit, "unit_name": name, "level": level, "published": True, "respondents": 9,
                "response_rate": 0.125, "indices": indices}  # fmt: skip

    return {
        "tenant": B,
        "tenant_name": "Grannby kommun",
        "model": "hme",
        "model_version": "2.0",
        "min_group_size": 5,
        "indices": [{"id": "hme", "name_sv": "HME totalindex", "name_en": "HME total index", "kolada_kpi": "U00200"}],
        "reports": [
            {
                "instrument": "hme",
                "cadence": "annual",
                "rounds": [
                    {
                        "period": "2025",
                        "measured": True,
                        "rows": [
                            row("grannby", "Grannby kommun", "municipality"),
                            row(B_UNIT, "Grannbygruppen", "forvaltning"),
                        ],
                    }
                ],
            }
        ],
    }


async def _signed_in_as_a_s_hr(portal: Portal, client: httpx.AsyncClient) -> str:
    """A's HR opens the link in an e-mail about one of A's alerts; returns the session's CSRF token."""
    nid = str(uuid4())
    portal.alerts.add(A, _alert("a-alert", "grupp-a1", {nid: A_HR}))
    token = sign_link(SECRET.encode(), AlertLink(A, "a-alert", UUID(nid), NOW))
    assert (await client.get(f"/l/{token}")).status_code == 303
    page = await client.get("/t/testkommun/alerts/a-alert")
    assert page.status_code == 200, "signed in for A"
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


def _form(csrf: str) -> dict[str, Any]:
    # Valid for every form the portal has (extra fields are ignored): a refusal is about the tenant.
    # test_the_forms_sent_are_valid_ones checks each POST route accepts it on A's own alert.
    return {"csrf": csrf, "action_plan": "Samtal med gruppen", "follow_up_date": "2026-04-01",  # acknowledge
            "what": "Arbetsplatsträff varannan vecka", "owner": "hr@testkommun.example", "due_date": "2026-04-01",
            "status": "planned",  # the plan
            "text": "Uppföljning"}  # a comment on the plan  # fmt: skip


async def _request(client: httpx.AsyncClient, endpoint: Endpoint, path: str, csrf: str) -> httpx.Response:
    if endpoint.method == "GET":
        return await client.get(path)
    return await client.request(endpoint.method, path, data=_form(csrf))


async def test_the_routes_are_found_and_the_known_tenant_pages_are_among_them(portal: Portal) -> None:
    found = {str(e) for e in tenant_endpoints(portal.app)}
    assert {"GET /t/{tenant}/alerts/{alert_id}", "POST /t/{tenant}/alerts/{alert_id}/acknowledge"} <= found


async def test_signed_in_for_one_tenant_no_route_shows_or_changes_another_tenant_s_data(portal: Portal) -> None:
    endpoints = list(tenant_endpoints(portal.app))
    leaks: list[str] = []
    async with portal.client() as client:
        csrf = await _signed_in_as_a_s_hr(portal, client)
        for endpoint in endpoints:
            answer = await _request(client, endpoint, endpoint.path(B_PARAMETERS), csrf)
            shown = [m for m in B_MARKERS if m in answer.text]
            refused = 400 <= answer.status_code < 500 or endpoint.template in PUBLIC
            if not refused or shown:
                leaks.append(f"{endpoint}: {answer.status_code}, shows {shown}")
    assert leaks == []
    _nothing_written_to_b(portal)


def _nothing_written_to_b(portal: Portal) -> None:
    assert portal.alerts.acknowledged == [], "nothing was done to B's alert"
    assert portal.alerts.alerts[(B, B_ALERT)]["state"] == "open"
    assert [p for p in portal.alerts.plans if p[0] == B] == [], "no plan revision was written for B"
    assert not portal.alerts.alerts[(B, B_ALERT)].get("plan", {}).get("comments"), "no comment on B's plan"


async def test_the_forms_sent_are_valid_ones(portal: Portal) -> None:
    """Each POST route takes `_form` on A's own alert: the refusals above are about the tenant, not a
    field the form lacks."""
    async with portal.client() as client:
        csrf = await _signed_in_as_a_s_hr(portal, client)
        for endpoint in tenant_endpoints(portal.app):
            if endpoint.method == "POST" and "{alert_id}" in endpoint.template:
                answer = await _request(client, endpoint, endpoint.path({"tenant": A, "alert_id": "a-alert"}), csrf)
                assert answer.status_code == 303, f"{endpoint}: {answer.status_code}"
    assert [p[0] for p in portal.alerts.plans] == [A]
    assert portal.alerts.alerts[(A, "a-alert")]["plan"]["comments"]


async def test_a_tenant_s_path_with_another_tenant_s_ids_shows_nothing_of_theirs(portal: Portal) -> None:
    leaks: list[str] = []
    async with portal.client() as client:
        csrf = await _signed_in_as_a_s_hr(portal, client)
        for endpoint in tenant_endpoints(portal.app):
            answer = await _request(client, endpoint, endpoint.path({**B_PARAMETERS, "tenant": A}), csrf)
            shown = [m for m in B_MARKERS if m in answer.text]
            if answer.status_code < 400 and endpoint.template not in PUBLIC and "{alert_id}" in endpoint.template:
                leaks.append(f"{endpoint}: {answer.status_code} for B's alert id under A")
            if shown:
                leaks.append(f"{endpoint}: shows {shown}")
    assert leaks == []
    _nothing_written_to_b(portal)


async def test_without_a_session_every_tenant_route_asks_to_sign_in(portal: Portal) -> None:
    wrong: list[str] = []
    async with portal.client() as client:
        for endpoint in tenant_endpoints(portal.app):
            if endpoint.template in PUBLIC:
                continue
            answer = await _request(client, endpoint, endpoint.path({**B_PARAMETERS, "tenant": A}), "")
            # A POST without a session has no CSRF token to match either: refused before anything is read.
            expected = (401,) if endpoint.method == "GET" else (401, 403)
            if answer.status_code not in expected:
                wrong.append(f"{endpoint}: {answer.status_code}")
            elif answer.status_code == 401 and "logga in" not in answer.text:
                wrong.append(f"{endpoint}: 401 without saying how to sign in")
    assert wrong == []
    assert portal.alerts.acknowledged == []
