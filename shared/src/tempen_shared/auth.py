"""Bearer-token access control for every service's HTTP API. The policy is described in docs/access.md.

Every request that reaches a service's Starlette router (everything except the exact paths `/healthz`,
`/readyz` and `/metrics`, which FastStream serves before it) passes `BearerAuth` first:

- `Authorization: Bearer <token>` must name a known, unrevoked token, else 401;
- the token's tenant must be the tenant in the path (`/v1/tenants/{tenant}/...`); admin tokens act
  for every tenant, and paths outside any tenant are for admin tokens only; else 403, with one body
  whatever the tenants involved;
- the token must hold the scope the route needs (`required_scope`), else 403.

Survey-platform webhooks (`/v1/tenants/{tenant}/webhooks...`) are exempt: the platforms cannot send
our tokens, and the webhook handlers verify each platform's own signature instead.

Tokens are looked up by their SHA-256 digest and the answer is cached for `CACHE_TTL_S` seconds, so a
revoked token stops working within that time on every replica.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Send
from starlette.types import Scope as ASGIScope

from tempen_shared.access.store import PostgresTokenLookup, migrate_access
from tempen_shared.access.tokens import TOKEN_PATTERN, Denial, Grant, Scope, authorize, token_digest
from tempen_shared.db import StoreUnavailableError

logger = logging.getLogger(__name__)

CACHE_TTL_S = 30.0
TENANT_ROUTES = "/v1/tenants/{tenant}/"
WEBHOOK_ROUTES = "/v1/tenants/{tenant}/webhooks"
# The same segment Starlette's `{tenant}` parameter matches, so the tenant checked here is the one the
# handler receives.
_TENANT_PATH = re.compile(r"^/v1/tenants/([^/]+)/")
_WEBHOOK_PATH = re.compile(r"^/v1/tenants/[^/]+/webhooks(?:/|$)")
_GRANT_KEY = "tempen.access.grant"


@dataclass(frozen=True, slots=True)
class RouteRule:
    methods: frozenset[str] | None  # None: any method
    template: re.Pattern[str]  # matched against the route's path template, never the request path
    scope: Scope


# First match wins. A route no rule names needs `admin`, so a new writing endpoint is closed until
# someone decides who may call it (tests/auth lists every route with its scope).
ROUTE_RULES: tuple[RouteRule, ...] = (
    RouteRule(None, re.compile(r"^/v1/tenants/\{tenant\}/admin(?:/|$)"), Scope.ADMIN),
    RouteRule(None, re.compile(r"^/v1/tenants/\{tenant\}/gdpr(?:/|$)"), Scope.ADMIN),  # erasure: the tenant's DPO
    RouteRule(frozenset({"GET", "HEAD"}), re.compile(r"^/v1/tenants/\{tenant\}/"), Scope.READ),
    RouteRule(frozenset({"POST"}), re.compile(r"^/v1/tenants/\{tenant\}/submissions$"), Scope.SUBMIT),
    RouteRule(
        frozenset({"POST"}),
        re.compile(r"^/v1/tenants/\{tenant\}/alerts/\{[^}/]+\}/(?:acknowledge|resolve|plan|plan/comments)$"),
        Scope.MANAGE,
    ),
    # A backtest writes nothing and notifies nobody: it reads, with a body for the policy to try.
    RouteRule(frozenset({"POST"}), re.compile(r"^/v1/tenants/\{tenant\}/alerts/backtest$"), Scope.READ),
)


def required_scope(method: str, template: str) -> Scope:
    """The scope a tenant token needs to call `method` on the route with path `template`."""
    for rule in ROUTE_RULES:
        if (rule.methods is None or method in rule.methods) and rule.template.match(template):
            return rule.scope
    return Scope.ADMIN


def is_webhook_route(template: str) -> bool:
    """Webhook routes authenticate the platform's signature themselves; bearer tokens do not apply."""
    return template == WEBHOOK_ROUTES or template.startswith(WEBHOOK_ROUTES + "/")


def grant_of(request: Request) -> Grant | None:
    """The grant of the token that authorised `request` (None on webhook routes)."""
    grant: Grant | None = request.scope.get(_GRANT_KEY)
    return grant


class TokenLookup(Protocol):
    async def find(self, digest: bytes) -> Grant | None:
        """The grant of the unrevoked token with this SHA-256 digest, or None for an unknown or revoked one.

        Raises StoreUnavailableError when the store cannot be reached (the caller answers 503, not 401).
        """
        ...


