"""The HME report: a page of the HME total index and its sub-indices per round for the municipality and
each förvaltning, and the same as a CSV for Kolada. What may be shown, scoring has decided; who sees
which rows, `domain/access.py`'s Viewer (see `domain/hme.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tempen_portal.domain.hme import MAX_ROUNDS, HmeReport, one_decimal, parse_rounds, report_csv, visible_report
from tempen_portal.entrypoints.web import Pages, audit, message, render, signed_in, unavailable
from tempen_portal.ports import UpstreamUnavailableError


def routes(pages: Pages, measured: Callable[[str, Callable[[Request], Awaitable[Response]]], Any]) -> list[Route]:
    async def report_of(request: Request) -> tuple[HmeReport, bool] | Response:
        """The report as this person may see it, or the page that says why not."""
        tenant_id = request.path_params["tenant"]
        viewer = signed_in(pages, request, tenant_id)
        if viewer is None:
            return message(pages, request, "sign_in_needed", status=401)
        if not viewer.is_hr and not viewer.managed:
            return message(pages, request, "hme_no_units", status=403)
        rounds = parse_rounds(request.query_params.get("rounds"))
        if rounds is None:
            return message(pages, request, "hme_bad_rounds", status=400)
        try:
            report = await pages.scores.hme_report(tenant_id, rounds=rounds)
        except UpstreamUnavailableError:
            return unavailable(pages, request)
        if report is None:
            return message(pages, request, "hme_not_configured", status=404)
        return visible_report(report, viewer), viewer.is_hr

    async def page(request: Request) -> Response:
        seen = await report_of(request)
        if isinstance(seen, Response):
            return seen
        report, is_hr = seen
        tenant_id = request.path_params["tenant"]
        rounds = request.query_params.get("rounds")
        return render(
            pages,
            request,
            "hme_report.html",
            report=report,
            is_hr=is_hr,
            csv_path=f"/t/{tenant_id}/report/hme.csv" + (f"?rounds={rounds}" if rounds else ""),
            max_rounds=MAX_ROUNDS,
            one_decimal=one_decimal,
            rounds=int(rounds) if rounds else None,
        )

    async def csv_file(request: Request) -> Response:
        seen = await report_of(request)
        if isinstance(seen, Response):
            return seen
        report, _ = seen
        tenant_id = request.path_params["tenant"]
        audit.info("hme report downloaded", tenant=tenant_id)
        # UTF-8 with a byte-order mark: without it Excel reads a .csv as the system's 8-bit code page.
        body = "\ufeff" + report_csv(report)
        return Response(
            body.encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="hme-{tenant_id}.csv"'},
        )

    page_route, csv_route = "/t/{tenant}/report/hme", "/t/{tenant}/report/hme.csv"
    return [
        Route(csv_route, measured(csv_route, csv_file), methods=["GET"]),
        Route(page_route, measured(page_route, page), methods=["GET"]),
    ]
