from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from tempen_ingest.app import create_app
from tempen_ingest.config import IngestSettings
from tempen_shared.topics import INTAKE, SUBMISSIONS
from tests.auth.helpers import admin_headers
from tests.conftest import Infra
from tests.ingest.support import published_revisions
from tests.support import read_topic, serving

pytestmark = pytest.mark.integration

YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)


def _settings(infra: Infra, database_url: str, topic_prefix: str, config: Path) -> IngestSettings:
    return IngestSettings(
        KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
        DATABASE_URL=database_url,
        TEMPEN_CONFIG_DIR=config,
        TEMPEN_TOPIC_PREFIX=topic_prefix,
        TEMPEN_KAFKA_SESSION_TIMEOUT_MS=2000,
        TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS=300,
    )


def _submission(sid: str, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "instrument": "test-puls",
        "unit": "grupp-a1",
        "submission_id": sid,
        "submitted_at": YESTERDAY.isoformat(),
        "answers": {"q1": 4, "q2": 5, "q3": 6},
        "respondent": "employee-4711",
    }
    body.update(overrides)
    return body


async def test_valid_submission_is_stored_and_published_keyed_by_tenant(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(_settings(infra, database_url, topic_prefix, fixture_config))
    headers = await admin_headers(database_url)  # an admin token: these tests are about ingest, not access
    async with serving(app) as base, httpx.AsyncClient(base_url=base, headers=headers) as http:
        response = await http.post("/v1/tenants/testkommun/submissions", json=_submission("s-1"))
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "accepted"
        records = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}", count=1)
    assert len(records) == 1
    event = records[0]["value"]
    assert records[0]["key"] == b"testkommun", "one scoring replica owns a tenant's whole tree"
    assert event["submission_id"] == "s-1"
    assert event["revision"] == 1
    assert event["respondent"].startswith("p-")  # pseudonymised before storing or publishing
    assert "employee-4711" not in str(records[0])


