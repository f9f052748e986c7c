"""Survey platforms' APIs over HTTP: one GET per response, its failures sorted into retry or give up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from tempen_ingest.ports import FetchFailedError
from tempen_shared.clock import Clock, utc_now

MAX_RESPONSE_BYTES = 4 << 20  # SurveyMonkey caps a survey at 1,000 questions; one response is far smaller
PERMANENT = frozenset({400, 401, 403, 404, 405, 410, 413, 422})
# SurveyMonkey's quota headers (public_api_docs, includes/_overview.md, "Headers"): when a window's
# remaining count is 0, its reset is the seconds until requests are accepted again.
_QUOTA_WINDOWS = (
    ("X-Ratelimit-App-Global-Day-Remaining", "X-Ratelimit-App-Global-Day-Reset"),
    ("X-Ratelimit-App-Global-Minute-Remaining", "X-Ratelimit-App-Global-Minute-Reset"),
)


class HttpResponseSource:
    def __init__(self, *, timeout_s: float, clock: Clock = utc_now, user_agent: str = "tempen-ingest") -> None:
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._clock = clock
        self._user_agent = user_agent

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(self, url: str, headers: Mapping[str, str]) -> bytes:
        try:
            async with self._client.stream("GET", url, headers={**headers, "User-Agent": self._user_agent}) as reply:
                if reply.status_code != 200:
                    raise _refused(reply, self._clock())
                body = bytearray()
                async for chunk in reply.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_RESPONSE_BYTES:
                        raise FetchFailedError(
                            "too_large", f"the response is over {MAX_RESPONSE_BYTES} bytes", permanent=True
                        )
                return bytes(body)
        except httpx.TimeoutException as exc:
            raise FetchFailedError("timeout", type(exc).__name__, permanent=False) from exc
        except httpx.HTTPError as exc:
            raise FetchFailedError("unreachable", type(exc).__name__, permanent=False) from exc


def _refused(reply: httpx.Response, now: datetime) -> FetchFailedError:
    status = reply.status_code
    detail = f"the platform answered HTTP {status}"
    if status == 429 or status == 503:
        return FetchFailedError(
            f"http_{status}", detail, permanent=False, retry_after_s=retry_after(reply.headers, now)
        )
    if status in PERMANENT or (300 <= status < 500 and status not in (408, 425)):
        return FetchFailedError(f"http_{status}", detail, permanent=True)
    return FetchFailedError("http_5xx" if status >= 500 else f"http_{status}", detail, permanent=False)


def retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds until the platform accepts requests again: `Retry-After` (seconds or an HTTP date), else
    an exhausted SurveyMonkey quota's reset; None when it does not say."""
    lowered = {name.lower(): value for name, value in headers.items()}
    value = lowered.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, (when.replace(tzinfo=when.tzinfo or UTC) - now).total_seconds())
    for remaining, reset in _QUOTA_WINDOWS:
        if lowered.get(remaining.lower(), "").strip() == "0" and lowered.get(reset.lower(), "").strip().isdigit():
            return float(lowered[reset.lower()])
    return None
