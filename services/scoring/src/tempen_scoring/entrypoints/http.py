"""Scoring's read API: score series per unit and dimension, with suppression flags and reasons, and HR's
report of the units that cannot be shown or cannot alert, and why."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tempen_scoring.domain.hidden import HiddenGroup, actions, explain, hidden_groups, latest_closed, span
from tempen_scoring.domain.periods import Period, period_from_key
from tempen_scoring.domain.report import response_rate
from tempen_scoring.metrics import ScoringMetrics
from tempen_scoring.ports import ScoreReader
from tempen_shared.clock import Clock, utc_now
from tempen_shared.http import JSONResponse, problem
from tempen_shared.http import measured as timed
from tempen_shared.tenancy.loader import Catalog, Tenant
from tempen_shared.tenancy.models import Cadence, Instrument
from tempen_shared.tenancy.org import NoOrgVersionError, OrgHistory, OrgTree, org_day

DEFAULT_SPAN = 6  # periods HR's report of hidden units looks back over, unless asked for another span
MAX_SPAN = 60
MAX_SCORE_PERIODS = 24  # periods one tenant-wide scores request may span (a trend chart's length)
MAX_SCORE_UNITS = 500  # units one tenant-wide scores request may name (a page of them)
MAX_UNITS_CHARS = 64 * 1024  # the comma-separated list, bounded before it is split
CHOOSABLE_PERIODS = 24  # closed periods the answer lists as having scores, for a period chooser


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

    async def hidden_units(request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        tenant = catalog.tenants.get(tenant_id)
        if tenant is None:
            return problem(404, "Unknown tenant", errors=[{"field": "tenant", "reason": "unknown tenant"}])
        query = _HiddenQuery.parse(tenant, request.query_params.get, now=clock())
        if query.errors:
            return problem(422, "Invalid query", errors=query.errors)
        history = await history_of(tenant_id)
        policy = tenant.config.alert_policy
        min_group_size = tenant.config.min_group_size
        reports: list[dict[str, Any]] = []
        for instrument, last in query.chosen:
            periods = span(last, query.count, instrument.cadence, tenant.config.zone)
            keys = [p.key for p in periods]
            trees = [_tree_or_none(history, p.end) for p in periods]
            current = trees[-1] or tenant.org
            rows = await reader.group_statuses(tenant_id, instrument.id, keys)
            measured_in = await reader.measured_periods(tenant_id, instrument.id, keys)
            for model in instrument.models:
                if query.model is not None and model != query.model:
                    continue
                statuses = {(r["period"], r["unit"], r["scope"]): r["status"] for r in rows if r["model"] == model}
                measured = [(model, key) in measured_in for key in keys]
                groups = hidden_groups(keys, trees, measured, statuses, current, policy.sustained_periods)
                reports.append(
                    {
                        "instrument": instrument.id,
                        "model": model,
                        "cadence": instrument.cadence,
                        "periods": [{"period": key, "measured": was} for key, was in zip(keys, measured, strict=True)],
                        "units": [_hidden_entry(g, current, min_group_size) for g in groups],
                    }
                )
        return JSONResponse(
            {
                "tenant": tenant_id,
                "min_group_size": min_group_size,
                "sustained_periods": policy.sustained_periods,
                "reports": reports,
            }
        )

    async def tenant_scores(request: Request) -> Response:
        """Every unit's publishable figures of one model for one closed period, or the last N of them:
        what the portal's overview pages show, in one query. A hidden cell says only that it is hidden
        and why, never its index or size."""
        tenant_id = request.path_params["tenant"]
        tenant = catalog.tenants.get(tenant_id)
        if tenant is None:
            return problem(404, "Unknown tenant", errors=[{"field": "tenant", "reason": "unknown tenant"}])
        history = await history_of(tenant_id)
        query = _ScoresQuery.parse(tenant, history, request.query_params.get, now=clock())
        if query.errors or query.instrument is None or query.last is None:
            return problem(422, "Invalid query", errors=query.errors)
        instrument, zone = query.instrument, tenant.config.zone
        periods = span(query.last, query.count, instrument.cadence, zone)
        keys = [p.key for p in periods]
        trees = {p.key: _tree_or_none(history, p.end) for p in periods}
        rows = await reader.tenant_scores(
            tenant_id, instrument.id, query.model, keys, scope=query.scope, units=query.units
        )
        latest = latest_closed(
            instrument.cadence, zone, clock(), timedelta(hours=tenant.config.alert_policy.period_grace_hours)
        )
        recent = [p.key for p in span(latest, CHOOSABLE_PERIODS, instrument.cadence, zone)]
        measured_in = await reader.measured_periods(tenant_id, instrument.id, recent)
        groups: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        for r in rows:
            cells = groups.setdefault((r["unit"], r["scope"]), {}).setdefault(r["period"], {})
            if r["publishable"]:
                cells[r["dimension"]] = {"index": r["index"], "respondents": r["respondents"]}
            else:
                cells[r["dimension"]] = {"suppressed": True, "reason": r["suppression_reason"]}
        current = trees[keys[-1]] or tenant.org
        units: list[dict[str, Any]] = []
        for (unit, scope), by_period in groups.items():
            series: list[dict[str, Any]] = []
            for key in keys:
                found = by_period.get(key)
                if found is None:
                    continue
                shown = [c["respondents"] for c in found.values() if "respondents" in c]
                point: dict[str, Any] = {"period": key, "published": bool(shown), "dimensions": found}
                if shown:
                    # The group's size where it is published (a dimension can have fewer, from skipped items).
                    respondents = max(shown)
                    point.update(
                        respondents=respondents, response_rate=response_rate(trees[key], unit, scope, respondents)
                    )
                series.append(point)
            name = current.units[unit].name if unit in current else unit
            units.append({"unit": unit, "unit_name": name, "scope": scope, "periods": series})
        return JSONResponse(
            {
                "tenant": tenant_id,
                "model": query.model,
                "instrument": instrument.id,
                "cadence": instrument.cadence,
                "period": keys[-1],
                "periods": keys,
                "scored_periods": [key for key in reversed(recent) if (query.model, key) in measured_in],
                "min_group_size": tenant.config.min_group_size,
                "units": units,
            }
        )

    scores = "/v1/tenants/{tenant}/units/{unit}/scores"
    hidden = "/v1/tenants/{tenant}/hidden-units"
    everyone = "/v1/tenants/{tenant}/scores"
    return [
        Route(scores, measured(scores, unit_scores), methods=["GET"]),
        Route(hidden, measured(hidden, hidden_units), methods=["GET"]),
        Route(everyone, measured(everyone, tenant_scores), methods=["GET"]),
    ]


class _ScoresQuery:
    """The tenant-wide scores query: one model (and the instrument feeding it), a closed period and how
    many periods up to it, a scope, and optionally which units."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []
        self.model = ""
        self.instrument: Instrument | None = None
        self.last: Period | None = None
        self.count = 1
        self.scope: str | None = None
        self.units: list[str] | None = None

    @classmethod
    def parse(
        cls, tenant: Tenant, history: OrgHistory, param: Callable[[str], str | None], *, now: datetime
    ) -> _ScoresQuery:
        query = cls()
        zone = tenant.config.zone
        models = sorted({m for i in tenant.instruments.values() for m in i.models})
        model = param("model")
        if model is None or model not in models:
            reason = "required" if model is None else "not a model of this tenant's instruments"
            query.errors.append({"field": "model", "reason": f"{reason}; one of: {', '.join(models)}"})
            return query
        query.model = model
        feeding = [i for i in tenant.instruments.values() if model in i.models]
        wanted = param("instrument")
        if wanted is not None:
            feeding = [i for i in feeding if i.id == wanted]
            if not feeding:
                query.errors.append(
                    {"field": "instrument", "reason": f"not an instrument of this tenant feeding {model}"}
                )
                return query
        if len(feeding) > 1:
            choices = ", ".join(i.id for i in feeding)
            query.errors.append(
                {"field": "instrument", "reason": f"{model} is fed by several; choose one of {choices}"}
            )
            return query
        instrument = query.instrument = feeding[0]
        grace = timedelta(hours=tenant.config.alert_policy.period_grace_hours)
        latest = latest_closed(instrument.cadence, zone, now, grace)
        key = param("period")
        if key is None:
            query.last = latest
        else:
            try:
                cadence, period = period_from_key(key[:32], zone)
            except ValueError as exc:
                query.errors.append({"field": "period", "reason": str(exc)})
            else:
                if cadence != instrument.cadence:
                    query.errors.append(
                        {
                            "field": "period",
                            "reason": f"{instrument.id} is measured {instrument.cadence}, e.g. {latest.key}",
                        }
                    )
                elif period.end + grace > now:
                    query.errors.append(
                        {
                            "field": "period",
                            "reason": f"{key} has not closed yet; the latest closed one is {latest.key}",
                        }
                    )
                else:
                    query.last = period
        raw = param("periods")
        if raw is not None:
            if raw.isdigit() and 1 <= int(raw) <= MAX_SCORE_PERIODS:
                query.count = int(raw)
            else:
                query.errors.append(
                    {"field": "periods", "reason": f"must be a whole number from 1 to {MAX_SCORE_PERIODS}"}
                )
        query.scope = param("scope")
        if query.scope not in (None, "unit", "subtree"):
            query.errors.append({"field": "scope", "reason": "must be unit or subtree"})
        listed = param("units")
        if listed is not None:
            ids = list(dict.fromkeys(u for u in listed.split(",") if u)) if len(listed) <= MAX_UNITS_CHARS else []
            if not 1 <= len(ids) <= MAX_SCORE_UNITS:
                query.errors.append(
                    {"field": "units", "reason": f"list 1 to {MAX_SCORE_UNITS} unit ids, separated by commas"}
                )
            else:
                known = {u for version in history.versions for u in version.tree.units}
                unknown = [u for u in ids if u not in known]
                if unknown:
                    more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
                    shown = ", ".join(u[:64] for u in unknown[:5])
                    query.errors.append(
                        {"field": "units", "reason": f"not in this tenant's organisation: {shown}{more}"}
                    )
                else:
                    query.units = ids
        return query


