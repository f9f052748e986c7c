"""The portal's HTTP clients of alerts and scoring against a real local server: an answer the portal has
no meaning for (a tenant the service does not know yet, a refused parameter) is "unavailable", which the
pages turn into a 503 with Retry-After, never an unhandled error and a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tempen_portal.adapters.api import HttpAlertsApi, HttpScoresApi
from tempen_portal.ports import UpstreamUnavailableError
from tests.portal.test_pages import NOW
from tests.support import serving


@pytest.fixture(params=[404, 400])
async def refusing(request: pytest.FixtureRequest) -> AsyncIterator[tuple[HttpAlertsApi, HttpScoresApi]]:
    status: int = request.param

    async def answer(_request: Request) -> JSONResponse:
        return JSONResponse({"title": "refused"}, status_code=status, media_type="application/problem+json")

    app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])
    async with serving(app) as url:
        alerts = HttpAlertsApi(url, "token", timeout_s=5.0)
        scores = HttpScoresApi(url, "token", timeout_s=5.0)
        try:
            yield alerts, scores
        finally:
            await alerts.aclose()
            await scores.aclose()


def _calls(alerts: HttpAlertsApi, scores: HttpScoresApi) -> dict[str, Callable[[], Awaitable[Any]]]:
    return {
        "revoked_links": lambda: alerts.revoked_links("okänd", since=NOW - timedelta(hours=8)),
        "alerts_in_state": lambda: alerts.alerts_in_state("okänd", "open"),
        "hidden_units": lambda: scores.hidden_units("okänd", model="test-model"),
        "tenant_scores": lambda: scores.tenant_scores(
            "okänd", model="test-model", period=None, periods=6, scope="unit", units=None
        ),
    }


async def test_an_unexpected_refusal_is_unavailable_not_an_error(
    refusing: tuple[HttpAlertsApi, HttpScoresApi],
) -> None:
    not_unavailable = []
    for name, call in _calls(*refusing).items():
        try:
            await call()
        except UpstreamUnavailableError:
            continue
        except Exception as exc:  # noqa: BLE001 - the test reports which call let what through
            not_unavailable.append(f"{name}: {exc!r}")
        else:
            not_unavailable.append(f"{name}: answered")
    assert not not_unavailable
