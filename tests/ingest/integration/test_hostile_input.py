"""Hostile input against the running ingest (real broker and PostgreSQL), each case one that once
answered 500 or was accepted and then halted scoring: now a 4xx naming the field, the valid items of
a batch stored, nothing half-stored, and a database outage answered 503 with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tempen_ingest.app import create_app
from tests.auth.helpers import admin_headers
from tests.conftest import Infra
from tests.ingest.support import (
    FORMBRICKS_URL,
    TENANT,
    canonical,
    count,
    fetch,
    formbricks_headers,
    set_secrets,
    settings,
)
from tests.support import TcpProxy, proxied_database_url, serving

pytestmark = pytest.mark.integration

SUBMISSIONS_URL = f"/v1/tenants/{TENANT}/submissions"


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)


async def test_one_bad_item_in_a_batch_is_refused_by_name_and_the_valid_ones_are_stored(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    batch = [
        canonical("ok-1"),
        canonical("nul-\u0000-id"),
        canonical("year-1", submitted_at="0001-01-01T00:00:00Z"),
        canonical("year-1-east", submitted_at="0001-01-01T00:00:00+14:00"),
        canonical("year-9999-west", submitted_at="9999-12-31T23:59:59-14:00"),
        canonical("nul-unit", unit="grupp-a1\u0000"),
        canonical("ok-2"),
    ]
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    async with (
        serving(app) as base,
        httpx.AsyncClient(base_url=base, headers=await admin_headers(database_url)) as http,
    ):
        response = await http.post(SUBMISSIONS_URL, json=batch)

    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", *["rejected"] * 5, "accepted"]
    assert [r["errors"][0]["field"] for r in results[1:6]] == [
        "submission_id",
        "submitted_at",
        "submitted_at",
        "submitted_at",
        "unit",
    ]
    assert "2000-01-01" in results[2]["errors"][0]["reason"]
    stored = await fetch(database_url, "SELECT submission_id FROM ingest.submissions ORDER BY submission_id")
    assert [row["submission_id"] for row in stored] == ["ok-1", "ok-2"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"[" * 100_000, 400, "(body)"),
        (b'{"instrument": "test-puls", "answers": {"q1": 1e999}}', 400, "(body)"),
        (b'{"instrument": "test-puls", "answers": {"q1": NaN}}', 400, "(body)"),
        (b'{"unit": "grupp-a1", "submission_id": "\\u0000"}', 422, "submission_id"),
        (b'"\\ud800"', 400, "(body)"),
    ],
    ids=["deep-nesting", "infinite-number", "nan", "nul", "lone-surrogate"],
)
async def test_a_hostile_json_body_gets_a_problem_naming_where_it_breaks_the_limits(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, body: bytes, status: int, field: str
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    headers = await admin_headers(database_url) | {"content-type": "application/json"}
    async with serving(app) as base, httpx.AsyncClient(base_url=base, headers=headers) as http:
        response = await http.post(SUBMISSIONS_URL, content=body)
        ndjson = await http.post(
            SUBMISSIONS_URL,
            content=orjson_line(canonical("fine")) + b"\n" + body,
            headers={"content-type": "application/x-ndjson"},
        )

    assert (response.status_code, response.headers["content-type"]) == (status, "application/problem+json")
    assert field in {e["field"] for e in response.json()["errors"]}
    if status == 422:  # a readable item with a bad field: refused on its own, the rest of the batch stored
        assert ndjson.status_code == 202, ndjson.text
        assert [r["status"] for r in ndjson.json()["results"]] == ["accepted", "rejected"]
        assert await count(database_url, "submissions") == 1
        return
    assert ndjson.status_code == 400, ndjson.text
    assert ndjson.json()["errors"][0]["field"] == "line 2"
    assert await count(database_url, "submissions") == 0


def orjson_line(value: object) -> bytes:
    return httpx.Response(200, json=value).content


async def test_hostile_webhook_bodies_are_refused_before_and_after_the_signature_check(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    deep = b"[" * 100_000
    infinite = (
        b'{"event": "responseFinished", "data": {"id": "r-1", "surveyId": "cmtestsurvey0000puls0001",'
        b' "finished": true, "data": {"unit": "grupp-a1", "uppskattning": 1e999}}}'
    )
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        unsigned_deep = await http.post(FORMBRICKS_URL, content=deep, headers={"content-type": "application/json"})
        signed_deep = await http.post(FORMBRICKS_URL, content=deep, headers=formbricks_headers(deep))
        signed_infinite = await http.post(FORMBRICKS_URL, content=infinite, headers=formbricks_headers(infinite))

    assert unsigned_deep.status_code == 401, unsigned_deep.text  # no credentials, no parsing beyond the limits
    assert signed_deep.status_code == 422, signed_deep.text
    assert signed_infinite.status_code == 422, signed_infinite.text
    assert signed_infinite.json()["errors"] == [{"field": "body", "reason": "malformed"}]
    assert "infinity" in signed_infinite.json()["detail"]
    assert await count(database_url, "submissions") == 0
    assert await count(database_url, "deliveries") == 0


async def test_control_characters_in_the_path_or_the_query_are_refused_naming_the_parameter(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    async with (
        serving(app) as base,
        httpx.AsyncClient(base_url=base, headers=await admin_headers(database_url)) as http,
    ):
        in_path = await http.post(f"/v1/tenants/{TENANT}%00/submissions", json=canonical("p"))
        in_query = await http.post(
            f"/v1/tenants/{TENANT}/admin/org?effective_from=2026-01-01%00&source=x",
            content=b"unit_id,name,parent_id,manager_email\n",
            headers={"content-type": "text/csv"},
        )

    assert (in_path.status_code, in_path.json()["errors"][0]["field"]) == (400, "(path)")
    assert (in_query.status_code, in_query.json()["errors"][0]["field"]) == (400, "query.effective_from")


async def test_a_body_beyond_the_limit_is_refused_without_resetting_the_connection(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config, max_webhook_bytes=1000))

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: only reading can tell the size
        for _ in range(2000):
            yield b"x" * 1000

    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        streamed = await http.post(FORMBRICKS_URL, content=chunked(), headers=formbricks_headers(b""))
        declared = await http.post(FORMBRICKS_URL, content=b"y" * 500_000, headers=formbricks_headers(b""))
        after = await http.post(FORMBRICKS_URL, content=b"{}", headers=formbricks_headers(b"{}"))

    for response in (streamed, declared):
        assert response.status_code == 413, response.text
        assert response.json()["errors"] == [{"field": "(body)", "reason": "more than 1000 bytes"}]
    assert after.status_code == 200, after.text  # the client's next request is answered as usual


async def test_org_files_that_break_the_parsers_limits_are_refused_with_a_reason(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    header = b"unit_id,name,parent_id,manager_name,manager_email\n"
    huge_field = header + b'"' + b"x" * 200_000 + b'",a,,A,a@b.se\n'
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    org = f"/v1/tenants/{TENANT}/admin/org"
    async with (
        serving(app) as base,
        httpx.AsyncClient(base_url=base, headers=await admin_headers(database_url)) as http,
    ):
        deep = await http.post(org, content=b"[" * 100_000, headers={"content-type": "application/json"})
        wide = await http.post(org, content=huge_field, headers={"content-type": "text/csv"})

    assert deep.status_code == 422, deep.text
    assert "depth" in deep.json()["errors"][0]["reason"]
    assert wide.status_code == 422, wide.text
    assert "field larger than field limit" in wide.json()["errors"][0]["reason"]


async def test_reads_and_writes_during_a_database_outage_answer_503_with_retry_after(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    proxy = TcpProxy(*_host_port(database_url))
    await proxy.start()
    headers = await admin_headers(database_url)  # issued directly; the service reaches PostgreSQL via the proxy
    app = create_app(settings(infra, proxied_database_url(database_url, proxy), topic_prefix, fixture_config))
    async with serving(app) as base, httpx.AsyncClient(base_url=base, headers=headers) as http:
        assert (await http.get(f"/v1/tenants/{TENANT}/org")).status_code == 200  # the token is cached now
        await proxy.cut()
        read = await http.get(f"/v1/tenants/{TENANT}/org")
        write = await http.post(SUBMISSIONS_URL, json=canonical("during-outage"))
        await proxy.start()

    for response in (read, write):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"].isdigit()
        assert response.headers["content-type"] == "application/problem+json"
    assert await count(database_url, "submissions") == 0


def _host_port(database_url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(database_url)
    return parts.hostname or "127.0.0.1", parts.port or 5432
