"""Ingest's HTTP API: canonical submissions, single or batch (JSON array or NDJSON)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tempen_ingest.metrics import IngestMetrics
from tempen_ingest.ports import Outcome
from tempen_ingest.service import IngestService, ItemResult
from tempen_shared.db import StoreUnavailableError
from tempen_shared.http import BadRequestError, JSONResponse, problem

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


def routes(service: Callable[[], IngestService], metrics: IngestMetrics, *, max_items: int) -> list[Route]:
    def measured(route: str, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Any]:
        async def wrapper(request: Request) -> Response:
            started = time.perf_counter()
            response = await handler(request)
            metrics.http_duration.labels(route).observe(time.perf_counter() - started)
            metrics.http_requests.labels(route, request.method, str(response.status_code)).inc()
            return response

        return wrapper

    async def post_submissions(request: Request) -> Response:
        svc = service()
        tenant = request.path_params["tenant"]
        if tenant not in svc.catalog.tenants:
            return problem(
                404,
                "Unknown tenant",
                "no tenant with this id is served here",
                errors=[{"field": "tenant", "reason": "unknown tenant"}],
            )
        try:
            items, single = await _read_items(request, max_items=max_items)
        except BadRequestError as exc:
            metrics.rejected.labels("malformed").inc()
            return exc.response
        try:
            results = await svc.submit(items, tenant_id=tenant)
        except StoreUnavailableError:
            return problem(
                503, "Storage unavailable", "the database cannot be reached; retry later", headers={"Retry-After": "5"}
            )
        _count(metrics, results)
        if single:
            result = results[0]
            if result.outcome is Outcome.REJECTED:
                return problem(
                    422,
                    "Invalid submission",
                    "the submission was not stored",
                    errors=[e.as_problem() for e in result.errors],
                )
            return JSONResponse(result.as_json(), status_code=202)
        counts = {o.value: sum(1 for r in results if r.outcome is o) for o in Outcome}
        return JSONResponse({"counts": counts, "results": [r.as_json() for r in results]}, status_code=202)

    return [
        Route(
            "/v1/tenants/{tenant}/submissions",
            measured("/v1/tenants/{tenant}/submissions", post_submissions),
            methods=["POST"],
        )
    ]


def _count(metrics: IngestMetrics, results: list[ItemResult]) -> None:
    for result in results:
        metrics.submissions.labels(result.outcome.value).inc()
        for error in result.errors[:1]:
            metrics.rejected.labels(error.code).inc()


async def _read_items(request: Request, *, max_items: int) -> tuple[list[Any], bool]:
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in NDJSON_TYPES:
        lines = [line for line in body.splitlines() if line.strip()]
        _check_size(len(lines), max_items)
        items: list[Any] = []
        for number, line in enumerate(lines, start=1):
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                raise BadRequestError(
                    problem(
                        400,
                        "Malformed NDJSON",
                        f"line {number} is not valid JSON",
                        errors=[{"field": f"line {number}", "reason": "not valid JSON"}],
                    )
                ) from None
        return items, False
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(
            problem(400, "Malformed JSON", str(exc), errors=[{"field": "(body)", "reason": "not valid JSON"}])
        ) from None
    if isinstance(parsed, list):
        _check_size(len(parsed), max_items)
        if not parsed:
            raise BadRequestError(problem(422, "Empty batch", errors=[{"field": "(body)", "reason": "no submissions"}]))
        return parsed, False
    if isinstance(parsed, dict):
        return [parsed], True
    raise BadRequestError(
        problem(
            422,
            "Invalid body",
            "send a submission object, an array of them, or NDJSON",
            errors=[{"field": "(body)", "reason": "must be an object or an array"}],
        )
    )


def _check_size(count: int, max_items: int) -> None:
    if count > max_items:
        raise BadRequestError(
            problem(
                413,
                "Too many submissions",
                f"{count} submissions in one request; the limit is {max_items}",
                errors=[{"field": "(body)", "reason": f"more than {max_items} items"}],
            )
        )
