"""Ending the sessions a revoked e-mail link opened (`tempen links revoke`), without asking alerts on
every page.

A session opened by a link remembers its notification (`session["notification"]`). Two checks end it:

- on the alert fetch a page does anyway: alerts' answer says of each notification whether its link was
  revoked, so the alert's own pages end the session at once (`domain/revocation.py`, checked in `entrypoints/web.py`);
- on every other request, `EndRevokedSessions` compares the notification with the revocations the
  portal last learnt from alerts. It asks alerts for them (one call per tenant) at most every
  `TEMPEN_PORTAL_REVOCATION_POLL_S` seconds (30 by default), so that is the longest a revoked link's
  session lives on the other pages. While alerts cannot be asked, the last answer stands.

Only revocations since the oldest session still alive matter (a link revoked before a session opened
never opened it: the link page refuses it), so the portal asks for that window only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tempen_portal.entrypoints.web import Pages, end_link_session, message
from tempen_portal.ports import AlertsApi, UpstreamUnavailableError

logger = logging.getLogger(__name__)


class RevokedLinks:
    """The revoked links (notification ids) the portal knows of, refreshed from alerts when due."""

    def __init__(
        self,
        alerts: AlertsApi,
        tenants: Iterable[str],
        *,
        clock: Callable[[], datetime],
        poll_s: float,
        session_lifetime: timedelta,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._alerts = alerts
        self._tenants = tuple(tenants)
        self._clock = clock
        self._poll_s = poll_s
        # A little more than a session lives: a session opened just before a revocation is still covered.
        self._window = session_lifetime + timedelta(seconds=poll_s) + timedelta(minutes=5)
        self._monotonic = monotonic
        self._known: frozenset[str] = frozenset()
        self._due = float("-inf")
        self._lock = asyncio.Lock()

    def __contains__(self, notification_id: object) -> bool:
        return notification_id in self._known

    async def refresh_if_due(self) -> None:
        """Ask alerts again if the last answer is older than the poll interval. One refresh at a time;
        a request arriving meanwhile goes on with what is known."""
        if self._monotonic() < self._due or self._lock.locked():
            return
        async with self._lock:
            self._due = self._monotonic() + self._poll_s
            since = self._clock() - self._window
            found: set[str] = set()
            try:
                for tenant in self._tenants:
                    found.update(await self._alerts.revoked_links(tenant, since=since))
            except UpstreamUnavailableError as exc:
                logger.warning("could not ask alerts for revoked links, keeping the last answer: %s", exc)
                return
            self._known = frozenset(found)


class EndRevokedSessions:
    """ASGI middleware inside the session middleware: a request whose session was opened by a link since
    revoked gets a page saying so, and the session ends."""

    def __init__(self, app: ASGIApp, *, pages: Pages, revoked: RevokedLinks) -> None:
        self.app = app
        self.pages = pages
        self.revoked = revoked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session") if scope["type"] == "http" else None
        notification = session.get("notification") if session else None
        if notification is None or str(scope.get("path", "")).startswith("/static/"):
            await self.app(scope, receive, send)
            return
        await self.revoked.refresh_if_due()
        if notification not in self.revoked:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        end_link_session(request)
        if _signs_in(str(scope.get("path", ""))):
            # Opening another link (a new e-mail, sent after the revocation) or signing in another way
            # starts a new session that replaces this one.
            await self.app(scope, receive, send)
            return
        response = message(self.pages, request, "session_link_revoked", status=403)
        await response(scope, receive, send)


def _signs_in(path: str) -> bool:
    """Whether `path` is one of the ways to sign in: an e-mail's link, a sign-in link, the identity
    provider's callback or a tenant's sign-in page."""
    if path.startswith(("/l/", "/s/")) or path == "/oidc/callback":
        return True
    parts = path.split("/")
    return len(parts) == 4 and parts[1] == "t" and parts[3] == "sign-in"
