"""The signed-in person's start page, My units, and HR's overview (heatmap, open alerts, hidden units).

Entry point only: who may see what is `domain/access.py`'s Viewer, what a row shows is
`domain/overview.py`; the figures are scoring's, asked for exactly the units this person may see and
shown only where scoring marks them publishable.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tempen_portal.domain.access import Viewer
from tempen_portal.domain.hme import sees_report_rows
from tempen_portal.domain.overview import Row, Sparkline, age_in_days, in_tree_order, page_of, plan_status, rows_of
from tempen_portal.domain.words import WORDS, Language, number
from tempen_portal.entrypoints.web import Pages, language_of, message, render, signed_in, unavailable
from tempen_portal.ports import Refusal, UpstreamUnavailableError
from tempen_shared.tenancy.loader import Tenant

ACTIVE = ("open", "escalated", "acknowledged")
TREND_SPAN = 6  # periods in a My units sparkline
UNITS_PER_PAGE = 50  # My units: rows of a page, each with a sparkline per dimension (100 took 126 ms at p95)
HEATMAP_PER_PAGE = 250  # HR overview: rows of the heatmap on a page
MAX_PAGE = 10_000
# Open alerts listed on a page: the highest level and longest open first. A municipality with a thousand
# open alerts reads the top of the list and filters by förvaltning; rendering them all made HR's page
# three times the size and slower than the heatmap itself (bench/portal.py).
ALERTS_SHOWN = 100
ALERTS_API_LIMIT = 500  # alerts' list answers at most this many per state
PERIOD_KEY = re.compile(r"\d{4}(-Q[1-4]|-(0[1-9]|1[0-2])|-W\d{2})?")


def routes(pages: Pages, measured: Callable[[str, Callable[[Request], Awaitable[Response]]], Any]) -> list[Route]:
    async def start(request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        viewer = signed_in(pages, request, tenant_id)
        if viewer is None:
            return message(pages, request, "sign_in_needed", status=401)
        tenant = pages.catalog.tenants[tenant_id]
        try:
            alerts = await _active_alerts(pages, tenant_id)
        except UpstreamUnavailableError:
            return unavailable(pages, request)
        language = language_of(request)
        visible = _most_pressing([a for a in alerts.found if viewer.may_see_unit(str(a.get("unit")))])
        return render(
            pages,
            request,
            "start.html",
            tenant=tenant_id,
            viewer=viewer,
            manages=bool(viewer.managed) or viewer.is_hr,
            sees_hme=sees_report_rows(viewer, tenant.org),
            alerts=[_alert_row(tenant, a, language, pages) for a in visible[:ALERTS_SHOWN]],
            alerts_total=len(visible),
            alerts_at_least=alerts.capped,
        )

    async def my_units(request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        viewer = signed_in(pages, request, tenant_id)
        if viewer is None:
            return message(pages, request, "sign_in_needed", status=401)
        tenant = pages.catalog.tenants[tenant_id]
        if not viewer.managed and not viewer.is_hr:
            return message(pages, request, "not_a_manager", status=200)
        query = _Query.read(request, tenant, with_period=False)
        if query.bad is not None:
            return message(pages, request, query.bad, status=422)
        tree = tenant.org
        roots = [tree.root] if viewer.is_hr else list(viewer.managed)
        units = [u for u in in_tree_order(tree, roots) if viewer.may_see_unit(u)]
        shown, count = page_of(units, query.page, UNITS_PER_PAGE)
        try:
            answer = await pages.scores.tenant_scores(
                tenant_id, model=query.model, period=None, periods=TREND_SPAN, scope="subtree", units=shown
            )
        except UpstreamUnavailableError:
            return unavailable(pages, request)
        if isinstance(answer, Refusal):
            return message(pages, request, "bad_period", status=422)
        dimensions = _dimensions(tenant, query.model, language_of(request))
        rows = rows_of(answer, tree, shown, [d for d, _ in dimensions], trend=True)
        language = language_of(request)
        # Each sparkline's figures read out, made here once: in the template it cost more than the rest.
        read_out = {
            (row.unit, d): _read_out(row.trends[d], language) for row in rows for d, _ in dimensions if d in row.trends
        }
        return render(
            pages,
            request,
            "units.html",
            read_out=read_out,
            tenant=tenant_id,
            query=query,
            models=_models(tenant),
            dimensions=dimensions,
            rows=rows,
            periods=list(answer.get("periods", [])),
            min_group_size=tenant.config.min_group_size,
            page_number=min(max(1, query.page), count),
            page_count=count,
        )

    async def overview(request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        checked = _hr_only(request, tenant_id)
        if isinstance(checked, Response):
            return checked
        tenant = pages.catalog.tenants[tenant_id]
        query = _Query.read(request, tenant, with_period=True)
        if query.bad is not None:
            return message(pages, request, query.bad, status=422)
        tree = tenant.org
        units = in_tree_order(tree, [query.forvaltning] if query.forvaltning else [tree.root])
        shown, count = page_of(units, query.page, HEATMAP_PER_PAGE)
        try:
            answer, alerts = await asyncio.gather(
                pages.scores.tenant_scores(
                    tenant_id, model=query.model, period=query.period, periods=1, scope="subtree", units=shown
                ),
                _active_alerts(pages, tenant_id),
            )
        except UpstreamUnavailableError:
            return unavailable(pages, request)
        if isinstance(answer, Refusal):
            return message(pages, request, "bad_period", status=422)
        language = language_of(request)
        dimensions = _dimensions(tenant, query.model, language)
        if query.dimension:
            dimensions = [d for d in dimensions if d[0] == query.dimension]
        rows = rows_of(answer, tree, shown, [d for d, _ in dimensions], trend=False)
        within = set(units) if query.forvaltning else None
        listed = _most_pressing([a for a in alerts.found if within is None or str(a.get("unit")) in within])
        return render(
            pages,
            request,
            "overview.html",
            tenant=tenant_id,
            query=query,
            models=_models(tenant),
            all_dimensions=_dimensions(tenant, query.model, language),
            dimensions=dimensions,
            forvaltningar=[(u, tree.units[u].name) for u in tree.children[tree.root]],
            groups=_grouped(rows, tenant),
            period=answer.get("period"),
            scored_periods=list(answer.get("scored_periods", [])),
            min_group_size=tenant.config.min_group_size,
            alerts=[_alert_row(tenant, a, language, pages) for a in listed[:ALERTS_SHOWN]],
            alerts_total=len(listed),
            alerts_at_least=alerts.capped,
            page_number=min(max(1, query.page), count),
            page_count=count,
        )

    async def hidden(request: Request) -> Response:
        tenant_id = request.path_params["tenant"]
        checked = _hr_only(request, tenant_id)
        if isinstance(checked, Response):
            return checked
        tenant = pages.catalog.tenants[tenant_id]
        query = _Query.read(request, tenant, with_period=False)
        if query.bad is not None:
            return message(pages, request, query.bad, status=422)
        try:
            report = await pages.scores.hidden_units(tenant_id, model=query.model)
        except UpstreamUnavailableError:
            return unavailable(pages, request)
        language = language_of(request)
        tree = tenant.org
        within = set(tree.subtree(query.forvaltning)) if query.forvaltning else None
        entries: list[dict[str, Any]] = []
        span = 0
        for r in report.get("reports", []):
            if r.get("model") != query.model:
                continue
            span = max(span, len(r.get("periods", [])))
            for entry in r.get("units", []):
                if within is None or entry.get("unit") in within:
                    entries.append(_hidden_row(entry, tenant, language))
        entries.sort(key=lambda e: (e["can_alert"] is not False, e["name"]))
        return render(
            pages,
            request,
            "hidden.html",
            tenant=tenant_id,
            query=query,
            models=_models(tenant),
            forvaltningar=[(u, tree.units[u].name) for u in tree.children[tree.root]],
            entries=entries,
            span=span,
            min_group_size=tenant.config.min_group_size,
        )

    def _hr_only(request: Request, tenant_id: str) -> Viewer | Response:
        viewer = signed_in(pages, request, tenant_id)
        if viewer is None:
            return message(pages, request, "sign_in_needed", status=401)
        if not viewer.is_hr:
            return message(pages, request, "hr_only", status=403)
        return viewer

    base = "/t/{tenant}/"
    units_path, overview_path, hidden_path = "/t/{tenant}/units", "/t/{tenant}/overview", "/t/{tenant}/overview/hidden"
    return [
        Route(base, measured(base, start), methods=["GET"]),
        Route(units_path, measured(units_path, my_units), methods=["GET"]),
        Route(overview_path, measured(overview_path, overview), methods=["GET"]),
        Route(hidden_path, measured(hidden_path, hidden), methods=["GET"]),
    ]


class _Query:
    """The overview pages' query string, checked against the tenant: an unknown value is refused with a
    page that says to choose from the lists, never passed on."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.period: str | None = None
        self.forvaltning: str | None = None
        self.dimension: str | None = None
        self.page = 1
        self.bad: str | None = None

    @classmethod
    def read(cls, request: Request, tenant: Tenant, *, with_period: bool) -> _Query:
        q = request.query_params
        models = [m for m, _ in _models(tenant)]
        query = cls(models[0] if models else "")
        model = q.get("model")
        if model:
            if model in models:
                query.model = model
            else:
                query.bad = "bad_filter"
        period = q.get("period")
        if with_period and period:
            if PERIOD_KEY.fullmatch(period):
                query.period = period
            else:
                query.bad = "bad_period"
        forvaltning = q.get("forvaltning")
        if forvaltning:
            if forvaltning in tenant.org.children[tenant.org.root]:
                query.forvaltning = forvaltning
            else:
                query.bad = "bad_filter"
        dimension = q.get("dimension")
        if dimension:
            if dimension in {d for d, _ in _dimensions(tenant, query.model, "sv")}:
                query.dimension = dimension
            else:
                query.bad = "bad_filter"
        page = q.get("page")
        if page:
            if page.isdigit() and 1 <= int(page) <= MAX_PAGE:
                query.page = int(page)
            else:
                query.bad = "bad_filter"
        return query

    def link(self, **changes: Any) -> str:
        """This query string with `changes`, for links between pages and to a chosen period."""
        values = {
            "model": self.model,
            "period": self.period,
            "forvaltning": self.forvaltning,
            "dimension": self.dimension,
            "page": self.page if self.page > 1 else None,
        } | changes
        return "?" + urlencode({k: v for k, v in values.items() if v})


