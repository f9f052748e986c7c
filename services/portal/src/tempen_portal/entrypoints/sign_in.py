"""Signing in without an alert's e-mail: the municipality's identity provider over OpenID Connect, and
operator-issued personal sign-in links, with the admin API that issues them.

OpenID Connect is the authorization code flow with PKCE, state and nonce (Authlib's Starlette client):
`/t/{tenant}/sign-in` sends the browser to the tenant's provider, `/oidc/callback` checks the answer
belongs to this browser's sign-in (state), redeems the code (with the PKCE verifier), validates the ID
token against the provider's published keys (signature, issuer, audience, expiry, nonce), and opens a
fresh session for the person the claims name, with the roles the tenant's `portal.oidc` maps them to.
What that person may then see is `domain/access.py`'s decision, as for everyone else.

A sign-in link (`/s/{token}`) is for a municipality without an identity provider, and for the demo:
issued through `POST /v1/tenants/{tenant}/sign-in-links` (an admin token, checked as every service
checks tokens) to the tenant's HR address or a manager in its org tree only.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import httpx
import structlog
from authlib.common.errors import AuthlibBaseError
from joserfc.errors import JoseError
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tempen_portal.domain.access import identity, viewer_of
from tempen_portal.domain.claims import ClaimsError, highest, person_of
from tempen_portal.entrypoints.web import Pages, _new_session, message, unavailable
from tempen_shared.auth import AccessControl, grant_of
from tempen_shared.http import JSONResponse, http_app, problem, validated_body
from tempen_shared.links import (
    LinkError,
    SignInLink,
    is_local_path,
    person_digest,
    read_sign_in_link,
    sign_sign_in_link,
)
from tempen_shared.secrets import resolve
from tempen_shared.tenancy.loader import Tenant
from tempen_shared.tenancy.models import OidcConfig

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 fork and warns when it falls back to httpx, which the portal already
    # uses and which works: the warning would only fill the log at every start. (Its module turns its
    # warnings on when imported, so the filter goes in after that.)
    import authlib.deprecate

    warnings.filterwarnings(
        "ignore", message="The httpx module is deprecated", category=authlib.deprecate.AuthlibDeprecationWarning
    )
    from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App

logger = logging.getLogger(__name__)
audit: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.portal.audit")

CALLBACK_PATH = "/oidc/callback"
SIGN_IN_LINKS_ROUTE = "/v1/tenants/{tenant}/sign-in-links"
DEFAULT_LINK_HOURS = 24
MAX_LINK_HOURS = 7 * 24  # a sign-in link is a password in a URL: a week at most
IDP_TIMEOUT_S = 10.0
MAX_API_BODY_BYTES = 4 * 1024
# The units a person's groups grant travel in the session cookie, which browsers cap at 4 KB: a person
# granted more top units than this is refused with a page saying so, never signed in with a cookie the
# browser would silently drop.
MAX_SESSION_UNITS = 40
# What the provider's own failure looks like: down, slow, or answering with an error status.
_IDP_DOWN = (httpx.TransportError, httpx.HTTPStatusError)


@dataclass(frozen=True, slots=True)
class Provider:
    """One tenant's identity provider, as the portal's OIDC client."""

    tenant: str
    oidc: OidcConfig
    client: StarletteOAuth2App


def providers(pages: Pages) -> dict[str, Provider]:
    """An OIDC client for each tenant with `portal.oidc` whose client secret is set where the config says.
    A tenant whose secret is missing gets none (its sign-in page says so), and the log says which variable."""
    registry = OAuth()
    found: dict[str, Provider] = {}
    for tenant_id, tenant in sorted(pages.catalog.tenants.items()):
        oidc = tenant.config.portal.oidc
        if oidc is None:
            continue
        secret = resolve(oidc.client_secret)
        if secret is None:
            where = oidc.client_secret.env or oidc.client_secret.file
            logger.error("tenant %s: OIDC sign-in is off until its client secret is set (%s)", tenant_id, where)
            continue
        client = registry.register(
            name=tenant_id,
            client_id=oidc.client_id,
            client_secret=secret,
            server_metadata_url=f"{oidc.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": " ".join(oidc.scopes), "code_challenge_method": "S256", "timeout": IDP_TIMEOUT_S},
        )
        found[tenant_id] = Provider(tenant_id, oidc, client)
    return found


class SignInLinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: str = Field(min_length=3, max_length=254)
    valid_hours: int = Field(default=DEFAULT_LINK_HOURS, ge=1, le=MAX_LINK_HOURS)
    next: str | None = Field(default=None, max_length=200)  # a path on the portal; default the start page


def sign_in_people(tenant: Tenant) -> dict[str, Literal["hr", "manager"]]:
    """Who may have a personal sign-in link for `tenant`, by e-mail identity: its HR address and every
    manager in its org tree."""
    people: dict[str, Literal["hr", "manager"]] = {
        u.manager.identity: "manager" for u in tenant.org.units.values() if u.manager is not None
    }
    people[identity(str(tenant.config.hr_email))] = "hr"
    return people


def _person_by_digest(secret: bytes, tenant: Tenant, digest: str) -> str | None:
    """The person of `tenant` a sign-in link's digest names, while they may still have one."""
    return next((p for p in sorted(sign_in_people(tenant)) if person_digest(secret, tenant.id, p) == digest), None)


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def routes(
    pages: Pages,
    measured: Callable[[str, Callable[[Request], Awaitable[Response]]], Any],
    *,
    public_url: str,
    access: AccessControl,
) -> list[BaseRoute]:
    """The sign-in pages, and the admin API issuing sign-in links (behind bearer-token access control)."""
    by_tenant = providers(pages)
    redirect_uri = public_url.rstrip("/") + CALLBACK_PATH
    # The start page lists where one can sign in; read by home.html.
    pages.templates.globals["oidc_tenants"] = [
        (tenant_id, pages.catalog.tenants[tenant_id].config.name) for tenant_id in by_tenant
    ]

    def refused(request: Request, key: str, status: int) -> Response:
        pages.attempts.failed(_client_address(request))
        return message(pages, request, key, status=status)

    async def start(request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        provider = by_tenant.get(tenant_id)
        if provider is None:
            return message(pages, request, "oidc_not_configured", status=404)
        try:
            metadata: Mapping[str, Any] = await provider.client.load_server_metadata()
            if str(metadata.get("issuer", "")).rstrip("/") != provider.oidc.issuer:
                # The document names another issuer: its tokens would not be this tenant's provider's.
                logger.error("tenant %s: the provider's metadata names another issuer", tenant_id)
                provider.client.server_metadata.clear()
                return unavailable(pages, request)
            response: Response = await provider.client.authorize_redirect(request, redirect_uri)
        except (*_IDP_DOWN, ValueError) as exc:
            logger.warning("tenant %s: the identity provider did not answer: %r", tenant_id, exc)
            return unavailable(pages, request)
        request.session["oidc_tenant"] = tenant_id
        return response

    async def callback(request: Request) -> Response:
        if pages.attempts.blocked(_client_address(request)):
            return message(pages, request, "too_many", status=429, headers={"retry-after": "60"})
        tenant_id = request.session.get("oidc_tenant")
        provider = by_tenant.get(tenant_id) if isinstance(tenant_id, str) else None
        if provider is None:  # no sign-in started in this browser (or for a tenant no longer configured)
            return refused(request, "oidc_state", 400)
        try:
            token = await provider.client.authorize_access_token(request)
        except OAuthError as exc:
            logger.info("tenant %s: OIDC sign-in refused: %s", provider.tenant, exc.error)
            if exc.error == "access_denied":
                return refused(request, "oidc_denied", 403)
            return refused(request, "oidc_state" if exc.error == "mismatching_state" else "oidc_failed", 400)
        except _IDP_DOWN as exc:
            logger.warning("tenant %s: the identity provider did not answer: %r", provider.tenant, exc)
            return unavailable(pages, request)
        except (AuthlibBaseError, JoseError, ValueError, KeyError, TypeError) as exc:
            # An ID token that does not validate (signature, issuer, audience, expiry, nonce) or an answer
            # that is not OIDC at all: refused, never believed.
            logger.warning("tenant %s: OIDC answer refused: %s", provider.tenant, type(exc).__name__)
            return refused(request, "oidc_failed", 400)
        claims = token.get("userinfo") if isinstance(token, Mapping) else None
        if not isinstance(claims, Mapping):
            return refused(request, "oidc_failed", 400)
        try:
            claimed = person_of(provider.oidc, claims)
        except ClaimsError as exc:
            logger.warning("tenant %s: %s", provider.tenant, exc.reason)
            return refused(request, "oidc_no_email", 403)
        tenant = pages.catalog.tenants[provider.tenant]
        granted = () if claimed.is_hr else highest(tenant.org, claimed.units)
        if len(granted) > MAX_SESSION_UNITS:
            logger.error(
                "tenant %s: a person's groups grant %d separate units, more than a session holds (%d); map "
                "their groups to units higher in the tree",
                tenant.id,
                len(granted),
                MAX_SESSION_UNITS,
            )
            return message(pages, request, "oidc_too_many_units", status=403)
        viewer = viewer_of(
            tenant.id,
            tenant.org,
            hr_email=str(tenant.config.hr_email),
            person=claimed.person,
            hr_role=claimed.is_hr,
            granted_units=granted,
        )
        if not viewer.is_hr and not viewer.units:
            audit.info("sign-in refused", tenant=tenant.id, via="oidc", person=viewer.person, reason="no role")
            return message(pages, request, "oidc_no_role", status=403)
        _new_session(request, default_language=tenant.config.notifications.language)
        request.session.update(
            tenant=tenant.id,
            person=viewer.person,
            via="oidc",
            roles=["hr"] if claimed.is_hr else [],
            units=list(granted),
            signed_in_at=int(pages.clock().timestamp()),
        )
        audit.info("signed in", tenant=tenant.id, via="oidc", person=viewer.person, hr=viewer.is_hr)
        return RedirectResponse(f"/t/{tenant.id}/", status_code=303)

    async def open_sign_in_link(request: Request) -> Response:
        if pages.attempts.blocked(_client_address(request)):
            return message(pages, request, "too_many", status=429, headers={"retry-after": "60"})
        now = pages.clock()
        try:
            link = read_sign_in_link(pages.link_secret, request.path_params["token"], now=now)
        except LinkError as exc:
            return refused(request, "sign_in_link_expired" if exc.reason == "expired" else "sign_in_link_invalid", 400)
        tenant = pages.catalog.tenants.get(link.tenant)
        person = _person_by_digest(pages.link_secret, tenant, link.person_digest) if tenant else None
        if tenant is None or person is None or link.expires_at - link.issued_at > timedelta(hours=MAX_LINK_HOURS):
            # The tenant is gone, the person is no longer HR or a manager there, or the link is not one we issue.
            return refused(request, "sign_in_link_invalid", 400)
        _new_session(request, default_language=tenant.config.notifications.language)
        request.session.update(tenant=tenant.id, person=person, via="sign_in_link", signed_in_at=int(now.timestamp()))
        audit.info("signed in", tenant=tenant.id, via="sign_in_link", person=person)
        # Redirected to an address without the token, so it stays out of the history and of any Referer.
        return RedirectResponse(link.next_path, status_code=303)

    async def issue_sign_in_link(request: Request) -> Response:
        tenant = pages.catalog.tenants.get(request.path_params["tenant"])
        if tenant is None:
            return problem(404, "Unknown tenant", errors=[{"field": "tenant", "reason": "unknown tenant"}])
        body = await validated_body(
            request, SignInLinkRequest, title="Invalid sign-in link request", max_bytes=MAX_API_BODY_BYTES
        )
        if isinstance(body, Response):
            return body
        next_path = body.next or f"/t/{tenant.id}/"
        if not is_local_path(next_path) or not next_path.startswith(f"/t/{tenant.id}/"):
            return problem(
                422,
                "Invalid sign-in link request",
                errors=[{"field": "next", "reason": f"a path of this tenant's pages, starting /t/{tenant.id}/"}],
            )
        role = sign_in_people(tenant).get(identity(body.email))
        if role is None:
            return problem(
                422,
                "Not HR or a manager",
                f"{identity(body.email)} is neither {tenant.id}'s hr_email nor a manager in its org tree "
                f"({tenant.config.org_file}); a sign-in link is only for them. Add the person as a unit's manager "
                "(tempen org import), or let them sign in through the identity provider",
                errors=[{"field": "email", "reason": "not the tenant's HR address or a manager in its org tree"}],
            )
        now = pages.clock().replace(microsecond=0)  # the link keeps whole seconds; say what it keeps
        expires = now + timedelta(hours=body.valid_hours)
        person = identity(body.email)
        token = sign_sign_in_link(
            pages.link_secret,
            SignInLink(
                tenant=tenant.id,
                person_digest=person_digest(pages.link_secret, tenant.id, person),
                next_path=next_path,
                issued_at=now,
                expires_at=expires,
            ),
        )
        grant = grant_of(request)
        audit.info(
            "sign-in link issued",
            tenant=tenant.id,
            person=person,
            role=role,
            expires_at=expires.isoformat(),
            by=f"token {grant.prefix}" if grant else "-",
        )
        return JSONResponse(
            {
                "url": f"{public_url.rstrip('/')}/s/{token}",
                "person": person,
                "role": role,
                "next": next_path,
                "expires_at": expires.isoformat(),
            },
            status_code=201,
        )

    api = http_app([Route(SIGN_IN_LINKS_ROUTE, issue_sign_in_link, methods=["POST"])], access=access)
    start_route = "/t/{tenant}/sign-in"
    return [
        Route(start_route, measured(start_route, start), methods=["GET"]),
        Route(CALLBACK_PATH, measured(CALLBACK_PATH, callback), methods=["GET"]),
        Route("/s/{token}", measured("/s/{token}", open_sign_in_link), methods=["GET"]),
        # The API router matches the same path again, behind BearerAuth; every method reaches it (405 there).
        Route(SIGN_IN_LINKS_ROUTE, endpoint=_AsgiEndpoint(api)),
    ]


class _AsgiEndpoint:
    """An ASGI app as a route's endpoint at exactly its path; being an instance, not a function,
    Starlette hands it the raw ASGI call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