async def test_redelivery_is_a_duplicate_and_a_changed_answer_is_a_correction(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(_settings(infra, database_url, topic_prefix, fixture_config))
    headers = await admin_headers(database_url)  # an admin token: these tests are about ingest, not access
    async with serving(app) as base, httpx.AsyncClient(base_url=base, headers=headers) as http:
        first = await http.post("/v1/tenants/testkommun/submissions", json=_submission("s-2"))
        again = await http.post("/v1/tenants/testkommun/submissions", json=_submission("s-2"))
        changed = await http.post(
            "/v1/tenants/testkommun/submissions", json=_submission("s-2", answers={"q1": 1, "q2": 1, "q3": 1})
        )
        topic = f"{topic_prefix}{SUBMISSIONS.name}"
        revisions = await published_revisions(infra.bootstrap_servers, topic, "s-2", last=2)
    assert [r.json()["status"] for r in (first, again, changed)] == ["accepted", "duplicate", "corrected"]
    assert revisions in ([1, 2], [2]), "the duplicate published nothing; revision 1 only if read before the correction"


async def test_invalid_submission_gets_problem_json_naming_each_field_and_nothing_is_stored(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(_settings(infra, database_url, topic_prefix, fixture_config))
    bad = _submission(
        "s-3",
        unit="no-such-unit",
        answers={"q1": 9, "zz": 3},
        submitted_at=(datetime.now(UTC) + timedelta(days=2)).isoformat(),
    )
    headers = await admin_headers(database_url)  # an admin token: these tests are about ingest, not access
    async with serving(app) as base, httpx.AsyncClient(base_url=base, headers=headers) as http:
        response = await http.post("/v1/tenants/testkommun/submissions", json=bad)
        malformed = await http.post(
            "/v1/tenants/testkommun/submissions", content=b"{not json", headers={"content-type": "application/json"}
        )
        missing = await http.post("/v1/tenants/testkommun/submissions", json={"unit": "grupp-a1"})
        unknown_tenant = await http.post("/v1/tenants/nowhere/submissions", json=_submission("s-4"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"unit", "answers.q1", "answers.zz", "submitted_at"}
    assert malformed.status_code == 400
    assert missing.status_code == 422
    assert {"instrument", "submission_id", "submitted_at", "answers"} <= {e["field"] for e in missing.json()["errors"]}
    assert unknown_tenant.status_code == 404
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM ingest.submissions") == 0
        assert await conn.fetchval("SELECT count(*) FROM ingest.outbox") == 0
    finally:
        await conn.close()


async def test_batch_reports_a_status_per_item_and_refuses_more_than_the_limit(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    settings = _settings(infra, database_url, topic_prefix, fixture_config).model_copy(update={"max_batch_items": 3})
    app = create_app(settings)
    batch = [_submission("b-1"), _submission("b-2", answers={"q1": 0}), _submission("b-1")]
    ndjson = b"\n".join(httpx.Response(200, json=item).content for item in [_submission("b-3"), _submission("b-4")])
    headers = await admin_headers(database_url)  # an admin token: these tests are about ingest, not access
    async with serving(app) as base, httpx.AsyncClient(base_url=base, headers=headers) as http:
        response = await http.post("/v1/tenants/testkommun/submissions", json=batch)
        too_many = await http.post("/v1/tenants/testkommun/submissions", json=[_submission(f"x{i}") for i in range(4)])
        lines = await http.post(
            "/v1/tenants/testkommun/submissions", content=ndjson, headers={"content-type": "application/x-ndjson"}
        )
    assert response.status_code == 202
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "rejected", "duplicate"]
    assert response.json()["results"][1]["errors"][0]["field"] == "answers.q1"
    assert too_many.status_code == 413
    assert lines.status_code == 202
    assert lines.json()["counts"]["accepted"] == 2


async def test_canonical_csv_gets_a_result_per_row_with_its_line_and_a_file_that_is_not_csv_stores_nothing(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    # Five lines below the header, the blank one included: blank lines count toward the limit.
    settings = _settings(infra, database_url, topic_prefix, fixture_config).model_copy(update={"max_batch_items": 5})
    app = create_app(settings)
    when = YESTERDAY.isoformat()
    csv_body = (
        "\ufeffsubmission_id;unit;submitted_at;instrument;q1;q2;q3\r\n"
        f"c-1;grupp-a1;{when};test-puls;4;5;6\r\n"
        "\r\n"  # a blank line is no row
        f"c-2;grupp-a1;{when};test-puls;4,0;fyra;6\r\n"  # a decimal comma is a whole number; a word is not
        f"c-3;grupp-a1;{when};test-puls;0;5;6\r\n"  # outside the scale: ingest's own validation
        f"c-1;grupp-a1;{when};test-puls;4;5;6\r\n"
    ).encode()
    one_more = f"c-9;grupp-a1;{when};test-puls;4;5;6\n".encode()
    latin1 = "submission_id;unit;submitted_at;q1\nå;grupp-a1;x;1\n".encode("latin-1")
    csv_headers = {"content-type": "text/csv; charset=utf-8"}
    headers = await admin_headers(database_url)
    async with serving(app) as base, httpx.AsyncClient(base_url=base, headers=headers) as http:
        url = "/v1/tenants/testkommun/submissions"
        response = await http.post(url, content=csv_body, headers=csv_headers)
        too_many = await http.post(url, content=csv_body + one_more, headers=csv_headers)
        no_header = await http.post(url, content=b"id;unit\nc-5;grupp-a1\n", headers=csv_headers)
        not_utf8 = await http.post(url, content=latin1, headers=csv_headers)
        empty = await http.post(url, content=b"submission_id;unit;submitted_at;q1\n", headers=csv_headers)
        conn = await asyncpg.connect(database_url)
        try:
            stored = await conn.fetchval("SELECT count(*) FROM ingest.submissions")
        finally:
            await conn.close()
    assert response.status_code == 202, response.text
    results = response.json()["results"]
    assert [(r["index"], r["line"], r["submission_id"], r["status"]) for r in results] == [
        (0, 2, "c-1", "accepted"),
        (1, 4, "c-2", "rejected"),
        (2, 5, "c-3", "rejected"),
        (3, 6, "c-1", "duplicate"),
    ]
    assert results[1]["errors"] == [{"field": "answers.q2", "reason": "not a whole number"}]
    assert results[2]["errors"][0]["field"] == "answers.q1"
    assert response.json()["counts"] == {"accepted": 1, "duplicate": 1, "corrected": 0, "rejected": 2, "erased": 0}
    assert too_many.status_code == 413
    assert "at most 5" in too_many.json()["errors"][0]["reason"]
    assert no_header.status_code == 422
    assert no_header.json()["errors"] == [
        {"field": "(body)", "reason": "the CSV header lacks submission_id, submitted_at"}
    ]
    assert not_utf8.status_code == 422
    assert "UTF-8" in not_utf8.json()["errors"][0]["reason"]
    assert empty.status_code == 422
    assert stored == 1, "only the one accepted row; refused files store nothing"


async def test_malformed_intake_record_is_dead_lettered_and_the_valid_one_is_ingested(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    import orjson
    from aiokafka import AIOKafkaProducer

    from tempen_shared.kafka import ensure_topics
    from tempen_shared.topics import all_topic_names

    await ensure_topics(infra.bootstrap_servers, {f"{topic_prefix}{n}": p for n, p in all_topic_names().items()})
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    try:
        intake = f"{topic_prefix}{INTAKE.name}"
        await producer.send_and_wait(intake, b"{not json", key=b"testkommun:grupp-a1")
        await producer.send_and_wait(
            intake, orjson.dumps({**_submission("k-1"), "tenant": "testkommun"}), key=b"testkommun:grupp-a1"
        )
        await producer.send_and_wait(
            intake,
            orjson.dumps({**_submission("k-2", answers={"q1": 42}), "tenant": "testkommun"}),
            key=b"testkommun:grupp-a1",
        )
    finally:
        await producer.stop()
    app = create_app(_settings(infra, database_url, topic_prefix, fixture_config))
    async with serving(app):
        dead = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{INTAKE.name}.dlq", count=2)
        accepted = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}", count=1)
    assert sorted(d["value"]["reason"] for d in dead) == ["malformed", "out_of_scale"]
    assert all(d["value"]["consumer"] == "ingest" for d in dead)
    assert [a["value"]["submission_id"] for a in accepted] == ["k-1"]
