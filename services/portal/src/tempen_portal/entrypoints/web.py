"""The portal's pages: server-rendered HTML that works without JavaScript, Swedish unless asked otherwise.

Entry point only: it reads the request, asks the other services through the ports, decides what the
signed-in person may see (`domain/access.py`) and renders a template. Every form carries a CSRF token
bound to the session; every page is sent with a strict Content-Security-Policy (no script at all).
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from tempen_portal.domain.access import Viewer, viewer_of
from tempen_portal.domain.chart import ChartPoint, trend_chart
from tempen_portal.domain.revocation import revoked_in
from tempen_portal.domain.words import LANGUAGES, WORDS, Language, number, word
from tempen_portal.ports import AlertsApi, ScoresApi, UpstreamUnavailableError
from tempen_shared.http import BadRequestError, read_body
from tempen_shared.links import LinkError, read_link
from tempen_shared.tenancy.loader import Catalog, Tenant

logger = logging.getLogger(__name__)
audit: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.portal.audit")

TREND_PERIODS = 24
MAX_FORM_BYTES = 16 * 1024
RETRY_AFTER_S = "30"
ACTIVE = ("open", "acknowledged", "escalated")
ACKNOWLEDGEABLE = ("open", "escalated")

# Messages for alerts' field errors, in the person's language: alerts owns the rules, the portal says them.
FIELD_MESSAGES: dict[Language, dict[str, str]] = {
    "sv": {
        "action_plan": "Skriv en handlingsplan på minst 3 och högst 5 000 tecken.",
        "follow_up_date": "Ange ett datum som ÅÅÅÅ-MM-DD, inte långt bakåt eller framåt i tiden.",
    },
    "en": {
        "action_plan": "Write an action plan of 3 to 5,000 characters.",
        "follow_up_date": "Give a date as YYYY-MM-DD, not far in the past or future.",
    },
}


class FailedAttempts:
    """Failed link sign-ins per client address in a sliding minute: a guessed or scraped link gets a few
    tries, not thousands. In memory: each replica counts its own (the links are 256-bit signed, so this
    limits noise, not what a brute force could ever reach)."""

    def __init__(self, *, limit: int = 10, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window = window_s
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def blocked(self, client: str) -> bool:
        times = self._seen.get(client)
        if not times:
            return False
        cutoff = self._clock() - self._window
        while times and times[0] < cutoff:
            times.popleft()
        if not times:
            del self._seen[client]
            return False
        return len(times) >= self._limit

    def failed(self, client: str) -> None:
        if len(self._seen) > 10_000:  # bounded: a flood of addresses cannot grow it without limit
            self._seen.clear()
        self._seen.setdefault(client, deque()).append(self._clock())


@dataclass(frozen=True, slots=True)
class Pages:
    catalog: Catalog
    alerts: AlertsApi
    scores: ScoresApi
    link_secret: bytes
    clock: Callable[[], datetime]
    attempts: FailedAttempts
    templates: Environment
    session_lifetime: timedelta


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("tempen_portal", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt variable fails the test that renders it, never shows blank
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["number"] = number
    return env


def language_of(request: Request) -> Language:
    chosen = request.session.get("lang")
    return chosen if chosen in LANGUAGES else "sv"


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def render(pages: Pages, request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    language = language_of(request)
    words = WORDS[language]
    html = pages.templates.get_template(name).render(
        lang=language,
        t=words,
        path=request.url.path,
        person=request.session.get("person"),
        session_tenant=request.session.get("tenant"),
        csrf=csrf_token(request),
        **context,
    )
    return HTMLResponse(html, status_code=status)


def message(
    pages: Pages, request: Request, key: str, *, status: int, headers: Mapping[str, str] | None = None
) -> Response:
    response = render(pages, request, "message.html", status=status, text=word(language_of(request), key))
    if headers:
        response.headers.update(headers)
    return response


def unavailable(pages: Pages, request: Request) -> Response:
    """A service the page needs did not answer: say so, and when to try again."""
    return message(pages, request, "unavailable", status=503, headers={"retry-after": RETRY_AFTER_S})


def signed_in(pages: Pages, request: Request, tenant_id: str) -> Viewer | None:
    """Who is signed in for `tenant_id` and what they may see; None if nobody is (or for another tenant)."""
    tenant = pages.catalog.tenants.get(tenant_id)
    person = request.session.get("person")
    if tenant is None or request.session.get("tenant") != tenant_id or not isinstance(person, str):
        return None
    # The cookie is re-signed with a fresh timestamp on every change, so its own max-age never ends an
    # active session: the sign-in time does, whatever the person keeps doing.
    signed_in_at = request.session.get("signed_in_at")
    if not isinstance(signed_in_at, int) or isinstance(signed_in_at, bool):
        return None
    if pages.clock() - datetime.fromtimestamp(signed_in_at, UTC) > pages.session_lifetime:
        return None
    # Roles from the identity provider's claims, kept in the (signed) session by the OIDC sign-in.
    roles, units = request.session.get("roles"), request.session.get("units")
    return viewer_of(
        tenant_id,
        tenant.org,
        hr_email=str(tenant.config.hr_email),
        person=person,
        hr_role=isinstance(roles, list) and "hr" in roles,
        granted_units=[u for u in units if isinstance(u, str)] if isinstance(units, list) else (),
    )


async def visible_alert(
    pages: Pages, request: Request, viewer: Viewer, tenant_id: str, alert_id: str
) -> Mapping[str, Any] | Response:
    """The alert, or the page saying why this person cannot see it. Raises UpstreamUnavailableError.
    Every page and action on one alert goes through here, so none skips the revoked-link check."""
    alert = await pages.alerts.alert(tenant_id, alert_id, language=language_of(request))
    if alert is not None and revoked_in(alert, request.session.get("notification")):
        # The answer says the link this session was opened with is revoked: end it now, not at the next poll.
        end_link_session(request, alert_id=alert_id)
        return message(pages, request, "session_link_revoked", status=403)
    if alert is None:
        return message(pages, request, "not_found", status=404)
    if not viewer.may_see_alert(str(alert["unit"]), [n["recipient"] for n in alert["notifications"]]):
        return message(pages, request, "not_allowed", status=403)
    return alert


async def checked_form(pages: Pages, request: Request) -> dict[str, str] | Response:
    """The posted form if it is readable and carries this session's CSRF token, else the refusal."""
    try:
        form = await _form(request)
    except FormError:
        return message(pages, request, "bad_form", status=400)
    if not hmac.compare_digest(form.get("csrf", ""), csrf_token(request)):
        return message(pages, request, "bad_form", status=403)
    return form


