"""Every HTTP endpoint of every service, found in its router, refuses what it must: run for real, on
the real broker and PostgreSQL, with real tokens. A new endpoint is covered without touching this file;
one that is left open fails it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route

from tempen_shared.access.tokens import Scope
from tempen_shared.auth import is_webhook_route, required_scope
from tempen_shared.http import ServiceApp
from tests.auth.helpers import issue_token
from tests.conftest import Infra
from tests.support import serving

pytestmark = pytest.mark.integration

TENANT = "testkommun"  # configured in tests/fixtures/config
OTHER = "grannkommun"  # has tokens, but no configuration: a tenant this deployment does not serve
UNSERVED = "nowhere"  # neither configuration nor tokens
OUR_CHALLENGE = 'Bearer realm="tempen"'


def _ingest(settings: dict[str, Any], tmp: Path) -> ServiceApp:
    from tempen_ingest.app import create_app
    from tempen_ingest.config import IngestSettings

    return create_app(IngestSettings(**settings))


def _scoring(settings: dict[str, Any], tmp: Path) -> ServiceApp:
    from tempen_scoring.app import create_app
    from tempen_scoring.config import ScoringSettings

    return create_app(ScoringSettings(**settings))


def _alerts(settings: dict[str, Any], tmp: Path) -> ServiceApp:
    from tempen_alerts.app import create_app
    from tempen_alerts.config import AlertsSettings

    return create_app(AlertsSettings(**settings, mail_dir=tmp / "mail"))


SERVICES: dict[str, Callable[[dict[str, Any], Path], ServiceApp]] = {
    "ingest": _ingest,
    "scoring": _scoring,
    "alerts": _alerts,
}


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str

    def path(self, tenant: str) -> str:
        # Every other parameter gets a value no handler knows: what matters is who gets past the door.
        return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: tenant if m.group(1) == "tenant" else "probe-1", self.template)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def endpoints(routes: list[BaseRoute], prefix: str = "") -> Iterator[Endpoint]:
    for route in routes:
        if isinstance(route, Mount):
            yield from endpoints(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":  # Starlette adds it to every GET route; GET covers it
                    yield Endpoint(method, prefix + route.path)
        else:
            pytest.fail(f"a route this test does not know how to call: {route!r}")


@pytest.mark.parametrize("service", SERVICES)
async def test_every_endpoint_refuses_missing_foreign_revoked_and_underprivileged_tokens(
    service: str, infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path
) -> None:
    settings = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "DATABASE_URL": database_url,
        "TEMPEN_CONFIG_DIR": fixture_config,
        "TEMPEN_TOPIC_PREFIX": topic_prefix,
        "TEMPEN_KAFKA_SESSION_TIMEOUT_MS": 2000,
        "TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS": 300,
    }
    app = SERVICES[service](settings, tmp_path)
    found = list(endpoints(list(app.http.routes)))
    assert found, f"{service} has no endpoints: the router was not found"
    protected = [e for e in found if not is_webhook_route(e.template)]

    async def token(tenant: str | None, scopes: set[Scope] | frozenset[Scope] = frozenset(Scope), **kw: Any) -> str:
        return await issue_token(database_url, tenant=tenant, scopes=scopes, **kw)

    own = await token(TENANT)
    other = await token(OTHER)
    revoked = await token(TENANT, revoked=True)
    admin = await token(None)
    only = {scope: await token(TENANT, {scope}) for scope in Scope}
    all_but = {scope: await token(TENANT, set(Scope) - {scope}) for scope in Scope}

    failures: list[str] = []
    forbidden_bodies: set[str] = set()
    async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def call(endpoint: Endpoint, tenant: str, bearer: str | None) -> httpx.Response:
            headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
            body: dict[str, Any] | None = {} if endpoint.method in ("POST", "PUT", "PATCH") else None
            return await http.request(endpoint.method, endpoint.path(tenant), headers=headers, json=body)

        def expect(endpoint: Endpoint, case: str, response: httpx.Response, statuses: set[int]) -> None:
            if response.status_code not in statuses:
                failures.append(f"{endpoint}: {case}: {response.status_code} {response.text[:200]}")

        for endpoint in protected:
            scope = required_scope(endpoint.method, endpoint.template)
            in_tenant = "{tenant}" in endpoint.template

            anonymous = await call(endpoint, TENANT, None)
            expect(endpoint, "no token", anonymous, {401})
            if not anonymous.headers.get("www-authenticate", "").startswith(OUR_CHALLENGE):
                failures.append(f"{endpoint}: no token: no bearer challenge")
            expect(endpoint, "revoked token", await call(endpoint, TENANT, revoked), {401})
            expect(endpoint, "made-up token", await call(endpoint, TENANT, own[:-4] + "0000"), {401})

            foreign = await call(endpoint, TENANT, other)
            unserved = await call(endpoint, UNSERVED, own)
            for case, response in (("another tenant's token", foreign), ("a tenant not served here", unserved)):
                expect(endpoint, case, response, {403})
                forbidden_bodies.add(response.text)
                for name in (TENANT, OTHER, UNSERVED):
                    if name in response.text or name in str(response.headers):
                        failures.append(f"{endpoint}: {case}: the refusal names {name}")

            if in_tenant:
                expect(endpoint, f"without {scope}", await call(endpoint, TENANT, all_but[scope]), {403})
                expect(endpoint, f"with only {scope}", await call(endpoint, TENANT, only[scope]), _passed())
                expect(endpoint, "all scopes", await call(endpoint, TENANT, own), _passed())
            else:
                expect(endpoint, "outside any tenant, tenant token", await call(endpoint, TENANT, own), {403})
            expect(endpoint, "admin token", await call(endpoint, TENANT, admin), _passed())
            expect(endpoint, "admin token, unserved tenant", await call(endpoint, UNSERVED, admin), _passed())

        for endpoint in found:
            if is_webhook_route(endpoint.template):
                response = await call(endpoint, TENANT, None)
                if response.headers.get("www-authenticate", "").startswith(OUR_CHALLENGE):
                    failures.append(f"{endpoint}: a webhook asks for a bearer token (it has its own signature)")

    assert failures == [], "\n".join(failures)
    # Refusals across tenants are one and the same body, whichever tenants are involved and whether they exist.
    assert len(forbidden_bodies) == 1, forbidden_bodies


def _passed() -> set[int]:
    """Anything the handler itself may answer to a probe: past access control, never 401 or 403."""
    return set(range(200, 600)) - {401, 403}


def test_the_known_endpoints_are_found_and_need_the_scopes_docs_access_md_lists(
    fixture_config: Path, tmp_path: Path
) -> None:
    settings = {  # nothing connects before the lifespan starts
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "DATABASE_URL": "postgresql://unused@127.0.0.1:1/unused",
        "TEMPEN_CONFIG_DIR": fixture_config,
    }
    found = {
        (service, str(e)): required_scope(e.method, e.template)
        for service, factory in SERVICES.items()
        for e in endpoints(list(factory(settings, tmp_path).http.routes))
    }
    expected = {
        ("ingest", "POST /v1/tenants/{tenant}/submissions"): Scope.SUBMIT,
        ("scoring", "GET /v1/tenants/{tenant}/units/{unit}/scores"): Scope.READ,
        ("scoring", "GET /v1/tenants/{tenant}/hidden-units"): Scope.READ,
        ("alerts", "GET /v1/tenants/{tenant}/alerts"): Scope.READ,
        ("alerts", "GET /v1/tenants/{tenant}/alerts/{alert_id}"): Scope.READ,
        ("alerts", "POST /v1/tenants/{tenant}/alerts/{alert_id}/acknowledge"): Scope.MANAGE,
        ("alerts", "POST /v1/tenants/{tenant}/alerts/{alert_id}/resolve"): Scope.MANAGE,
        ("alerts", "POST /v1/tenants/{tenant}/alerts/backtest"): Scope.READ,
        ("alerts", "POST /v1/tenants/{tenant}/alerts/{alert_id}/plan"): Scope.MANAGE,
        ("alerts", "POST /v1/tenants/{tenant}/alerts/{alert_id}/plan/comments"): Scope.MANAGE,
    }
    assert expected.items() <= found.items()
    docs = (Path(__file__).parents[2] / "docs" / "access.md").read_text(encoding="utf-8")
    undocumented = [
        f"{key[1]} ({scope})"
        for key, scope in found.items()
        if not is_webhook_route(key[1].split(" ", 1)[1]) and f"`{key[1]}` | `{scope}`" not in docs
    ]
    assert undocumented == [], "add these endpoints to the table in docs/access.md"
