"""Access control without a database: the token format, the policy, the cache and the middleware."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tempen_shared.access.tokens import (
    TOKEN_PATTERN,
    Denial,
    Grant,
    Scope,
    authorize,
    generate_token,
    token_digest,
)
from tempen_shared.auth import AccessControl, grant_of, required_scope
from tempen_shared.http import ServiceApp, http_app
from tests.auth.fakes import InMemoryTokens


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_new_token_has_its_prefix_inside_and_is_stored_as_the_sha256_of_the_whole_token() -> None:
    import hashlib

    new = generate_token()
    assert TOKEN_PATTERN.match(new.token)
    assert new.token.startswith(f"tempen_{new.prefix}_")
    assert new.digest == hashlib.sha256(new.token.encode()).digest() == token_digest(new.token)
    assert generate_token().token != new.token


def _grant(tenant: str | None, *scopes: Scope) -> Grant:
    import uuid

    return Grant(token_id=uuid.uuid4(), prefix="00000000", tenant=tenant, scopes=frozenset(scopes))


def test_a_tenant_token_acts_only_for_its_tenant_and_only_with_its_scopes() -> None:
    grant = _grant("hjo", Scope.SUBMIT)
    assert authorize(grant, tenant="hjo", scope=Scope.SUBMIT) is None
    assert authorize(grant, tenant="hjo", scope=Scope.READ) is Denial.MISSING_SCOPE
    assert authorize(grant, tenant="ljungby", scope=Scope.SUBMIT) is Denial.WRONG_TENANT
    assert authorize(grant, tenant=None, scope=Scope.ADMIN) is Denial.WRONG_TENANT


def test_an_admin_token_acts_for_every_tenant_and_outside_them() -> None:
    grant = _grant(None)
    for tenant in ("hjo", "nowhere", None):
        for scope in Scope:
            assert authorize(grant, tenant=tenant, scope=scope) is None


@pytest.mark.parametrize(
    ("method", "template", "scope"),
    [
        ("POST", "/v1/tenants/{tenant}/submissions", Scope.SUBMIT),
        ("GET", "/v1/tenants/{tenant}/units/{unit}/scores", Scope.READ),
        ("HEAD", "/v1/tenants/{tenant}/units/{unit}/scores", Scope.READ),
        ("GET", "/v1/tenants/{tenant}/hidden-units", Scope.READ),
        ("GET", "/v1/tenants/{tenant}/alerts", Scope.READ),
        ("GET", "/v1/tenants/{tenant}/alerts/{alert_id}", Scope.READ),
        ("POST", "/v1/tenants/{tenant}/alerts/{alert_id}/acknowledge", Scope.MANAGE),
        ("POST", "/v1/tenants/{tenant}/alerts/{alert_id}/resolve", Scope.MANAGE),
        ("POST", "/v1/tenants/{tenant}/alerts/backtest", Scope.READ),
        ("POST", "/v1/tenants/{tenant}/alerts/{alert_id}/plan", Scope.MANAGE),
        ("POST", "/v1/tenants/{tenant}/alerts/{alert_id}/plan/comments", Scope.MANAGE),
        ("GET", "/v1/tenants/{tenant}/admin/tokens", Scope.ADMIN),
        ("POST", "/v1/tenants/{tenant}/admin/tokens", Scope.ADMIN),
        ("POST", "/v1/tenants/{tenant}/gdpr/erase", Scope.ADMIN),
        ("GET", "/v1/tenants/{tenant}/gdpr/requests", Scope.ADMIN),
        # Nobody has decided who may call these: closed to all but admin tokens.
        ("DELETE", "/v1/tenants/{tenant}/alerts/{alert_id}", Scope.ADMIN),
        ("POST", "/v1/tenants/{tenant}/units/{unit}/scores", Scope.ADMIN),
        ("POST", "/v1/tenants/{tenant}/submissions/{submission_id}/retract", Scope.ADMIN),
        ("GET", "/v1/reports", Scope.ADMIN),
    ],
)
def test_each_kind_of_route_needs_its_scope_and_unknown_kinds_need_admin(
    method: str, template: str, scope: Scope
) -> None:
    assert required_scope(method, template) is scope


async def test_a_revoked_token_is_refused_once_its_cache_entry_expires_and_not_later() -> None:
    tokens, clock = InMemoryTokens(), FakeClock()
    access = AccessControl(tokens, cache_ttl_s=30, clock=clock)
    token = tokens.issue("hjo", Scope.READ)
    assert await access.grant(token) is not None
    tokens.revoke(token)
    clock.now += 29.9
    assert await access.grant(token) is not None  # the documented window
    clock.now += 0.2
    assert await access.grant(token) is None


async def test_unknown_tokens_are_cached_and_malformed_ones_never_looked_up() -> None:
    tokens = InMemoryTokens()
    access = AccessControl(tokens, clock=FakeClock())
    unknown = generate_token().token
    for _ in range(3):
        assert await access.grant(unknown) is None
        assert await access.grant("not-a-token") is None
        assert await access.grant(unknown + "x") is None
    assert tokens.lookups == 1


async def test_the_cache_is_bounded() -> None:
    tokens = InMemoryTokens()
    access = AccessControl(tokens, cache_size=2, clock=FakeClock())
    first = tokens.issue("hjo", Scope.READ)
    await access.grant(first)
    for _ in range(2):
        await access.grant(tokens.issue("hjo", Scope.READ))
    lookups = tokens.lookups
    await access.grant(first)
    assert tokens.lookups == lookups + 1  # evicted, so read again


# -- the middleware, on a router of stand-in endpoints ---------------------------------------------


async def _ok(request: Request) -> Response:
    grant = grant_of(request)
    return PlainTextResponse(f"reached {request.path_params} as {grant.prefix if grant else 'nobody'}")


ROUTES = [
    Route("/v1/tenants/{tenant}/submissions", _ok, methods=["POST"]),
    Route("/v1/tenants/{tenant}/alerts/{alert_id}", _ok, methods=["GET"]),
    Route("/v1/tenants/{tenant}/webhooks/{platform}", _ok, methods=["POST"]),
    Route("/v1/tenants/{tenant}/{anything}/{rest}", _ok, methods=["POST"]),
]


def _client(tokens: InMemoryTokens) -> httpx.AsyncClient:
    app = http_app(ROUTES, access=AccessControl(tokens))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tempen")


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_webhook_routes_need_no_bearer_token_but_a_look_alike_route_does() -> None:
    tokens = InMemoryTokens()
    async with _client(tokens) as http:
        webhook = await http.post("/v1/tenants/hjo/webhooks/typeform")
        other = await http.post("/v1/tenants/hjo/other/typeform")
        no_such_webhook = await http.post("/v1/tenants/hjo/webhooks/typeform/extra")
    assert webhook.status_code == 200
    assert webhook.text.endswith("as nobody")
    assert other.status_code == 401
    assert no_such_webhook.status_code == 404  # exempt, but nothing serves it


async def test_the_handler_sees_the_grant_and_the_tenant_that_was_checked() -> None:
    tokens = InMemoryTokens()
    token = tokens.issue("hjo", Scope.SUBMIT)
    async with _client(tokens) as http:
        own = await http.post("/v1/tenants/hjo/submissions", headers=_bearer(token))
        encoded = await http.post("/v1/tenants/%68jo/submissions", headers=_bearer(token))
        encoded_other = await http.post("/v1/tenants/%6Cjungby/submissions", headers=_bearer(token))
    assert own.status_code == 200
    assert "'tenant': 'hjo'" in own.text
    assert token.split("_")[1] in own.text
    assert encoded.status_code == 200  # the same tenant, however it is spelled in the URL
    assert encoded_other.status_code == 403


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token {token}", "Bearer {token}x", "bearer{token}"],
)
async def test_anything_but_one_valid_bearer_token_is_401_with_a_challenge(authorization: str | None) -> None:
    tokens = InMemoryTokens()
    token = tokens.issue("hjo", Scope.SUBMIT)
    headers = {} if authorization is None else {"authorization": authorization.format(token=token)}
    async with _client(tokens) as http:
        response = await http.post("/v1/tenants/hjo/submissions", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith('Bearer realm="tempen"')


async def test_a_case_insensitive_scheme_is_accepted_but_two_authorization_headers_are_not() -> None:
    tokens = InMemoryTokens()
    token = tokens.issue("hjo", Scope.SUBMIT)
    async with _client(tokens) as http:
        lower = await http.post("/v1/tenants/hjo/submissions", headers={"authorization": f"bearer {token}"})
        twice = await http.post(
            "/v1/tenants/hjo/submissions",
            headers=[("authorization", f"Bearer {token}"), ("authorization", f"Bearer {token}")],
        )
    assert lower.status_code == 200
    assert twice.status_code == 401


async def test_unknown_paths_do_not_reveal_themselves_to_callers_without_a_valid_token() -> None:
    tokens = InMemoryTokens()
    token = tokens.issue("hjo", Scope.READ)
    async with _client(tokens) as http:
        anonymous = await http.get("/v1/tenants/hjo/nothing-here")
        outside = await http.get("/v1/nothing-here", headers=_bearer(token))
        known = await http.get("/v1/tenants/hjo/nothing-here", headers=_bearer(token))
        wrong_method = await http.delete("/v1/tenants/hjo/submissions", headers=_bearer(token))
    assert anonymous.status_code == 401
    assert outside.status_code == 403  # outside any tenant: admin tokens only
    assert known.status_code == 404
    assert wrong_method.status_code == 405


async def test_a_store_outage_is_503_not_401() -> None:
    tokens = InMemoryTokens()
    token = tokens.issue("hjo", Scope.SUBMIT)
    tokens.down = True
    async with _client(tokens) as http:
        response = await http.post("/v1/tenants/hjo/submissions", headers=_bearer(token))
    assert response.status_code == 503
    assert response.headers["retry-after"]


async def test_dot_segments_cannot_walk_from_the_webhook_exemption_into_a_protected_route() -> None:
    tokens = InMemoryTokens()
    app = http_app(ROUTES, access=AccessControl(tokens))
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    for path in ("/v1/tenants/hjo/webhooks/../submissions", "/v1/tenants/hjo/webhooks/x/../../submissions"):
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [],
            "server": ("tempen", 80),
            "client": ("127.0.0.1", 1),
        }
        sent.clear()
        await app(scope, receive, send)
        status = next(m["status"] for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        assert status in (401, 404), (path, status)
        assert b"reached" not in body


def test_a_service_app_refuses_a_router_that_is_not_behind_access_control() -> None:
    from faststream.kafka import KafkaBroker

    with pytest.raises(TypeError, match="access control"):
        ServiceApp(KafkaBroker("127.0.0.1:1"), http=Starlette(routes=ROUTES))


async def test_a_route_added_after_the_router_was_built_is_checked_like_the_others() -> None:
    tokens = InMemoryTokens()
    app = http_app(ROUTES, access=AccessControl(tokens))
    app.add_route("/v1/tenants/{tenant}/alerts/{alert_id}/resolve", _ok, methods=["POST"])
    reader, manager = tokens.issue("hjo", Scope.READ), tokens.issue("hjo", Scope.MANAGE)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tempen") as http:
        refused = await http.post("/v1/tenants/hjo/alerts/a-1/resolve", headers=_bearer(reader))
        allowed = await http.post("/v1/tenants/hjo/alerts/a-1/resolve", headers=_bearer(manager))
    assert refused.status_code == 403
    assert 'scope="manage"' in refused.headers["www-authenticate"]
    assert allowed.status_code == 200
