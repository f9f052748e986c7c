"""HTTP surface shared by the services: RFC 9457 problem responses and the service ASGI app.

Each service is a FastStream `AsgiFastStream` application (its broker, lifespan, `/healthz`,
`/readyz`, `/metrics`). FastStream routes exact paths only, so everything else (paths with
parameters such as `/v1/tenants/{tenant}/submissions`) falls through to a Starlette router, which
always sits behind bearer-token access control (`tempen_shared.auth`, docs/access.md).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from faststream.asgi import AsgiFastStream
from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from tempen_shared.auth import AccessControl, BearerAuth

PROBLEM_JSON = "application/problem+json"


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def problem(
    status: int,
    title: str,
    detail: str = "",
    *,
    errors: Sequence[dict[str, Any]] = (),
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
) -> Response:
    """An RFC 9457 problem+json response; `errors` lists {field, reason} pairs."""
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = list(errors)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_errors(exc: ValidationError, *, prefix: str = "") -> list[dict[str, str]]:
    """pydantic errors as {field, reason}; never echoes the submitted values."""
    out = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in error["loc"])
        out.append({"field": f"{prefix}{loc}" if prefix else (loc or "(body)"), "reason": error["msg"]})
    return out


async def read_json(request: Request, *, max_bytes: int = 64 << 20) -> Any:
    """The request body as JSON; raises BadRequestError with a problem response on anything else."""
    body = await request.body()
    if len(body) > max_bytes:
        raise BadRequestError(problem(413, "Payload too large", f"the body exceeds {max_bytes} bytes"))
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(
            problem(400, "Malformed JSON", str(exc), errors=[{"field": "(body)", "reason": "not valid JSON"}])
        ) from None


class BadRequestError(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def http_app(routes: Sequence[BaseRoute], *, access: AccessControl) -> Starlette:
    """A service's API router behind `BearerAuth`: every route needs a token, except webhooks."""

    async def bad_request(_request: Request, exc: Exception) -> Response:
        if isinstance(exc, BadRequestError):
            return exc.response
        raise exc

    async def not_found(_request: Request, _exc: Exception) -> Response:
        return problem(404, "Not found", "no such resource")

    async def not_allowed(_request: Request, _exc: Exception) -> Response:
        return problem(405, "Method not allowed")

    return Starlette(
        routes=list(routes),
        exception_handlers={BadRequestError: bad_request, 404: not_found, 405: not_allowed},
        middleware=[Middleware(BearerAuth, access=access)],
    )


class ServiceApp(AsgiFastStream):
    """AsgiFastStream whose unmatched HTTP requests go to a Starlette router instead of a 404.

    The router must come from `http_app`, so that it is behind access control; anything else is refused.
    """

    def __init__(self, *args: Any, http: Starlette, **kwargs: Any) -> None:
        middleware: list[object] = [m.cls for m in http.user_middleware]
        if BearerAuth not in middleware:
            raise TypeError("the service's HTTP router must be built with http_app(), behind access control")
        super().__init__(*args, **kwargs)
        self._http = http

    @property
    def http(self) -> Starlette:
        """The API router: its `routes` are every endpoint behind access control."""
        return self._http

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
            return
        await super().not_found(scope, receive, send)


Check = Callable[[], Awaitable[bool]]


def readiness(checks: dict[str, Check], *, counter: Any = None) -> ASGIApp:
    """`/readyz`: 200 when every dependency answers, else 503 naming the ones that do not.

    Counted in `counter` (the service's `tempen_http_requests_total`) so an operator can alert on
    probes failing, not only on the service being gone.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        results: dict[str, bool] = {}
        for name, check in checks.items():
            try:
                results[name] = await check()
            except Exception:  # noqa: BLE001 - any failure of a dependency means "not ready"
                results[name] = False
        ok = all(results.values())
        status = 200 if ok else 503
        if counter is not None:
            counter.labels("/readyz", scope.get("method", "GET"), str(status)).inc()
        response = JSONResponse({"ready": ok, "checks": results}, status_code=status)
        await response(scope, receive, send)

    return app


def liveness() -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"alive": True})(scope, receive, send)

    return app


def measured(
    metrics: Any, route: str, handler: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    """`handler`, counted and timed per route template in the service's CommonMetrics."""

    async def wrapper(request: Request) -> Response:
        started = time.perf_counter()
        response = await handler(request)
        metrics.http_duration.labels(route).observe(time.perf_counter() - started)
        metrics.http_requests.labels(route, request.method, str(response.status_code)).inc()
        return response

    return wrapper


def operational_routes(*, checks: dict[str, Check], metrics: Any, registry: Any) -> list[tuple[str, ASGIApp]]:
    """`/healthz`, `/readyz` (counted) and `/metrics`: the same on every service."""
    from prometheus_client import make_asgi_app

    return [
        ("/healthz", liveness()),
        ("/readyz", readiness(checks, counter=metrics.http_requests)),
        ("/metrics", make_asgi_app(registry)),
    ]