def _models(tenant: Tenant) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for instrument in tenant.instruments.values():
        for model in instrument.models:
            found = tenant.models.get(model)
            seen.setdefault(model, found.name_sv if found is not None else model)
    return list(seen.items())


def _dimensions(tenant: Tenant, model_id: str, language: Language) -> list[tuple[str, str]]:
    """The model's dimensions as (id, name), its total index first."""
    model = tenant.models.get(model_id)
    if model is None:
        return []
    listed = ([model.total] if model.total is not None else []) + list(model.dimensions)
    return [(d.id, d.name_sv if language == "sv" else d.name_en) for d in listed]


@dataclass(frozen=True, slots=True)
class _Active:
    found: list[Mapping[str, Any]]
    capped: bool  # alerts' list stopped at its limit for some state: there are more than found


async def _active_alerts(pages: Pages, tenant_id: str) -> _Active:
    batches = await asyncio.gather(*(pages.alerts.alerts_in_state(tenant_id, state) for state in ACTIVE))
    return _Active([a for batch in batches for a in batch], any(len(b) >= ALERTS_API_LIMIT for b in batches))


def _most_pressing(alerts: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The highest level first, then the longest open (alerts writes `opened_at` in UTC, so the ISO text
    sorts as the time does). Sorted raw: only the rows shown are then made (bench/portal.py)."""
    return sorted(alerts, key=lambda a: (-int(a.get("level") or 0), str(a.get("opened_at") or "~")))


def _alert_row(tenant: Tenant, alert: Mapping[str, Any], language: Language, pages: Pages) -> dict[str, Any]:
    unit = str(alert.get("unit"))
    names = dict(_dimensions(tenant, str(alert.get("model")), language))
    return {
        "path": f"/t/{tenant.id}/alerts/{alert.get('alert_id')}",
        "unit_name": tenant.org.units[unit].name if unit in tenant.org else unit,
        "dimension_name": names.get(str(alert.get("dimension")), str(alert.get("dimension"))),
        "state": alert.get("state"),
        "level": alert.get("level"),
        "age": age_in_days(alert.get("opened_at"), pages.clock()),
        "acknowledged": bool(alert.get("acknowledged_at")),
        "plan": plan_status(alert),
    }


def _read_out(line: Sparkline, language: Language) -> str:
    words = WORDS[language]
    return "; ".join(
        f"{period} {number(c.index, language) if c.index is not None else words['too_few'] if c.hidden else '–'}"
        for period, c in line.cells
    )


def _grouped(rows: Sequence[Row], tenant: Tenant) -> list[tuple[str, list[Row]]]:
    """Consecutive rows of one förvaltning under its name (the tree order keeps a förvaltning's rows together)."""
    tree = tenant.org
    out: list[tuple[str, list[Row]]] = []
    current: str | bool | None = False
    for row in rows:
        if row.forvaltning != current:
            current = row.forvaltning
            out.append((tree.units[row.forvaltning].name if row.forvaltning else tree.units[tree.root].name, []))
        out[-1][1].append(row)
    return out


def _hidden_row(entry: Mapping[str, Any], tenant: Tenant, language: Language) -> dict[str, Any]:
    """One hidden group in the person's language, from scoring's codes; scoring's English text is not shown."""
    words = WORDS[language]
    tree = tenant.org
    unit = str(entry.get("unit"))
    name = tree.units[unit].name if unit in tree else str(entry.get("unit_name") or unit)
    around_names = [str(p.get("unit_name")) for p in entry.get("protects", []) if p.get("unit_name")]
    around = ", ".join(around_names) or words["the_group_above"]
    minimum = tenant.config.min_group_size
    reasons = [
        words[f"hidden_reason_{r}"].format(min=minimum, around=around)
        for r in entry.get("reasons", {})
        if f"hidden_reason_{r}" in words
    ]
    reach = entry.get("alerts")
    can_alert: bool | None = None
    reach_text = ""
    if isinstance(reach, Mapping):
        can_alert = reach.get("can_alert")
        late = reach.get("periods_to_alert")
        key = (
            "can_alert_late"
            if can_alert is True and late is not None and late > reach.get("needed", 0)
            else f"can_alert_{str(can_alert).lower()}"
        )
        reach_text = words[key].format(
            needed=reach.get("needed"), published=reach.get("published_periods"), measured=reach.get("measured_periods")
        )
    actions = [
        words[f"action_{a.get('action')}"].format(name=name, around=around, min=minimum)
        for a in entry.get("actions", [])
        if f"action_{a.get('action')}" in words
    ]
    return {
        "unit": unit,
        "name": words["group_subtree"].format(name=name) if entry.get("scope") == "subtree" else name,
        "reasons": reasons,
        "hidden_in": words["hidden_in"].format(
            hidden=entry.get("hidden_periods"), measured=entry.get("measured_periods")
        ),
        "can_alert": can_alert,
        "reach": reach_text,
        "actions": actions,
    }
