"""HTTP surface shared by the services: RFC 9457 problem responses and the service ASGI app.

Each service is a FastStream `AsgiFastStream` application (its broker, lifespan, `/healthz`,
`/readyz`, `/metrics`). FastStream routes exact paths only, so everything else (paths with
parameters such as `/v1/tenants/{tenant}/submissions`) falls through to a Starlette router, which
always sits behind bearer-token access control (`tempen_shared.auth`, docs/access.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from faststream.asgi import AsgiFastStream
from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from tempen_shared.auth import AccessControl, BearerAuth
from tempen_shared.bounds import InputError, parse_json
from tempen_shared.db import OUTAGE_ERRORS

# How long a client should wait before retrying during an outage of the database.
RETRY_AFTER_S = 5

logger = logging.getLogger(__name__)

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


async def read_body(request: Request, *, max_bytes: int) -> bytes:
    """The request body, read no further than `max_bytes`: a larger one is refused with 413 as soon as
    its declared length or the bytes received so far say so, without holding it all in memory."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        if int(declared) <= LINGER_BYTES:
            await _discard(request.stream(), LINGER_BYTES)
        raise BadRequestError(too_large(max_bytes))
    chunks: list[bytes] = []
    received = 0
    stream = request.stream()
    async for chunk in stream:
        received += len(chunk)
        if received > max_bytes:
            await _discard(stream, LINGER_BYTES)
            raise BadRequestError(too_large(max_bytes))
        chunks.append(chunk)
    return b"".join(chunks)


# A client that is still sending when the server answers and closes gets a connection reset instead
# of the answer. So the rest of a body that is too large is read and thrown away, up to this much
# (nginx's "lingering close"); beyond it the connection is closed, which a client sending that much
# without `Expect: 100-continue` cannot avoid.
LINGER_BYTES = 16 << 20


async def _discard(stream: AsyncIterator[bytes], limit: int) -> None:
    discarded = 0
    async for chunk in stream:
        discarded += len(chunk)
        if discarded > limit:
            return


def too_large(limit: int) -> Response:
    return problem(
        413,
        "Payload too large",
        f"the body exceeds {limit} bytes",
        errors=[{"field": "(body)", "reason": f"more than {limit} bytes"}],
    )


def json_problem(exc: InputError, *, title: str = "Malformed JSON") -> Response:
    status = 400 if exc.reason.startswith("not valid JSON") else 422
    return problem(status, title, str(exc), errors=[{"field": exc.field, "reason": exc.reason}])


async def read_json(request: Request, *, max_bytes: int = 1 << 20) -> Any:
    """The request body as JSON within tempen_shared.bounds' limits; raises BadRequestError with a
    problem response on anything else."""
    body = await read_body(request, max_bytes=max_bytes)
    try:
        return parse_json(body)
    except InputError as exc:
        raise BadRequestError(json_problem(exc)) from None


Body = TypeVar("Body", bound=BaseModel)


async def validated_body(
    request: Request, model: type[Body], *, title: str, detail: str = "", max_bytes: int = 1 << 20
) -> Body | Response:
    """The request body (`read_json`) as `model` validates it, or the 422 problem titled `title` that names
    each field and reason (`field_errors`)."""
    try:
        return model.model_validate(await read_json(request, max_bytes=max_bytes))
    except ValidationError as exc:
        return problem(422, title, detail, errors=field_errors(exc))


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

    async def unavailable(request: Request, exc: Exception) -> Response:
        # Reads and writes alike: the transaction rolled back, nothing was half-stored.
        logger.warning("database unavailable during %s %s: %r", request.method, request.url.path, exc)
        return service_unavailable()

    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        BadRequestError: bad_request,
        404: not_found,
        405: not_allowed,
    }
    handlers.update(dict.fromkeys(OUTAGE_ERRORS, unavailable))
    return Starlette(
        routes=list(routes),
        exception_handlers=handlers,
        middleware=[Middleware(BoundedRequest), Middleware(BearerAuth, access=access)],
    )


def service_unavailable(detail: str = "the database is unreachable; nothing was stored") -> Response:
    return problem(503, "Service unavailable", f"{detail}; retry later", headers={"Retry-After": str(RETRY_AFTER_S)})


class BoundedRequest:
    """Refuses a request whose path or query string holds a control character (a NUL cannot reach
    PostgreSQL, and none belongs in an id or a filter), naming the parameter, before any route runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            field = _control_character_in(scope)
            if field is not None:
                response = problem(
                    400,
                    "Invalid request",
                    f"{field} holds a control character",
                    errors=[{"field": field, "reason": "must not contain control characters"}],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _control_character_in(scope: Scope) -> str | None:
    path: str = scope.get("path", "")
    if _has_control(path):
        return "(path)"
    query: bytes = scope.get("query_string", b"")
    if b"%" not in query and not _has_control(query.decode("latin-1")):
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True, errors="replace"):
        if _has_control(name) or _has_control(value):
            return f"query.{name.replace(chr(0), '')}"
    return None


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


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


# True when ready; False, or a reason (a string), when not.
Check = Callable[[], Awaitable[bool | str]]


def readiness(checks: dict[str, Check], *, counter: Any = None) -> ASGIApp:
    """`/readyz`: 200 when every dependency answers, else 503 naming the ones that do not (and why,
    where a check can say: a background task that died, say).

    Counted in `counter` (the service's `tempen_http_requests_total`) so an operator can alert on
    probes failing, not only on the service being gone.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        results: dict[str, bool] = {}
        reasons: dict[str, str] = {}
        for name, check in checks.items():
            try:
                outcome = await check()
            except Exception as exc:  # noqa: BLE001 - any failure of a dependency means "not ready"
                outcome = f"check failed: {exc!r}"[:300]
            results[name] = outcome is True
            if isinstance(outcome, str):
                reasons[name] = outcome
        ok = all(results.values())
        status = 200 if ok else 503
        if counter is not None:
            counter.labels("/readyz", scope.get("method", "GET"), str(status)).inc()
        body: dict[str, Any] = {"ready": ok, "checks": results}
        if reasons:
            body["reasons"] = reasons
        response = JSONResponse(body, status_code=status)
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
