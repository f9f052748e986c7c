"""Org imports over HTTP: what `tempen org import` and HR systems call (admin scope)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tempen_ingest.org_import import import_org_version
from tempen_ingest.ports import OrgStore
from tempen_shared.clock import today_in
from tempen_shared.db import StoreUnavailableError
from tempen_shared.http import BadRequestError, JSONResponse, problem, read_body, service_unavailable
from tempen_shared.tenancy.loader import Catalog

ORG_IMPORT_ROUTE = "/v1/tenants/{tenant}/admin/org"
ORG_ROUTE = "/v1/tenants/{tenant}/org"
MAX_ORG_BYTES = 20 << 20


def org_routes(
    store: Callable[[], OrgStore], catalog: Catalog, *, after_store: Callable[[], Awaitable[None]]
) -> list[Route]:
    async def post_org(request: Request) -> Response:
        tenant = catalog.tenants.get(request.path_params["tenant"])
        if tenant is None:
            return problem(404, "Unknown tenant", errors=[{"field": "tenant", "reason": "unknown tenant"}])
        q = request.query_params
        try:
            effective_from = (
                date.fromisoformat(q["effective_from"]) if "effective_from" in q else (today_in(tenant.config.zone))
            )
        except ValueError:
            return problem(422, "Invalid query", errors=[{"field": "effective_from", "reason": "use YYYY-MM-DD"}])
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        file_format: Literal["csv", "json"]
        if kind.endswith("json"):
            file_format = "json"
        elif kind in ("text/csv", "application/csv"):
            file_format = "csv"
        else:
            return problem(
                415,
                "Unsupported media type",
                "send text/csv or application/json",
                errors=[{"field": "content-type", "reason": "must be text/csv or application/json"}],
            )
        try:
            body = await read_body(request, max_bytes=MAX_ORG_BYTES)
        except BadRequestError as exc:
            return exc.response
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            return problem(422, "Not UTF-8", errors=[{"field": "(body)", "reason": "the file must be UTF-8 text"}])
        try:
            outcome = await import_org_version(
                store(),
                tenant,
                text,
                file_format=file_format,
                effective_from=effective_from,
                force=_flag(q.get("force")),
                dry_run=_flag(q.get("dry_run")),
                source=q.get("source", "http"),
            )
        except StoreUnavailableError:
            return service_unavailable()
        if outcome.status == "stored":
            await after_store()
        if outcome.status == "invalid":
            return problem(422, "Invalid org file", "nothing was imported", errors=list(outcome.problems))
        body_json: dict[str, Any] = {
            "status": outcome.status,
            "version": outcome.version,
            "units": outcome.units,
            "effective_from": outcome.effective_from.isoformat() if outcome.effective_from else None,
            "compared_with": outcome.compared_with,
            "summary": outcome.summary,
            "diff": outcome.diff,
            "refusals": list(outcome.refusals),
        }
        if outcome.status == "refused":
            return problem(
                409,
                "Import refused by the guard rails",
                "; ".join(outcome.refusals) + ". Send force=true if the change is intended. Nothing was imported.",
                errors=[{"field": "(body)", "reason": r} for r in outcome.refusals],
            )
        return JSONResponse(body_json, status_code=201 if outcome.status == "stored" else 200)

    async def get_org(request: Request) -> Response:
        tenant = catalog.tenants.get(request.path_params["tenant"])
        if tenant is None:
            return problem(404, "Unknown tenant", errors=[{"field": "tenant", "reason": "unknown tenant"}])
        latest = await store().latest(tenant.id)
        if latest is None:
            return JSONResponse({"version": 0, "source": "config", "units": len(tenant.org.units)})
        version, effective_from, tree = latest
        return JSONResponse(
            {
                "version": version,
                "effective_from": effective_from.isoformat(),
                "units": len(tree.units),
                "source": "import",
            }
        )

    return [Route(ORG_IMPORT_ROUTE, post_org, methods=["POST"]), Route(ORG_ROUTE, get_org, methods=["GET"])]


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes")
