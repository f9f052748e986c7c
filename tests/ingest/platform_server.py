"""A local stand-in for SurveyMonkey's and Qualtrics' response APIs, served over real HTTP by `serving`.

It answers `GET /v3/surveys/{survey}/responses/{response}/details` (SurveyMonkey, bearer token) and
`GET /API/v3/surveys/{survey}/responses/{response}` (Qualtrics, `X-API-TOKEN`) with the documented
response shapes, and each response can be given a script of answers to play in order: `ok`, an HTTP
status (`429`, `500`, `404`, ...), `429:<seconds>` (with Retry-After), `slow:<seconds>` (answer after
a delay, for timeouts) or `huge`. The error bodies follow the platforms' documented error shapes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SURVEYMONKEY_ERRORS = {
    401: ("1011", "Authorization Error", "The authorization token was not provided."),
    404: ("1020", "Resource Not Found", "There was an error retrieving the requested resource."),
    429: ("1040", "Rate limit reached", "Too many requests were made, try again later."),
    500: ("1050", "Internal Server Error", "Oh bananas! We couldn't process your request."),
}


@dataclass
class FakePlatform:
    surveymonkey_token: str
    qualtrics_token: str
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)  # response id -> the body to answer
    scripts: dict[str, list[str]] = field(default_factory=dict)  # response id -> answers still to play
    requests: list[tuple[str, float]] = field(default_factory=list)  # (response id, monotonic time)

    def asked(self, response_id: str) -> list[float]:
        return [at for rid, at in self.requests if rid == response_id]

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v3/surveys/{survey}/responses/{response}/details", self._surveymonkey),
                Route("/API/v3/surveys/{survey}/responses/{response}", self._qualtrics),
            ]
        )

    async def _surveymonkey(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.surveymonkey_token}":
            return _surveymonkey_error(401)
        return await self._answer(request, _surveymonkey_error)

    async def _qualtrics(self, request: Request) -> Response:
        if request.headers.get("x-api-token") != self.qualtrics_token:
            return _qualtrics_error(401)
        return await self._answer(request, _qualtrics_error)

    async def _answer(self, request: Request, error: Callable[..., Response]) -> Response:
        response_id = request.path_params["response"]
        self.requests.append((response_id, time.monotonic()))
        script = self.scripts.get(response_id)
        step = script.pop(0) if script else "ok"
        if step.startswith("slow:"):
            await asyncio.sleep(float(step.split(":")[1]))
            step = "ok"
        if step == "huge":
            return Response(b"{" + b" " * (5 << 20) + b"}", media_type="application/json")
        if step.startswith("429:"):
            return error(429, {"Retry-After": step.split(":")[1]})
        if step != "ok":
            return error(int(step))
        body = self.responses.get(response_id)
        return JSONResponse(body) if body is not None else error(404)


def _surveymonkey_error(status: int, headers: dict[str, str] | None = None) -> Response:
    error_id, name, message = SURVEYMONKEY_ERRORS.get(status, ("1000", "Error", "Error"))
    body = {
        "error": {
            "id": error_id,
            "name": name,
            "docs": "https://developer.surveymonkey.com/api/v3/#error-codes",
            "message": message,
            "http_status_code": status,
        }
    }
    return JSONResponse(body, status_code=status, headers=headers)


def _qualtrics_error(status: int, headers: dict[str, str] | None = None) -> Response:
    body = {"meta": {"httpStatus": f"{status} - Error", "error": {"errorMessage": "error", "errorCode": f"E{status}"}}}
    return JSONResponse(body, status_code=status, headers=headers)
