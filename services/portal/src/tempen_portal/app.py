"""The portal's composition root: pages, static files, sessions, security headers, the API clients."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib.resources import files
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tempen_portal.adapters.api import HttpAlertsApi, HttpScoresApi
from tempen_portal.adapters.tokens import LazyTokenLookup
from tempen_portal.config import PortalSettings
from tempen_portal.entrypoints import hme, overview, plans, sign_in
from tempen_portal.entrypoints.revocation import EndRevokedSessions, RevokedLinks
from tempen_portal.entrypoints.web import FailedAttempts, Pages, routes, templates
from tempen_portal.ports import AlertsApi, ScoresApi
from tempen_shared.auth import AccessControl
from tempen_shared.clock import Clock, utc_now
from tempen_shared.http import measured, operational_routes
from tempen_shared.metrics import CommonMetrics
from tempen_shared.tenancy.loader import Catalog, load_catalog

# No script at all (pages work without it); styles and images from the portal itself; forms post back
# only here; never framed. The SVG charts are inline markup, which needs no script or style source.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    # A personal link's token must never leave in a Referer header.
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Adds the headers above to every response, and `no-store` to pages (they show one person's view)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(SECURITY_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class _AsgiEndpoint:
    """An ASGI app as a route's endpoint at exactly its path (a Mount would redirect `/readyz` to
    `/readyz/`); being an instance, not a function, Starlette hands it the raw ASGI call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def session_secret(settings: PortalSettings) -> str:
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    # Derived, not the link secret itself: a session cookie can then never pass for a link, or the reverse.
    key = settings.link_secret.get_secret_value().encode()
    return hmac.new(key, b"tempen-portal-session", hashlib.sha256).hexdigest()


def create_app(
    settings: PortalSettings,
    *,
    catalog: Catalog | None = None,
    clock: Clock = utc_now,
    alerts: AlertsApi | None = None,
    scores: ScoresApi | None = None,
    access: AccessControl | None = None,
) -> Starlette:
    """The portal's ASGI app. `alerts` and `scores` default to the HTTP clients of the services at the
    configured URLs; tests of the pages pass in-memory ones. `access` checks the bearer tokens of the
    sign-in-link API: by default against the tokens in DATABASE_URL's database."""
    catalog = catalog or load_catalog(settings.config_dir)
    registry = CollectorRegistry()
    metrics = CommonMetrics(registry, "portal")
    token = settings.api_token.get_secret_value()
    clients: list[HttpAlertsApi | HttpScoresApi] = []
    if alerts is None:
        alerts = HttpAlertsApi(settings.alerts_url, token, timeout_s=settings.upstream_timeout_s)
        clients.append(alerts)
    if scores is None:
        scores = HttpScoresApi(settings.scoring_url, token, timeout_s=settings.upstream_timeout_s)
        clients.append(scores)
    pages = Pages(
        catalog=catalog,
        alerts=alerts,
        scores=scores,
        link_secret=settings.link_secret.get_secret_value().encode(),
        clock=clock,
        attempts=FailedAttempts(),
        templates=templates(),
        session_lifetime=timedelta(hours=settings.session_hours),
    )
    lookup = LazyTokenLookup(settings.database_url.get_secret_value()) if settings.database_url else None
    if access is None:
        access = AccessControl(lookup)

    revoked = RevokedLinks(
        alerts,
        catalog.tenants,
        clock=clock,
        poll_s=settings.revocation_poll_s,
        session_lifetime=timedelta(hours=settings.session_hours),
    )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            for client in clients:
                await client.aclose()
            if lookup is not None:
                await lookup.aclose()

    async def alerts_ready() -> bool:
        return await pages.alerts.ready()

    async def scoring_ready() -> bool:
        return await pages.scores.ready()

    def timed(route: str, handler: Callable[..., Any]) -> Any:
        return measured(metrics, route, handler)

    operational = [
        Route(path, endpoint=_AsgiEndpoint(app))
        for path, app in operational_routes(
            checks={"alerts": alerts_ready, "scoring": scoring_ready}, metrics=metrics, registry=registry
        )
    ]
    static = StaticFiles(directory=str(files("tempen_portal") / "static"))
    return Starlette(
        routes=[
            *operational,
            Mount("/static", app=static, name="static"),
            *routes(pages, timed),
            *hme.routes(pages, timed),
            *sign_in.routes(pages, timed, public_url=settings.public_url, access=access),
            *plans.routes(pages, timed),
            *overview.routes(pages, timed),
        ],
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=session_secret(settings),
                session_cookie="tempen_session",
                max_age=int(settings.session_hours * 3600),
                same_site="lax",
                https_only=settings.public_url.startswith("https://"),
            ),
            Middleware(EndRevokedSessions, pages=pages, revoked=revoked),
        ],
        lifespan=lifespan,
    )
