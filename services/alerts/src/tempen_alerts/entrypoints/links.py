"""Alerts' admin API for the personal links in its e-mails: a person's links, revoking one, and the
revocations since a time (which the portal polls to end the sessions a revoked link opened).

Admin tokens only (`/v1/tenants/{tenant}/admin/...`): revoking is an operator's act, done with
`tempen links revoke`. Every revocation is kept with who did it and why (the `link_revocations` table)
and logged without the person's address.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.ports import LinkRevocation, LinkStore
from tempen_shared.bounds import FreeText, IdentifierText
from tempen_shared.clock import Clock
from tempen_shared.http import JSONResponse, problem, validated_body
from tempen_shared.http import measured as timed
from tempen_shared.tenancy.loader import Catalog

audit: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.alerts.audit")

MAX_RECIPIENT_CHARS = 320  # the longest e-mail address SMTP carries
MAX_LOOKBACK = timedelta(days=400)  # longer than any link lives (link_valid_days is at most 365)


class RevokeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: FreeText = Field(min_length=3, max_length=500)
    revoked_by: IdentifierText = Field(min_length=1, max_length=200)


def routes(links: LinkStore, catalog: Catalog, clock: Clock, metrics: AlertsMetrics) -> list[Route]:
    def measured(route: str, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Any]:
        return timed(metrics, route, handler)

    def tenant_or_problem(request: Request) -> str | Response:
        tenant = request.path_params["tenant"]
        if tenant not in catalog.tenants:
            return problem(404, "Unknown tenant", errors=[{"field": "tenant", "reason": "unknown tenant"}])
        return str(tenant)

    def valid_for(tenant: str) -> timedelta:
        return timedelta(days=catalog.tenants[tenant].config.notifications.link_valid_days)

    async def links_of(request: Request) -> Response:
        tenant = tenant_or_problem(request)
        if isinstance(tenant, Response):
            return tenant
        recipient = request.query_params.get("recipient", "").strip()
        if not recipient or len(recipient) > MAX_RECIPIENT_CHARS or "@" not in recipient:
            return problem(
                422,
                "Whose links?",
                errors=[{"field": "recipient", "reason": "give the person's e-mail address, as the e-mails went to"}],
            )
        rows = await links.links_of(tenant, recipient)
        now, lifetime = clock(), valid_for(tenant)
        return JSONResponse({"links": [_link_json(r, now=now, valid_for=lifetime) for r in rows]})

    async def revoke(request: Request) -> Response:
        tenant = tenant_or_problem(request)
        if isinstance(tenant, Response):
            return tenant
        try:
            notification_id = UUID(request.path_params["notification_id"])
        except ValueError:
            return problem(
                422,
                "Not a notification id",
                errors=[{"field": "notification_id", "reason": "a UUID, as `tempen links list` shows"}],
            )
        body = await validated_body(request, RevokeBody, title="Invalid revocation")
        if isinstance(body, Response):
            return body
        done = await links.revoke(tenant, notification_id, at=clock(), by=body.revoked_by, reason=body.reason)
        if done is None:
            return problem(
                404,
                "Unknown link",
                errors=[
                    {
                        "field": "notification_id",
                        "reason": "no e-mail of this tenant has that id; list the person's links with "
                        "`tempen links list TENANT EMAIL`",
                    }
                ],
            )
        revocation, new = done
        if new:
            # Who and why are in the table; the log says that it happened, never the person's address.
            audit.info(
                "link revoked", tenant=tenant, alert_id=revocation.alert_id, notification_id=str(notification_id)
            )
        return JSONResponse({**_revocation_json(revocation), "already_revoked": not new})

    async def revoked(request: Request) -> Response:
        tenant = tenant_or_problem(request)
        if isinstance(tenant, Response):
            return tenant
        now = clock()
        try:
            since = datetime.fromisoformat(request.query_params.get("since", ""))
        except ValueError:
            since = None
        if since is None or since.tzinfo is None or not now - MAX_LOOKBACK <= since <= now + timedelta(days=1):
            return problem(
                422,
                "Revoked since when?",
                errors=[{"field": "since", "reason": "an ISO 8601 time with its offset, within the last 400 days"}],
            )
        rows = await links.revoked_since(tenant, since)
        return JSONResponse({"revoked": [_revocation_json(r) for r in rows]})

    base = "/v1/tenants/{tenant}/admin/links"
    return [
        Route(base, measured(base, links_of), methods=["GET"]),
        Route(base + "/revoked", measured(base + "/revoked", revoked), methods=["GET"]),
        Route(
            base + "/{notification_id}/revoke", measured(base + "/{notification_id}/revoke", revoke), methods=["POST"]
        ),
    ]


def _revocation_json(r: LinkRevocation) -> dict[str, Any]:
    return {
        "notification_id": str(r.notification_id),
        "alert_id": r.alert_id,
        "revoked_at": r.revoked_at.isoformat(),
        "revoked_by": r.revoked_by,
        "reason": r.reason,
    }


def _link_json(row: Mapping[str, Any], *, now: datetime, valid_for: timedelta) -> dict[str, Any]:
    # The link was signed when the e-mail was written (the notification's creation), so it expires then
    # plus the tenant's link_valid_days, as the portal checks it.
    expires_at: datetime = row["created_at"] + valid_for
    status = "revoked" if row["revoked_at"] else "expired" if expires_at < now else "valid"
    return {
        "notification_id": str(row["notification_id"]),
        "alert_id": row["alert_id"],
        "unit": row["unit"],
        "dimension": row["dimension"],
        "recipient": row["recipient"],
        "recipient_role": row["recipient_role"],
        "delivery": row["state"],
        "created_at": row["created_at"].isoformat(),
        "sent_at": row["sent_at"].isoformat() if row["sent_at"] else None,
        "expires_at": expires_at.isoformat(),
        "status": status,
        "revoked_at": row["revoked_at"].isoformat() if row["revoked_at"] else None,
        "revoked_by": row["revoked_by"],
        "reason": row["reason"],
    }
