"""SurveyMonkey and Qualtrics webhooks name a response; ingest answers at once and fetches it later.

Through the real ingest app, real PostgreSQL, the real broker and a real local HTTP server standing in
for the platforms' APIs (tests/ingest/platform_server.py): stored once however often the webhook
comes, retried as the platform asks, and dead-lettered with a reason when it cannot be had.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx
import pytest

from tempen_ingest.adapters.fetches import PostgresFetchQueue
from tempen_ingest.app import create_app
from tempen_ingest.ports import FetchKey, PendingFetch, Settlement
from tempen_shared.topics import INTAKE, SUBMISSIONS
from tests.conftest import Infra
from tests.ingest.platform_server import FakePlatform
from tests.ingest.support import (
    QUALTRICS_HEADERS,
    QUALTRICS_TOKEN,
    QUALTRICS_URL,
    SURVEYMONKEY_TOKEN,
    SURVEYMONKEY_URL,
    TENANT,
    count,
    fetch,
    qualtrics_form,
    qualtrics_response,
    set_secrets,
    settings,
    surveymonkey_headers,
    surveymonkey_notice,
    surveymonkey_response,
)
from tests.support import eventually, free_port, read_all, read_topic, serving

pytestmark = pytest.mark.integration

FAST = {"fetch_backoff_s": 0.05, "fetch_idle_s": 0.05, "fetch_timeout_s": 2.0, "fetch_max_attempts": 3}


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)


@pytest.fixture
def platform() -> FakePlatform:
    return FakePlatform(surveymonkey_token=SURVEYMONKEY_TOKEN, qualtrics_token=QUALTRICS_TOKEN)


def _config(source: Path, target: Path, *, surveymonkey: str, qualtrics: str) -> Path:
    """The test config, its SurveyMonkey and Qualtrics mappings pointed at the given API base URLs."""
    shutil.copytree(source, target)
    for name, url in (("surveymonkey", surveymonkey), ("qualtrics", qualtrics)):
        path = target / "mappings" / TENANT / f"test-puls-{name}.yaml"
        path.write_text(re.sub(r"base_url: .*", f"base_url: {url}", path.read_text()), encoding="utf-8")
    return target


@asynccontextmanager
async def _ingest(
    infra: Infra, database_url: str, topic_prefix: str, config: Path, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(infra, database_url, topic_prefix, config, **{**FAST, **overrides}))
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        yield http


async def _state(database_url: str, response_id: str) -> tuple[str, int, str | None] | None:
    rows = await fetch(
        database_url,
        "SELECT state, attempts, last_error FROM ingest.response_fetches WHERE response_id = $1",
        response_id,
    )
    return (rows[0]["state"], rows[0]["attempts"], rows[0]["last_error"]) if rows else None


async def _settled(database_url: str, response_id: str) -> tuple[str, int, str | None]:
    async def settled() -> tuple[str, int, str | None] | None:
        state = await _state(database_url, response_id)
        return state if state is not None and state[0] != "pending" else None

    result: tuple[str, int, str | None] = await eventually(settled)
    return result


async def test_a_surveymonkey_callback_is_answered_at_once_and_its_response_stored_and_published_once(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, platform: FakePlatform, tmp_path: Path
) -> None:
    platform.responses["118000000101"] = surveymonkey_response("118000000101")
    platform.scripts["118000000101"] = ["slow:1.0"]  # the platform is slow; the webhook must not wait for it
    body = surveymonkey_notice("118000000101")
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(serving(platform.app()))
        config = _config(fixture_config, tmp_path / "config", surveymonkey=api, qualtrics=api)
        http = await stack.enter_async_context(_ingest(infra, database_url, topic_prefix, config))
        check = await http.head(SURVEYMONKEY_URL)
        started = time.monotonic()
        first = await http.post(SURVEYMONKEY_URL, content=body, headers=surveymonkey_headers(body))
        answered_in = time.monotonic() - started
        again = surveymonkey_notice("118000000101")  # SurveyMonkey sends it again, with another event id
        repeat = await http.post(SURVEYMONKEY_URL, content=again, headers=surveymonkey_headers(again))
        settled = await _settled(database_url, "118000000101")
        (record,) = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}", count=1)
        later = await http.post(SURVEYMONKEY_URL, content=again, headers=surveymonkey_headers(again))
        metrics = (await http.get("/metrics")).text

    assert check.status_code == 200, "SurveyMonkey creates a webhook only if its URL answers HEAD with 200"
    assert (first.status_code, first.json()) == (202, {"delivery_id": "118000000101", "results": [], "queued": True})
    assert answered_in < 1.0, f"the webhook waited {answered_in:.2f} s for the platform"
    for redelivered in (repeat, later):
        assert redelivered.status_code == 200
        assert redelivered.json()["ignored"] == "this response was received before"
    assert settled == ("done", 0, None)
    assert len(platform.asked("118000000101")) == 1, "fetched once, however often the webhook came"
    assert await count(database_url, "submissions") == 1
    event = record["value"]
    assert (event["submission_id"], event["answers"], event["unit"]) == (
        "118000000101",
        {"q1": 4, "q2": 5, "q3": 3},
        "grupp-a1",
    )
    assert event["respondent"].startswith("p-")
    comments = await fetch(database_url, "SELECT question, text FROM ingest.comments")
    assert [tuple(c) for c in comments] == [("701000003", "Mer tid för planering")]
    assert 'tempen_response_fetches_total{outcome="stored",platform="surveymonkey"} 1.0' in metrics
    assert 'tempen_background_task_up{task="response_fetcher"} 1.0' in metrics


async def test_a_forged_or_unsigned_callback_is_refused_and_queues_nothing(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, platform: FakePlatform, tmp_path: Path
) -> None:
    body = surveymonkey_notice("118000000102")
    forged = body.replace(b"118000000102", b"118000000103")
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(serving(platform.app()))
        config = _config(fixture_config, tmp_path / "config", surveymonkey=api, qualtrics=api)
        http = await stack.enter_async_context(_ingest(infra, database_url, topic_prefix, config))
        bad = await http.post(SURVEYMONKEY_URL, content=forged, headers=surveymonkey_headers(body))
        unsigned = await http.post(SURVEYMONKEY_URL, content=body, headers={"content-type": "application/json"})
        q_unsigned = await http.post(
            QUALTRICS_URL, content=qualtrics_form("R_unsigned", signed=False), headers=QUALTRICS_HEADERS
        )
        q_forged = await http.post(
            QUALTRICS_URL, content=qualtrics_form("R_forged", shared_key="guess"), headers=QUALTRICS_HEADERS
        )
    assert (bad.status_code, bad.json()["errors"]) == (401, [{"field": "signature", "reason": "bad_signature"}])
    assert (unsigned.status_code, unsigned.json()["errors"][0]["reason"]) == (401, "missing_header")
    assert (q_unsigned.status_code, q_unsigned.json()["errors"][0]["reason"]) == (401, "missing_header")
    assert (q_forged.status_code, q_forged.json()["errors"][0]["reason"]) == (401, "bad_signature")
    assert await count(database_url, "response_fetches") == 0
    assert platform.requests == []


async def test_rate_limits_and_server_errors_are_retried_as_the_platform_asks(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, platform: FakePlatform, tmp_path: Path
) -> None:
    platform.responses["118000000104"] = surveymonkey_response("118000000104")
    platform.scripts["118000000104"] = ["429:1", "500", "ok"]
    body = surveymonkey_notice("118000000104")
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(serving(platform.app()))
        config = _config(fixture_config, tmp_path / "config", surveymonkey=api, qualtrics=api)
        http = await stack.enter_async_context(_ingest(infra, database_url, topic_prefix, config))
        queued = await http.post(SURVEYMONKEY_URL, content=body, headers=surveymonkey_headers(body))
        settled = await _settled(database_url, "118000000104")
        metrics = (await http.get("/metrics")).text

    assert queued.status_code == 202
    assert settled[:2] == ("done", 2), "two failed attempts, then stored"
    asked = platform.asked("118000000104")
    assert len(asked) == 3
    assert asked[1] - asked[0] >= 1.0, "Retry-After: 1 was honoured"
    assert await count(database_url, "submissions") == 1
    assert 'tempen_response_fetches_total{outcome="retried",platform="surveymonkey"} 2.0' in metrics
    assert 'tempen_response_fetch_failures_total{platform="surveymonkey",reason="http_429"} 1.0' in metrics


async def test_an_unreachable_platform_is_dead_lettered_with_its_reason_and_the_fetcher_goes_on(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, platform: FakePlatform, tmp_path: Path
) -> None:
    platform.responses["R_1TestPulsResp0105"] = qualtrics_response("R_1TestPulsResp0105")
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    body = surveymonkey_notice("118000000105")
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(serving(platform.app()))
        config = _config(fixture_config, tmp_path / "config", surveymonkey=down, qualtrics=api)
        http = await stack.enter_async_context(_ingest(infra, database_url, topic_prefix, config))
        queued = await http.post(SURVEYMONKEY_URL, content=body, headers=surveymonkey_headers(body))
        missing = await http.post(
            QUALTRICS_URL, content=qualtrics_form("R_1TestPulsResp0404"), headers=QUALTRICS_HEADERS
        )
        fine = await http.post(QUALTRICS_URL, content=qualtrics_form("R_1TestPulsResp0105"), headers=QUALTRICS_HEADERS)
        unreachable = await _settled(database_url, "118000000105")
        not_found = await _settled(database_url, "R_1TestPulsResp0404")
        stored = await _settled(database_url, "R_1TestPulsResp0105")
        letters = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{INTAKE.dead_letters}", count=2)
        (published,) = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}", count=1)

    assert [r.status_code for r in (queued, missing, fine)] == [202, 202, 202]
    assert unreachable[:2] == ("dead", 2)
    assert unreachable[2] is not None
    assert unreachable[2].startswith("fetch_unreachable: ConnectError (attempt 3)")
    assert not_found[:2] == ("dead", 0), "a 404 is not asked again"
    assert stored[0] == "done"
    by_response = {letter["value"]["value"]: letter for letter in letters}
    assert {letter["value"]["reason"] for letter in letters} == {"fetch_unreachable", "fetch_http_404"}
    for letter in letters:
        value = letter["value"]
        assert (value["partition"], value["consumer"], letter["key"]) == (-1, "ingest-fetcher", TENANT.encode())
        assert value["source_topic"] == f"{topic_prefix}{INTAKE.name}"
    assert any('"response_id":"118000000105"' in raw for raw in by_response)
    assert {letter["value"]["detail"] for letter in letters} == {
        "ConnectError (attempt 3); the platform's API did not give the response; queue it again once it does",
        "the platform answered HTTP 404 (attempt 1); the platform has no such response (deleted?)",
    }
    assert published["value"]["submission_id"] == "R_1TestPulsResp0105"
    assert await count(database_url, "submissions") == 1


async def test_unfinished_responses_are_skipped_and_unmappable_ones_dead_lettered(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, platform: FakePlatform, tmp_path: Path
) -> None:
    platform.responses["118000000106"] = surveymonkey_response("118000000106", status="partial")
    platform.responses["118000000107"] = surveymonkey_response("118000000107", choice="3")
    platform.responses["R_1TestPulsResp0108"] = qualtrics_response("R_1TestPulsResp0108", finished=0)
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(serving(platform.app()))
        config = _config(fixture_config, tmp_path / "config", surveymonkey=api, qualtrics=api)
        http = await stack.enter_async_context(_ingest(infra, database_url, topic_prefix, config))
        for response_id in ("118000000106", "118000000107"):
            body = surveymonkey_notice(response_id)
            assert (await http.post(SURVEYMONKEY_URL, content=body, headers=surveymonkey_headers(body))).is_success
        form = qualtrics_form("R_1TestPulsResp0108")
        assert (await http.post(QUALTRICS_URL, content=form, headers=QUALTRICS_HEADERS)).is_success
        partial = await _settled(database_url, "118000000106")
        unmappable = await _settled(database_url, "118000000107")
        unfinished = await _settled(database_url, "R_1TestPulsResp0108")
        (letter,) = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{INTAKE.dead_letters}", count=1)

    assert partial == ("skipped", 0, "unfinished")
    assert unfinished == ("skipped", 0, "unfinished")
    assert unmappable[0] == "dead"
    assert (letter["value"]["reason"], letter["value"]["detail"]) == (
        "delivery_unmapped_answer",
        "701000001: unmapped_answer; fix the mapping or the survey, then queue it again",
    )
    assert await count(database_url, "submissions") == 0


async def test_a_signed_qualtrics_event_is_fetched_with_the_api_token_and_stored(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, platform: FakePlatform, tmp_path: Path
) -> None:
    platform.responses["R_1TestPulsResp0109"] = qualtrics_response("R_1TestPulsResp0109")
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(serving(platform.app()))
        config = _config(fixture_config, tmp_path / "config", surveymonkey=api, qualtrics=api)
        http = await stack.enter_async_context(_ingest(infra, database_url, topic_prefix, config))
        check = await http.get(QUALTRICS_URL)
        form = qualtrics_form("R_1TestPulsResp0109")
        queued = await http.post(QUALTRICS_URL, content=form, headers=QUALTRICS_HEADERS)
        settled = await _settled(database_url, "R_1TestPulsResp0109")
        (record,) = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}", count=1)
    assert check.status_code == 200
    assert queued.status_code == 202
    assert settled == ("done", 0, None)
    assert record["value"]["answers"] == {"q1": 4, "q2": 5, "q3": 3}


async def test_a_fetch_whose_process_died_is_taken_again_after_its_lease_and_stored_once(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, platform: FakePlatform, tmp_path: Path
) -> None:
    platform.responses["118000000110"] = surveymonkey_response("118000000110")
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(serving(platform.app()))
        config = _config(fixture_config, tmp_path / "config", surveymonkey=api, qualtrics=api)
        async with _ingest(infra, database_url, topic_prefix, config):
            pass  # the schema is in place
        # A replica queued the response, took it for 2 s and died before it stored anything.
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
        try:
            queue = PostgresFetchQueue(pool)
            key = FetchKey(TENANT, "surveymonkey", "118000000110")
            await queue.enqueue(PendingFetch(key, "test-puls-surveymonkey", "405123456"))
            assert [p.key for p in await queue.claim(limit=5, lease_s=2.0)] == [key]
        finally:
            await pool.close()
        died = time.monotonic()
        await stack.enter_async_context(_ingest(infra, database_url, topic_prefix, config))
        settled = await _settled(database_url, "118000000110")
        records = await read_all(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}")

    (asked,) = platform.asked("118000000110")
    assert asked - died >= 1.5, "not taken while another replica's lease held it"
    assert settled == ("done", 0, None)
    assert [r["value"]["submission_id"] for r in records] == ["118000000110"]


async def test_settled_fetches_are_forgotten_after_the_delivery_memory_but_dead_ones_are_kept(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, platform: FakePlatform, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(serving(platform.app()))
        config = _config(fixture_config, tmp_path / "config", surveymonkey=api, qualtrics=api)
        async with _ingest(infra, database_url, topic_prefix, config):
            pass  # the schema is in place
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        queue = PostgresFetchQueue(pool)
        keys = {state: FetchKey(TENANT, "surveymonkey", f"11800000030{n}") for n, state in enumerate(STATES)}
        for state, key in keys.items():
            await queue.enqueue(PendingFetch(key, "test-puls-surveymonkey", "405123456"))
            if state != "pending":
                await queue.settle(Settlement(key, state, None))
        kept_while_recent = await queue.prune(before=datetime.now(UTC) - timedelta(days=7))
        pruned = await queue.prune(before=datetime.now(UTC) + timedelta(seconds=1))
        rows = await pool.fetch("SELECT response_id, state FROM ingest.response_fetches ORDER BY response_id")
    finally:
        await pool.close()
    assert (kept_while_recent, pruned) == (0, 2)
    assert [(r["response_id"], r["state"]) for r in rows] == [
        (keys["pending"].response_id, "pending"),
        (keys["dead"].response_id, "dead"),
    ]


STATES: tuple[Literal["pending", "done", "skipped", "dead"], ...] = ("pending", "done", "skipped", "dead")


DOCS = Path(__file__).parents[3] / "docs" / "platforms.md"


async def test_a_dead_lettered_response_queued_again_as_the_docs_say_is_fetched_and_stored(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, platform: FakePlatform, tmp_path: Path
) -> None:
    (requeue,) = re.findall(r'psql "\$DATABASE_URL" -c "(.*?)"', DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    body = surveymonkey_notice("118000000111")
    async with AsyncExitStack() as stack:
        api = await stack.enter_async_context(serving(platform.app()))
        config = _config(fixture_config, tmp_path / "config", surveymonkey=api, qualtrics=api)
        http = await stack.enter_async_context(_ingest(infra, database_url, topic_prefix, config))
        await http.post(SURVEYMONKEY_URL, content=body, headers=surveymonkey_headers(body))
        dead = await _settled(database_url, "118000000111")  # not there yet: 404
        platform.responses["118000000111"] = surveymonkey_response("118000000111")
        await fetch(database_url, requeue.replace("'hjo'", f"'{TENANT}'"))
        done = await _settled(database_url, "118000000111")
    assert dead[0] == "dead"
    assert done == ("done", 0, None)
    assert len(platform.asked("118000000111")) == 2
    assert await count(database_url, "submissions") == 1
