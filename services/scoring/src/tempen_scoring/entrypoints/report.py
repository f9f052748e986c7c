"""Scoring's HME report: the HME total index and its sub-indices for the municipality and each
förvaltning per survey round, published figures only (domain/report.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tempen_scoring.domain.hidden import latest_closed, span
from tempen_scoring.domain.report import HME_MODEL, KOLADA_KPIS, ReportRow, StoredFigure, report_rows, report_units
from tempen_scoring.metrics import ScoringMetrics
from tempen_scoring.ports import ScoreReader
from tempen_shared.clock import Clock, utc_now
from tempen_shared.http import JSONResponse, problem
from tempen_shared.http import measured as timed
from tempen_shared.tenancy.loader import Catalog
from tempen_shared.tenancy.models import Instrument, TenantConfig
from tempen_shared.tenancy.org import NoOrgVersionError, OrgHistory, OrgTree, org_day

DEFAULT_ROUNDS = 5
MAX_ROUNDS = 20


def routes(
    reader: ScoreReader,
    catalog: Catalog,
    metrics: ScoringMetrics,
    *,
    org_history: Callable[[str], Awaitable[OrgHistory]] | None = None,
    clock: Clock = utc_now,
) -> list[Route]:
    async def history_of(tenant_id: str) -> OrgHistory:
        if org_history is None:
            return OrgHistory.of([(date.min, catalog.tenants[tenant_id].org)])
        return await org_history(tenant_id)

    async def hme_report(request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        tenant = catalog.tenants.get(tenant_id)
        if tenant is None:
            return problem(404, "Unknown tenant", errors=[{"field": "tenant", "reason": "unknown tenant"}])
        model = tenant.models.get(HME_MODEL)
        feeding = [i for i in tenant.instruments.values() if HME_MODEL in i.models]
        if model is None or not feeding:
            return problem(
                404,
                "No HME instrument",
                errors=[
                    {
                        "field": "tenant",
                        "reason": "no instrument of this tenant feeds the hme model; add hme to the tenant's"
                        " instruments (config/instruments/hme.yaml) and run tempen config check",
                    }
                ],
            )
        errors: list[dict[str, str]] = []
        rounds = DEFAULT_ROUNDS
        raw = request.query_params.get("rounds")
        if raw is not None:
            if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_ROUNDS:
                rounds = int(raw)
            else:
                errors.append({"field": "rounds", "reason": f"must be a whole number from 1 to {MAX_ROUNDS}"})
        wanted = request.query_params.get("instrument")
        if wanted is not None:
            feeding = [i for i in feeding if i.id == wanted]
            if not feeding:
                names = ", ".join(i.id for i in tenant.instruments.values() if HME_MODEL in i.models)
                errors.append({"field": "instrument", "reason": f"not an instrument of this tenant's HME: {names}"})
        if errors:
            return problem(422, "Invalid query", errors=errors)
        history = await history_of(tenant_id)
        indices = ([model.total.id] if model.total is not None else []) + [d.id for d in model.dimensions]
        now = clock()
        grace = timedelta(hours=tenant.config.alert_policy.period_grace_hours)
        reports = [
            await _instrument_report(reader, tenant_id, instrument, history, indices, rounds, now, grace, tenant.config)
            for instrument in feeding
        ]
        return JSONResponse(
            {
                "tenant": tenant_id,
                "tenant_name": tenant.config.name,
                "model": HME_MODEL,
                "model_version": model.version,
                "min_group_size": tenant.config.min_group_size,
                "indices": [
                    {
                        "id": d.id,
                        "name_sv": d.name_sv,
                        "name_en": d.name_en,
                        "kolada_kpi": KOLADA_KPIS.get(d.id),
                    }
                    for d in ([model.total] if model.total is not None else []) + list(model.dimensions)
                ],
                "reports": reports,
            }
        )

    route = "/v1/tenants/{tenant}/reports/hme"
    return [Route(route, timed(metrics, route, hme_report), methods=["GET"])]


async def _instrument_report(
    reader: ScoreReader,
    tenant_id: str,
    instrument: Instrument,
    history: OrgHistory,
    indices: list[str],
    rounds: int,
    now: datetime,
    grace: timedelta,
    config: TenantConfig,
) -> dict[str, Any]:
    zone = config.zone
    periods = span(latest_closed(instrument.cadence, zone, now, grace), rounds, instrument.cadence, zone)
    keys = [p.key for p in periods]
    trees = [_tree_or_none(history, p.end) for p in periods]
    units = sorted({u for tree in trees if tree is not None for u, _ in report_units(tree)})
    measured = await reader.measured_periods(tenant_id, instrument.id, keys)
    stored: dict[tuple[str, str], dict[str, StoredFigure]] = {}
    for r in await reader.subtree_figures(tenant_id, instrument.id, HME_MODEL, keys, units):
        stored.setdefault((r["period"], r["unit"]), {})[r["dimension"]] = StoredFigure(
            respondents=r["respondents"],
            publishable=r["publishable"],
            reason=r["suppression_reason"],
            index=r["index"],
        )
    out: list[dict[str, Any]] = []
    for period, tree in zip(periods, trees, strict=True):
        was_measured = (HME_MODEL, period.key) in measured
        rows: list[ReportRow] = []
        if was_measured and tree is not None:
            figures = {unit: f for (key, unit), f in stored.items() if key == period.key}
            rows = report_rows(tree, figures, indices)
        out.append(
            {
                "period": period.key,
                "period_start": period.start.isoformat(),
                "period_end": period.end.isoformat(),
                "measured": was_measured,
                "org_known": tree is not None,
                "rows": [_row(r) for r in rows],
            }
        )
    return {"instrument": instrument.id, "cadence": instrument.cadence, "rounds": out}


def _row(row: ReportRow) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "unit": row.unit,
        "unit_name": row.unit_name,
        "level": row.level,
        "published": row.published,
    }
    if row.published:
        entry.update(respondents=row.respondents, response_rate=row.response_rate, indices=dict(row.indices or {}))
    else:
        # The reason, never the size: "2 respondents" would itself reveal a small group.
        entry["reason"] = row.reason
    return entry


def _tree_or_none(history: OrgHistory, period_end: datetime) -> OrgTree | None:
    try:
        return history.at(org_day(period_end))
    except NoOrgVersionError:
        return None