class _HiddenQuery:
    """The hidden-units report's query: which instruments, up to which closed period, over how many."""

    def __init__(self) -> None:
        self.errors: list[dict[str, str]] = []
        self.count = DEFAULT_SPAN
        self.model: str | None = None
        self.chosen: list[tuple[Instrument, Period]] = []

    @classmethod
    def parse(cls, tenant: Tenant, param: Callable[[str], str | None], *, now: datetime) -> _HiddenQuery:
        query = cls()
        zone = tenant.config.zone
        grace = timedelta(hours=tenant.config.alert_policy.period_grace_hours)
        raw = param("periods")
        if raw is not None:
            if not (raw.isdigit() and 1 <= int(raw) <= MAX_SPAN):
                query.errors.append({"field": "periods", "reason": f"must be a whole number from 1 to {MAX_SPAN}"})
            else:
                query.count = int(raw)
        instruments = list(tenant.instruments.values())
        wanted = param("instrument")
        if wanted is not None:
            instruments = [i for i in instruments if i.id == wanted]
            if not instruments:
                query.errors.append(
                    {"field": "instrument", "reason": f"not one of this tenant's: {', '.join(tenant.instruments)}"}
                )
        query.model = param("model")
        if query.model is not None and not any(query.model in i.models for i in instruments):
            models = sorted({m for i in instruments for m in i.models})
            query.errors.append({"field": "model", "reason": f"not a model of these instruments: {', '.join(models)}"})
        key = param("period")
        given: tuple[Cadence, Period] | None = None
        if key is not None:
            try:
                given = period_from_key(key[:32], zone)
            except ValueError as exc:
                query.errors.append({"field": "period", "reason": str(exc)})
            else:
                cadence, period = given
                if period.end + grace > now:
                    latest = latest_closed(cadence, zone, now, grace).key
                    query.errors.append(
                        {"field": "period", "reason": f"{key} has not closed yet; the latest closed one is {latest}"}
                    )
                instruments = [i for i in instruments if i.cadence == cadence]
                if not instruments and not query.errors:
                    query.errors.append(
                        {
                            "field": "period",
                            "reason": f"no instrument here is measured {cadence}; ask for a period of"
                            f" theirs ({', '.join(sorted({i.cadence for i in tenant.instruments.values()}))})",
                        }
                    )
        if not query.errors:
            query.chosen = [
                (i, given[1] if given is not None else latest_closed(i.cadence, zone, now, grace)) for i in instruments
            ]
        return query


