"""Scoring's read API: score series per unit and dimension, with suppression flags and reasons."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tempen_scoring.metrics import ScoringMetrics
from tempen_scoring.ports import ScoreReader
from tempen_shared.http import JSONResponse, problem
from tempen_shared.http import measured as timed
from tempen_shared.tenancy.loader import Catalog
from tempen_shared.tenancy.org import OrgHistory, OrgTree, org_day


def routes(
    reader: ScoreReader,
    catalog: Catalog,
    metrics: ScoringMetrics,
    *,
    org_history: Callable[[str], Awaitable[OrgHistory]] | None = None,
) -> list[Route]:
    async def history_of(tenant_id: str) -> OrgHistory:
        if org_history is None:
            return OrgHistory.of([(date.min, catalog.tenants[tenant_id].org)])
        return await org_history(tenant_id)

    def measured(route: str, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Any]:
        return timed(metrics, route, handler)

    async def unit_scores(request: Request) -> Response:
        tenant_id, unit = request.path_params["tenant"], request.path_params["unit"]
        tenant = catalog.tenants.get(tenant_id)
        if tenant is None:
            return problem(404, "Unknown tenant", errors=[{"field": "tenant", "reason": "unknown tenant"}])
        history = await history_of(tenant_id)
        # A unit of any org version: its scores from when it existed stay readable after it is gone.
        latest = next((v.tree for v in reversed(history.versions) if unit in v.tree), None)
        if latest is None:
            return problem(
                404, "Unknown unit", errors=[{"field": "unit", "reason": "not in this tenant's organisation"}]
            )
        scope = request.query_params.get("scope")
        if scope not in (None, "unit", "subtree"):
            return problem(422, "Invalid query", errors=[{"field": "scope", "reason": "must be unit or subtree"}])
        rows = await reader.unit_series(
            tenant_id,
            unit,
            model=request.query_params.get("model"),
            scope=scope,
            dimension=request.query_params.get("dimension"),
        )
        series: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        for r in rows:
            key = (r["model"], r["instrument"], r["dimension"], r["scope"])
            entry = series.setdefault(
                key,
                {
                    "model": r["model"],
                    "instrument": r["instrument"],
                    "dimension": r["dimension"],
                    "scope": r["scope"],
                    "points": [],
                },
            )
            point: dict[str, Any] = {
                "period": r["period"],
                "period_start": r["period_start"].isoformat(),
                "period_end": r["period_end"].isoformat(),
                "model_version": r["model_version"],
                "suppressed": not r["publishable"],
            }
            if r["publishable"]:
                point.update(
                    index=r["index"],
                    respondents=r["respondents"],
                    standard_error=r["standard_error"],
                    favourable_pct=r["favourable_pct"],
                    response_rate=response_rate(_tree_at(history, r["period_end"]), unit, r["scope"], r["respondents"]),
                    **dict(r["details"]),
                )
            else:
                # The reason, never the size: "2 respondents" would itself reveal a small group.
                point.update(
                    reason=r["suppression_reason"],
                    note=f"fewer than {tenant.config.min_group_size} respondents, or could be derived by"
                    " subtraction from other published groups",
                )
            entry["points"].append(point)
        return JSONResponse(
            {
                "tenant": tenant_id,
                "unit": unit,
                "unit_name": latest.units[unit].name,
                "min_group_size": tenant.config.min_group_size,
                "series": list(series.values()),
            }
        )

    route = "/v1/tenants/{tenant}/units/{unit}/scores"
    return [Route(route, measured(route, unit_scores), methods=["GET"])]


def _tree_at(history: OrgHistory, period_end: datetime) -> OrgTree | None:
    return history.at(org_day(period_end))


def response_rate(tree: OrgTree | None, unit: str, scope: str, respondents: int) -> float | None:
    """Respondents over headcount, where the org in force then gives a headcount for every unit the group covers."""
    if tree is None or unit not in tree:
        return None
    units = list(tree.subtree(unit)) if scope == "subtree" else [unit]
    counts = [tree.units[u].headcount for u in units]
    if any(c is None for c in counts):
        return None
    headcount = sum(c for c in counts if c is not None)
    return round(respondents / headcount, 4) if headcount > 0 else None
