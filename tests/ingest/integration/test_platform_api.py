"""The HTTP adapter for platforms' APIs against a real local server: what is retried, what is given up,
and how long the platform asked us to wait."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tempen_ingest.adapters.platform_api import HttpResponseSource, retry_after
from tempen_ingest.ports import FetchFailedError
from tests.ingest.platform_server import FakePlatform
from tests.support import free_port, serving

pytestmark = pytest.mark.integration
PATH = "/v3/surveys/405123456/responses/{}/details"
AUTH = {"Authorization": "Bearer good"}


@pytest.fixture
async def platform() -> FakePlatform:
    return FakePlatform(surveymonkey_token="good", qualtrics_token="good")


async def _get(base: str, response_id: str, *, headers: dict[str, str] = AUTH, timeout_s: float = 2.0) -> bytes:
    source = HttpResponseSource(timeout_s=timeout_s)
    try:
        return await source.get(base + PATH.format(response_id), headers)
    finally:
        await source.aclose()


async def test_a_response_is_the_body_and_each_failure_is_sorted_into_retry_or_give_up(platform: FakePlatform) -> None:
    platform.responses["1"] = {"id": "1"}
    platform.scripts.update({"2": ["429:7"], "3": ["500"], "4": ["404"], "5": ["slow:1.5"], "6": ["huge"]})
    async with serving(platform.app()) as base:
        assert await _get(base, "1") == b'{"id":"1"}'
        failures: dict[str, FetchFailedError] = {}
        for response_id in ("2", "3", "4", "5", "6"):
            with pytest.raises(FetchFailedError) as failed:
                await _get(base, response_id, timeout_s=0.5)
            failures[response_id] = failed.value
        with pytest.raises(FetchFailedError) as unauthorised:
            await _get(base, "1", headers={"Authorization": "Bearer wrong"})

    summary = {rid: (f.reason, f.permanent, f.retry_after_s) for rid, f in failures.items()}
    assert summary == {
        "2": ("http_429", False, 7.0),
        "3": ("http_5xx", False, None),
        "4": ("http_404", True, None),
        "5": ("timeout", False, None),
        "6": ("too_large", True, None),
    }
    assert (unauthorised.value.reason, unauthorised.value.permanent) == ("http_401", True)


async def test_a_platform_nobody_answers_for_is_unreachable_and_retried() -> None:
    with pytest.raises(FetchFailedError) as failed:
        await _get(f"http://127.0.0.1:{free_port()}", "1")
    assert (failed.value.reason, failed.value.permanent) == ("unreachable", False)


NOW = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "30"}, 30.0),
        ({"Retry-After": "Mon, 02 Mar 2026 09:02:00 GMT"}, 120.0),
        ({"Retry-After": "Mon, 02 Mar 2026 08:00:00 GMT"}, 0.0),
        ({"X-Ratelimit-App-Global-Minute-Remaining": "0", "X-Ratelimit-App-Global-Minute-Reset": "41"}, 41.0),
        ({"X-Ratelimit-App-Global-Day-Remaining": "0", "X-Ratelimit-App-Global-Day-Reset": "5000"}, 5000.0),
        ({"X-Ratelimit-App-Global-Minute-Remaining": "3", "X-Ratelimit-App-Global-Minute-Reset": "41"}, None),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_how_long_the_platform_asks_us_to_wait(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(headers, NOW) == seconds