def _hidden_entry(group: HiddenGroup, tree: OrgTree, min_group_size: int) -> dict[str, Any]:
    """One hidden group as HR reads it: statuses and period counts, never a respondent count."""
    unit = tree.units[group.unit]
    parent = tree.units[unit.parent] if unit.parent is not None else None
    reach = group.reach
    return {
        "unit": group.unit,
        "unit_name": unit.name,
        "scope": group.scope,
        "parent": parent.id if parent else None,
        "parent_name": parent.name if parent else None,
        "latest": group.latest,
        "hidden_periods": group.hidden,
        "measured_periods": group.counted,
        "reasons": group.reasons,
        "periods": [{"period": period, "status": status} for period, status in group.periods],
        "protects": [{"unit": u, "unit_name": tree.units[u].name} for u in group.protects if u in tree],
        "alerts": None
        if reach is None
        else {
            "can_alert": reach.can_alert,
            "needed": reach.needed,
            "published_periods": reach.published,
            "measured_periods": reach.measured,
            "periods_to_alert": reach.periods_to_alert,
        },
        "explanation": explain(group, tree, min_group_size),
        "actions": [{"action": a.code, "text": a.text} for a in actions(group, tree, min_group_size)],
    }


def _tree_or_none(history: OrgHistory, period_end: datetime) -> OrgTree | None:
    try:
        return _tree_at(history, period_end)
    except NoOrgVersionError:
        return None


def _tree_at(history: OrgHistory, period_end: datetime) -> OrgTree | None:
    return history.at(org_day(period_end))