class AccessControl:
    """Resolves bearer tokens to grants, with a short cache. One per service app.

    `serving(pool)` runs inside the service's lifespan: it migrates the `access` schema and reads
    tokens through the service's pool until the lifespan ends. Tests may pass a `lookup` instead.
    """

    def __init__(
        self,
        lookup: TokenLookup | None = None,
        *,
        cache_ttl_s: float = CACHE_TTL_S,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = cache_ttl_s
        self._size = cache_size
        self._clock = clock
        # Unknown tokens are cached too, so replaying one costs a single query per TTL; the bound keeps
        # a flood of distinct made-up tokens from growing the cache without limit.
        self._cache: OrderedDict[bytes, tuple[float, Grant | None]] = OrderedDict()

    @asynccontextmanager
    async def serving(self, pool: asyncpg.Pool) -> AsyncIterator[None]:
        await migrate_access(pool)
        self._lookup = PostgresTokenLookup(pool)
        try:
            yield
        finally:
            self._lookup = None
            self._cache.clear()

    async def grant(self, token: str) -> Grant | None:
        """The grant of `token`, or None when it is malformed, unknown or revoked.

        Raises StoreUnavailableError when tokens cannot be checked right now.
        """
        if not TOKEN_PATTERN.match(token):
            return None  # not worth a query
        digest = token_digest(token)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        if self._lookup is None:
            raise StoreUnavailableError("access control has not started")
        # Looking up by digest gives no timing oracle: a caller controls the token, not its digest.
        grant = await self._lookup.find(digest)
        self._cache[digest] = (now + self._ttl, grant)
        self._cache.move_to_end(digest)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return grant


class BearerAuth:
    """ASGI middleware in front of a service's Starlette router; see the module docstring."""

    def __init__(self, app: ASGIApp, *, access: AccessControl) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: ASGIScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route, full = self._route(scope)
        template = getattr(route, "path", None) if route is not None else None
        path: str = scope["path"]
        if _WEBHOOK_PATH.match(path) and (template is None or is_webhook_route(template)):
            await self.app(scope, receive, send)
            return
        denied = await self._check(scope, template if full else None)
        if denied is not None:
            await denied(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _route(scope: ASGIScope) -> tuple[BaseRoute | None, bool]:
        """The route the router will pick, as Starlette does: the first full match, else the first partial."""
        router = scope.get("app")
        if not isinstance(router, Starlette):
            raise TypeError("BearerAuth runs inside a Starlette application")  # which sets scope["app"]
        routes: list[BaseRoute] = router.routes  # read per request, so routes added later are covered too
        partial = None
        for route in routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return route, True
            if match is Match.PARTIAL and partial is None:
                partial = route
        return partial, False

    async def _check(self, scope: ASGIScope, template: str | None) -> Response | None:
        method: str = scope["method"]
        token = _bearer(scope)
        if token is None:
            return _unauthorized("send a token: Authorization: Bearer <token>", error=None)
        try:
            grant = await self.access.grant(token)
        except StoreUnavailableError as exc:
            logger.warning("access control unavailable: %s", exc)
            return _problem(
                503,
                "Access control unavailable",
                "tokens cannot be checked right now; retry later",
                {"Retry-After": "5"},
            )
        if grant is None:
            logger.info("access denied: unknown or revoked token on %s %s", method, template or "(no route)")
            return _unauthorized("the token is not valid: unknown, revoked or malformed", error="invalid_token")
        tenant_match = _TENANT_PATH.match(scope["path"])
        # Only a matched route needs a scope: anything else ends in 404 or 405 once the caller is known.
        scope_needed = required_scope(method, template) if template is not None else None
        denial = authorize(grant, tenant=tenant_match.group(1) if tenant_match else None, scope=scope_needed)
        if denial is Denial.WRONG_TENANT:
            logger.info("access denied: token %s outside its tenant on %s %s", grant.prefix, method, template)
            # One body whether the path's tenant exists or not, naming neither tenant.
            return _problem(403, "Forbidden", "this token may not be used here")
        if denial is Denial.MISSING_SCOPE:
            logger.info("access denied: token %s lacks %s on %s %s", grant.prefix, scope_needed, method, template)
            return _problem(
                403,
                "Forbidden",
                f"this token lacks the scope {scope_needed}",
                {"WWW-Authenticate": f'Bearer realm="tempen", error="insufficient_scope", scope="{scope_needed}"'},
            )
        scope[_GRANT_KEY] = grant
        return None


def _bearer(scope: ASGIScope) -> str | None:
    values: list[bytes] = [value for key, value in scope["headers"] if key == b"authorization"]
    if len(values) != 1:
        return None  # none, or ambiguous
    scheme, _, credentials = values[0].decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def _unauthorized(detail: str, *, error: str | None) -> Response:
    challenge = 'Bearer realm="tempen"' + (f', error="{error}"' if error else "")
    return _problem(401, "Unauthorized", detail, {"WWW-Authenticate": challenge})


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    # tempen_shared.http.problem() would import this module back; the body has the same shape.
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return Response(orjson.dumps(body), status_code=status, media_type="application/problem+json", headers=headers)
