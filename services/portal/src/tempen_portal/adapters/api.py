"""The portal's clients of scoring's and alerts' HTTP APIs, with the portal's own token."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from tempen_portal.ports import Outcome, Refusal, UpstreamUnavailableError


class _Api:
    def __init__(self, base_url: str, token: str, *, timeout_s: float) -> None:
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailableError(f"{method} {path}: {exc!r}") from exc
        if response.status_code >= 500 or response.status_code in (401, 403):
            # 401/403: the portal's own token is wrong or revoked, which the person can do nothing about.
            raise UpstreamUnavailableError(f"{method} {path}: {response.status_code}")
        return response

    @staticmethod
    def _succeeded(response: httpx.Response) -> httpx.Response:
        """`response` if it is a success; any other answer the caller has no meaning for (a tenant the
        service does not know yet during a config rollout, a refused parameter) means the service cannot
        answer this now: the page says unavailable and when to try again, never a 500."""
        if not response.is_success:
            request = response.request
            raise UpstreamUnavailableError(f"{request.method} {request.url.path}: {response.status_code}")
        return response

    async def ready(self) -> bool:
        try:
            return (await self._client.get("/healthz")).status_code == 200
        except httpx.HTTPError:
            return False


def _segment(value: str) -> str:
    return quote(value, safe="")


class HttpAlertsApi(_Api):
    async def alert(self, tenant: str, alert_id: str, *, language: str | None = None) -> Mapping[str, Any] | None:
        response = await self._send(
            "GET",
            f"/v1/tenants/{_segment(tenant)}/alerts/{_segment(alert_id)}",
            params={"language": language} if language else None,
        )
        if response.status_code == 404:
            return None
        self._succeeded(response)
        body: Mapping[str, Any] = response.json()
        return body

    async def acknowledge(
        self, tenant: str, alert_id: str, *, action_plan: str, follow_up_date: str | None, by: str
    ) -> Outcome:
        body: dict[str, Any] = {"action_plan": action_plan, "acknowledged_by": by}
        if follow_up_date:
            body["follow_up_date"] = follow_up_date
        response = await self._send(
            "POST", f"/v1/tenants/{_segment(tenant)}/alerts/{_segment(alert_id)}/acknowledge", json=body
        )
        return _outcome(response)

    # Action plans

    async def revise_plan(
        self,
        tenant: str,
        alert_id: str,
        *,
        what: str | None,
        owner: str | None,
        due_date: str | None,
        status: str | None,
        by: str,
    ) -> Outcome:
        parts = {"what": what, "owner": owner, "due_date": due_date, "status": status}
        body: dict[str, Any] = {key: value for key, value in parts.items() if value is not None}
        response = await self._send(
            "POST",
            f"/v1/tenants/{_segment(tenant)}/alerts/{_segment(alert_id)}/plan",
            json={**body, "written_by": by},
        )
        return _outcome(response)

    async def comment_on_plan(self, tenant: str, alert_id: str, *, text: str, by: str) -> Outcome:
        response = await self._send(
            "POST",
            f"/v1/tenants/{_segment(tenant)}/alerts/{_segment(alert_id)}/plan/comments",
            json={"text": text, "written_by": by},
        )
        return _outcome(response)

    # Revoked personal links (deploy branch)
    async def revoked_links(self, tenant: str, *, since: datetime) -> Sequence[str]:
        response = await self._send(
            "GET", f"/v1/tenants/{_segment(tenant)}/admin/links/revoked", params={"since": since.isoformat()}
        )
        self._succeeded(response)
        return [str(r["notification_id"]) for r in response.json()["revoked"]]

    # Overview pages (start page, HR overview)
    async def alerts_in_state(self, tenant: str, state: str) -> Sequence[Mapping[str, Any]]:
        response = await self._send("GET", f"/v1/tenants/{_segment(tenant)}/alerts", params={"status": state})
        self._succeeded(response)
        alerts: Sequence[Mapping[str, Any]] = response.json()["alerts"]
        return alerts


def _outcome(response: httpx.Response) -> Outcome:
    """What alerts answered to an action: done (2xx), not possible in the alert's state (409), unknown (404),
    or refused with problem+json field errors."""
    if response.is_success:
        return Outcome(done=True)
    if response.status_code == 409:
        return Outcome(done=False, not_active=True)
    if response.status_code == 404:
        return Outcome(done=False, not_found=True)
    errors = response.json().get("errors", []) if response.headers.get("content-type", "").endswith("json") else []
    return Outcome(done=False, errors=tuple(errors))


class HttpScoresApi(_Api):
    async def unit_series(
        self, tenant: str, unit: str, *, model: str, dimension: str, scope: str
    ) -> Mapping[str, Any] | None:
        response = await self._send(
            "GET",
            f"/v1/tenants/{_segment(tenant)}/units/{_segment(unit)}/scores",
            params={"model": model, "dimension": dimension, "scope": scope},
        )
        if response.status_code == 404:
            return None
        self._succeeded(response)
        body: Mapping[str, Any] = response.json()
        return body

    # HME report (hme branch)
    async def hme_report(self, tenant: str, *, rounds: int) -> Mapping[str, Any] | None:
        response = await self._send("GET", f"/v1/tenants/{_segment(tenant)}/reports/hme", params={"rounds": rounds})
        if response.status_code == 404:
            return None
        self._succeeded(response)
        body: Mapping[str, Any] = response.json()
        return body

    # Overview pages (my units, HR overview)
    async def tenant_scores(
        self,
        tenant: str,
        *,
        model: str,
        period: str | None,
        periods: int,
        scope: str,
        units: Sequence[str] | None,
    ) -> Mapping[str, Any] | Refusal:
        params = {"model": model, "periods": str(periods), "scope": scope}
        if period is not None:
            params["period"] = period
        if units is not None:
            params["units"] = ",".join(units)
        response = await self._send("GET", f"/v1/tenants/{_segment(tenant)}/scores", params=params)
        if response.status_code == 422:
            return Refusal(tuple(response.json().get("errors", [])))
        self._succeeded(response)
        body: Mapping[str, Any] = response.json()
        return body

    async def hidden_units(self, tenant: str, *, model: str) -> Mapping[str, Any]:
        response = await self._send("GET", f"/v1/tenants/{_segment(tenant)}/hidden-units", params={"model": model})
        self._succeeded(response)
        body: Mapping[str, Any] = response.json()
        return body