def local_path(candidate: str | None) -> str:
    """`candidate` if it is a path on this site, else "/": a language switch never redirects elsewhere."""
    if candidate and candidate.startswith("/") and not candidate.startswith("//") and "\\" not in candidate:
        return candidate
    return "/"


def routes(pages: Pages, measured: Callable[[str, Callable[[Request], Awaitable[Response]]], Any]) -> list[Route]:
    async def home(request: Request) -> Response:
        return render(pages, request, "home.html")

    async def language(request: Request) -> Response:
        code = request.path_params["code"]
        if code in LANGUAGES:
            request.session["lang"] = code
        return RedirectResponse(local_path(request.query_params.get("next")), status_code=303)

    async def open_link(request: Request) -> Response:
        client = request.client.host if request.client else "-"
        if pages.attempts.blocked(client):
            return message(pages, request, "too_many", status=429, headers={"retry-after": "60"})
        now = pages.clock()
        token = request.path_params["token"]
        try:
            link = read_link(pages.link_secret, token, now=now)
        except LinkError as exc:
            pages.attempts.failed(client)
            return message(pages, request, "link_expired" if exc.reason == "expired" else "link_invalid", status=400)
        tenant = pages.catalog.tenants.get(link.tenant)
        if tenant is None:  # signed by us for a tenant no longer configured
            pages.attempts.failed(client)
            return message(pages, request, "link_invalid", status=400)
        if now - link.issued_at > timedelta(days=tenant.config.notifications.link_valid_days):
            pages.attempts.failed(client)
            return message(pages, request, "link_expired", status=400)
        try:
            alert = await pages.alerts.alert(link.tenant, link.alert_id)
        except UpstreamUnavailableError:
            return unavailable(pages, request)
        recipient = _recipient(alert, link.notification_id) if alert is not None else None
        if recipient is None:  # the alert or its notification is gone: the link no longer stands for anyone
            pages.attempts.failed(client)
            return message(pages, request, "link_invalid", status=400)
        if alert is not None and revoked_in(alert, str(link.notification_id)):
            audit.info("link refused", tenant=link.tenant, reason="link revoked", alert_id=link.alert_id)
            return message(pages, request, "link_revoked", status=403)
        _new_session(request, default_language=tenant.config.notifications.language)
        request.session.update(
            tenant=link.tenant,
            person=recipient,
            signed_in_at=int(now.timestamp()),
            via="link",
            notification=str(link.notification_id),  # so the session ends if this link is revoked
        )
        audit.info("signed in", tenant=link.tenant, via="link", alert_id=link.alert_id)
        # Redirected to an address without the token, so it stays out of the history and of any Referer.
        return RedirectResponse(f"/t/{link.tenant}/alerts/{link.alert_id}", status_code=303)

    async def trend_of(tenant_id: str, alert: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return await pages.scores.unit_series(
            tenant_id, str(alert["unit"]), model=str(alert["model"]), dimension=str(alert["dimension"]), scope="unit"
        )

    async def alert_page(request: Request) -> Response:
        tenant_id, alert_id = request.path_params["tenant"], request.path_params["alert_id"]
        viewer = signed_in(pages, request, tenant_id)
        if viewer is None:
            return message(pages, request, "sign_in_needed", status=401)
        try:
            alert = await visible_alert(pages, request, viewer, tenant_id, alert_id)
            if isinstance(alert, Response):
                return alert
            series = await trend_of(tenant_id, alert)
        except UpstreamUnavailableError:
            return unavailable(pages, request)
        tenant = pages.catalog.tenants[tenant_id]
        context = _alert_context(tenant, alert, series, language_of(request))
        flash = request.session.pop("flash", None)
        return render(pages, request, "alert.html", **{**context, "flash": flash if flash in WORDS["sv"] else None})

    async def acknowledge(request: Request) -> Response:
        tenant_id, alert_id = request.path_params["tenant"], request.path_params["alert_id"]
        viewer = signed_in(pages, request, tenant_id)
        if viewer is None:
            return message(pages, request, "sign_in_needed", status=401)
        form = await checked_form(pages, request)
        if isinstance(form, Response):
            return form
        language = language_of(request)
        try:
            alert = await visible_alert(pages, request, viewer, tenant_id, alert_id)
            if isinstance(alert, Response):
                return alert
            outcome = await pages.alerts.acknowledge(
                tenant_id,
                alert_id,
                action_plan=form.get("action_plan", ""),
                follow_up_date=form.get("follow_up_date") or None,
                by=viewer.person,
            )
            if outcome.done:
                audit.info("acknowledged", tenant=tenant_id, alert_id=alert_id)
                request.session["flash"] = "acknowledged_done"
                return RedirectResponse(f"/t/{tenant_id}/alerts/{alert_id}", status_code=303)
            series = await trend_of(tenant_id, alert)
        except UpstreamUnavailableError:
            return unavailable(pages, request)
        if outcome.not_found:
            return message(pages, request, "not_found", status=404)
        errors = {
            str(e.get("field", "")): FIELD_MESSAGES[language].get(str(e.get("field", "")), str(e.get("reason", "")))
            for e in outcome.errors
        }
        context = _alert_context(pages.catalog.tenants[tenant_id], alert, series, language)
        return render(
            pages,
            request,
            "alert.html",
            status=409 if outcome.not_active else 422,
            **{**context, "errors": errors, "not_active": outcome.not_active, "form": form},
        )

    async def sign_out(request: Request) -> Response:
        form = await checked_form(pages, request)
        if isinstance(form, Response):
            return form
        _new_session(request, default_language=None)
        return RedirectResponse("/", status_code=303)

    alert_route = "/t/{tenant}/alerts/{alert_id}"
    return [
        Route("/", measured("/", home), methods=["GET"]),
        Route("/lang/{code}", measured("/lang/{code}", language), methods=["GET"]),
        Route("/l/{token}", measured("/l/{token}", open_link), methods=["GET"]),
        Route(alert_route, measured(alert_route, alert_page), methods=["GET"]),
        Route(alert_route + "/acknowledge", measured(alert_route + "/acknowledge", acknowledge), methods=["POST"]),
        Route("/sign-out", measured("/sign-out", sign_out), methods=["POST"]),
    ]


def _new_session(request: Request, *, default_language: Language | None) -> None:
    """Sign-in and sign-out start a new session: nothing of the previous one carries over but the
    language the person chose (else `default_language`, if any)."""
    lang = request.session.get("lang")
    request.session.clear()
    if lang in LANGUAGES:
        request.session["lang"] = lang
    elif default_language is not None:
        request.session["lang"] = default_language


def end_link_session(request: Request, *, alert_id: str | None = None) -> None:
    """End a session whose link was revoked (`tempen links revoke`); the audit trail says so."""
    tenant = request.session.get("tenant")
    _new_session(request, default_language=None)
    audit.info("signed out", tenant=tenant, via="link", reason="link revoked", alert_id=alert_id)


class FormError(ValueError):
    """The request is not a form this page can read."""


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form, bounded: at most 16 KiB and 20 fields, valid UTF-8, no control characters
    beyond line breaks and tabs."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise FormError("not a form")
    try:
        body = await read_body(request, max_bytes=MAX_FORM_BYTES)
    except BadRequestError as exc:
        raise FormError("too large") from exc
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise FormError("unreadable form") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if any(ord(c) < 32 and c not in "\r\n\t" for c in value):
            raise FormError("control characters")
        form[key] = value.replace("\r\n", "\n")
    return form


def _recipient(alert: Mapping[str, Any], notification_id: UUID) -> str | None:
    for n in alert.get("notifications", []):
        if n.get("notification_id") == str(notification_id) and n.get("channel") != "webhook":
            return str(n["recipient"])
    return None


def _names(tenant: Tenant, unit: str, model_id: str, dimension_id: str, language: Language) -> tuple[str, str]:
    unit_name = tenant.org.units[unit].name if unit in tenant.org else unit
    model = tenant.models.get(model_id)
    dimensions = list(model.dimensions) if model else []
    if model is not None and model.total is not None:
        dimensions.append(model.total)
    found = next((d for d in dimensions if d.id == dimension_id), None)
    dimension_name = (found.name_sv if language == "sv" else found.name_en) if found else dimension_id
    return unit_name, dimension_name


def _explained(explanation: Any) -> list[tuple[str, bool]]:
    """The explanation's lines, each marked whether it is one of the period lines (indented) or a sentence."""
    text = explanation.get("text") if isinstance(explanation, Mapping) else None
    if not isinstance(text, str):
        return []
    return [(line.strip(), line.startswith("  ")) for line in text.splitlines() if line.strip()]


def _alert_context(
    tenant: Tenant, alert: Mapping[str, Any], series: Mapping[str, Any] | None, language: Language
) -> dict[str, Any]:
    unit_name, dimension_name = _names(
        tenant, str(alert["unit"]), str(alert["model"]), str(alert["dimension"]), language
    )
    threshold = tenant.config.alert_policy.threshold
    points: list[ChartPoint] = []
    for s in (series or {}).get("series", []):
        if s.get("dimension") == alert["dimension"] and s.get("scope") == "unit":
            points = [
                ChartPoint(str(p["period"]), p.get("index"), not p.get("suppressed", False))
                for p in s.get("points", [])
            ][-TREND_PERIODS:]
    shown = [p for p in points if p.shown and p.index is not None]
    latest = number(shown[-1].index, language) if shown else "–"
    opening = next((h for h in reversed(alert.get("history", [])) if h.get("evidence")), None)
    return {
        "alert": alert,
        "alert_path": f"/t/{tenant.id}/alerts/{alert['alert_id']}",
        "unit_name": unit_name,
        "dimension_name": dimension_name,
        "threshold": threshold,
        "chart": trend_chart(points, threshold=threshold) if points else None,
        "points": points,
        "trend_desc": WORDS[language]["trend_desc"].format(dimension=dimension_name, unit=unit_name, latest=latest),
        "evidence": opening["evidence"] if opening else [],
        # Alerts' own words for why the alert stands as it does, in the viewer's language; one line each.
        "explained": _explained(alert.get("explanation")),
        "history": list(alert.get("history", [])),
        "notifications": [n for n in alert.get("notifications", []) if n.get("channel") != "webhook"],
        "can_acknowledge": alert["state"] in ACKNOWLEDGEABLE,
        "errors": {},
        "not_active": False,
        "form": {},
        "flash": None,
    }
