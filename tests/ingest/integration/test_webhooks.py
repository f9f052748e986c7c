"""Platform webhooks on the real broker and PostgreSQL: verified on the raw bytes, replays refused,
stored through the same path as every submission, and published as SubmissionAccepted."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tempen_ingest.app import create_app
from tempen_ingest.domain.webhooks import WEBHOOK_PLATFORMS
from tempen_shared.topics import SUBMISSIONS
from tests.conftest import Infra
from tests.ingest.support import (
    FORMBRICKS_URL,
    KOBO_URL,
    TENANT,
    TYPEFORM_URL,
    count,
    fetch,
    formbricks_body,
    formbricks_headers,
    kobo_body,
    kobo_headers,
    published_revisions,
    set_secrets,
    settings,
    typeform_body,
    typeform_headers,
)
from tests.support import read_all, read_topic, serving

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    set_secrets(monkeypatch)


async def _nothing_stored(database_url: str) -> None:
    assert await count(database_url, "submissions") == 0
    assert await count(database_url, "outbox") == 0
    assert await count(database_url, "deliveries") == 0
    assert await count(database_url, "comments") == 0


async def test_signed_formbricks_response_is_published_and_a_replay_or_a_bad_signature_is_refused(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    body = formbricks_body("resp-fb-1", user="employee-77", comment="Mer fika, tack")
    headers = formbricks_headers(body, msg_id="msg_first")
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        first = await http.post(FORMBRICKS_URL, content=body, headers=headers)
        replay = await http.post(FORMBRICKS_URL, content=body, headers=formbricks_headers(body, msg_id="msg_first"))
        forged = await http.post(
            FORMBRICKS_URL, content=body.replace(b'"uppskattning":4', b'"uppskattning":1'), headers=headers
        )
        unsigned = await http.post(FORMBRICKS_URL, content=body, headers={"content-type": "application/json"})
        records = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}", count=1)

    assert first.status_code == 202, first.text
    assert [r["status"] for r in first.json()["results"]] == ["accepted"]
    assert replay.status_code == 409
    assert replay.headers["content-type"] == "application/problem+json"
    assert (forged.status_code, forged.json()["errors"]) == (401, [{"field": "signature", "reason": "bad_signature"}])
    assert (unsigned.status_code, unsigned.json()["errors"][0]["reason"]) == (401, "missing_header")
    (record,) = records
    event = record["value"]
    assert record["key"] == b"testkommun", "submissions are keyed by tenant"
    assert (event["submission_id"], event["revision"], event["answers"]) == (
        "resp-fb-1",
        1,
        {"q1": 4, "q2": 4, "q3": 5},
    )
    assert event["respondent"].startswith("p-")
    assert "employee-77" not in str(record)
    assert "fika" not in str(record)  # free text never travels in events
    assert await count(database_url, "submissions") == 1
    assert await count(database_url, "outbox") == 0, "the stored row is its own outbox; nothing else to publish"
    (delivery,) = await fetch(database_url, "SELECT tenant, platform, delivery_id FROM ingest.deliveries")
    assert tuple(delivery) == (TENANT, "formbricks", "msg_first")
    comments = await fetch(database_url, "SELECT submission_id, question, text FROM ingest.comments")
    assert [tuple(c) for c in comments] == [("resp-fb-1", "ovrigt", "Mer fika, tack")]  # the test tenant opted in


async def test_a_later_formbricks_event_of_the_same_response_corrects_it(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    finished = formbricks_body("resp-fb-2", answers={"uppskattning": 2})
    updated = formbricks_body(
        "resp-fb-2",
        event="responseUpdated",
        finished=True,
        answers={"uppskattning": 2, "fortroende": "Vet ej", "meningsfullt": 3},
    )
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        first = await http.post(FORMBRICKS_URL, content=finished, headers=formbricks_headers(finished))
        second = await http.post(FORMBRICKS_URL, content=updated, headers=formbricks_headers(updated))
        topic = f"{topic_prefix}{SUBMISSIONS.name}"
        revisions = await published_revisions(infra.bootstrap_servers, topic, "resp-fb-2", last=2)
        records = await read_all(infra.bootstrap_servers, topic)
    assert [r.json()["results"][0]["status"] for r in (first, second)] == ["accepted", "corrected"]
    # The relay publishes each stored row as it is when read: revision 1 only if it read the row
    # before the correction committed. The last revision always, and in order.
    assert revisions in ([1, 2], [2])
    assert records[-1]["value"]["answers"] == {"q1": 2, "q2": 6, "q3": 3}


async def test_an_unfinished_formbricks_response_is_answered_2xx_skipped_with_its_reason_and_not_stored(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    created = formbricks_body("resp-fb-8", event="responseCreated", answers={"uppskattning": 1})
    updated = formbricks_body("resp-fb-8", event="responseUpdated", answers={"uppskattning": 1, "fortroende": "Vet ej"})
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        responses = [
            await http.post(FORMBRICKS_URL, content=body, headers=formbricks_headers(body))
            for body in (created, updated)
        ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert response.json()["results"] == []
        (skipped,) = response.json()["skipped"]
        assert (skipped["response_id"], skipped["reason"]) == ("resp-fb-8", "unfinished")
        assert "count_unfinished" in skipped["detail"]
    assert await count(database_url, "submissions") == 0
    assert await count(database_url, "outbox") == 0


async def test_stale_formbricks_timestamp_is_refused_and_nothing_is_stored(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    body = formbricks_body("resp-fb-3")
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        old = await http.post(FORMBRICKS_URL, content=body, headers=formbricks_headers(body, at=time.time() - 6 * 60))
        ahead = await http.post(FORMBRICKS_URL, content=body, headers=formbricks_headers(body, at=time.time() + 6 * 60))
    assert (old.status_code, old.json()["errors"][0]["reason"]) == (401, "stale_timestamp")
    assert (ahead.status_code, ahead.json()["errors"][0]["reason"]) == (401, "stale_timestamp")
    await _nothing_stored(database_url)


async def test_formbricks_test_ping_is_answered_unsigned_and_stores_nothing(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEMPEN_TEST_FORMBRICKS_SECRET")  # Formbricks shows the secret only after this ping
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        ping = await http.post(FORMBRICKS_URL, content=b'{"event":"testEndpoint"}')
        more = await http.post(FORMBRICKS_URL, content=b'{"event":"testEndpoint","data":{"id":"x"}}')
    assert ping.status_code == 200
    assert ping.json()["ignored"] == "test ping"
    assert more.status_code == 503  # anything but the bare ping needs the secret it does not have yet
    await _nothing_stored(database_url)


async def test_signed_typeform_response_is_published_and_a_replay_or_a_bad_signature_is_refused(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    body = typeform_body("tok-1", event_id="01JEVENT0001", comment="Hemligt")
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        first = await http.post(TYPEFORM_URL, content=body, headers=typeform_headers(body))
        replay = await http.post(TYPEFORM_URL, content=body, headers=typeform_headers(body))
        wrong = await http.post(TYPEFORM_URL, content=body, headers=typeform_headers(body, secret="not-the-secret"))
        records = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}", count=1)
    assert first.status_code == 202, first.text
    assert replay.status_code == 409
    assert (wrong.status_code, wrong.json()["errors"][0]["reason"]) == (401, "bad_signature")
    (record,) = records
    assert (record["value"]["submission_id"], record["value"]["answers"]) == ("tok-1", {"q1": 4, "q2": 4, "q3": 5})
    assert await count(database_url, "submissions") == 1
    assert await count(database_url, "comments") == 0  # this mapping has not opted in to free text
    assert "Hemligt" not in str(await fetch(database_url, "SELECT * FROM ingest.submissions"))


async def test_kobo_submission_with_basic_auth_is_published_and_a_replay_or_a_wrong_password_is_refused(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    body = kobo_body("b7a2c1d4-0000-4000-8000-000000000001")
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        first = await http.post(KOBO_URL, content=body, headers=kobo_headers())
        replay = await http.post(KOBO_URL, content=body, headers=kobo_headers())
        wrong = await http.post(KOBO_URL, content=body, headers=kobo_headers(password="guess"))
        missing = await http.post(KOBO_URL, content=body, headers={"content-type": "application/json"})
        records = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}", count=1)
    assert first.status_code == 202, first.text
    assert replay.status_code == 409
    assert (wrong.status_code, wrong.json()["errors"][0]["reason"]) == (401, "bad_credentials")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Basic")
    (record,) = records
    assert record["key"] == b"testkommun"
    assert record["value"]["answers"] == {"q1": 2, "q2": 3, "q3": 6}
    assert await count(database_url, "submissions") == 1


async def test_deliveries_that_cannot_be_used_get_problem_json_and_nothing_is_stored(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    no_unit = formbricks_body("resp-fb-4", unit="")
    unknown_unit = formbricks_body("resp-fb-5", unit="no-such-unit")
    unmapped = formbricks_body("resp-fb-6", answers={"fortroende": "Kanske"})
    signed = formbricks_body("resp-fb-7")
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        missing_unit = await http.post(FORMBRICKS_URL, content=no_unit, headers=formbricks_headers(no_unit))
        bad_unit = await http.post(FORMBRICKS_URL, content=unknown_unit, headers=formbricks_headers(unknown_unit))
        bad_answer = await http.post(FORMBRICKS_URL, content=unmapped, headers=formbricks_headers(unmapped))
        not_json = await http.post(FORMBRICKS_URL, content=b"{oops", headers=formbricks_headers(b"{oops"))
        unknown_mapping = await http.post(
            f"/v1/tenants/{TENANT}/webhooks/formbricks/no-such-mapping",
            content=signed,
            headers=formbricks_headers(signed),
        )
        wrong_platform = await http.post(
            f"/v1/tenants/{TENANT}/webhooks/typeform/test-puls-formbricks",
            content=signed,
            headers=typeform_headers(signed),
        )
        unknown_tenant = await http.post(
            "/v1/tenants/nowhere/webhooks/formbricks/test-puls-formbricks",
            content=signed,
            headers=formbricks_headers(signed),
        )
    assert (missing_unit.status_code, missing_unit.json()["errors"]) == (
        422,
        [{"field": "unit", "reason": "missing_unit"}],
    )
    assert (bad_unit.status_code, bad_unit.json()["errors"][0]["field"]) == (422, "unit")
    assert (bad_answer.status_code, bad_answer.json()["errors"]) == (
        422,
        [{"field": "fortroende", "reason": "unmapped_answer"}],
    )
    assert (not_json.status_code, not_json.json()["errors"][0]) == (422, {"field": "body", "reason": "malformed"})
    assert unknown_mapping.status_code == wrong_platform.status_code == unknown_tenant.status_code == 404
    for response in (missing_unit, bad_unit, bad_answer, not_json, unknown_mapping, wrong_platform, unknown_tenant):
        assert response.headers["content-type"] == "application/problem+json"
    await _nothing_stored(database_url)


async def test_a_mapping_whose_secret_is_not_set_answers_503_so_the_platform_retries(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEMPEN_TEST_TYPEFORM_SECRET")
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    body = typeform_body("tok-2")
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.post(TYPEFORM_URL, content=body, headers=typeform_headers(body))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "60"
    await _nothing_stored(database_url)


async def test_a_refused_webhook_url_says_what_to_do_instead(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    body = formbricks_body("resp-fb-9")
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        unknown = {
            platform: await http.post(f"/v1/tenants/{TENANT}/webhooks/{platform}/puls", content=body)
            for platform in ("googleforms", "no-such-platform")
        }
        no_mapping = await http.post(
            f"/v1/tenants/{TENANT}/webhooks/formbricks/no-such-mapping", content=body, headers=formbricks_headers(body)
        )
        elsewhere = await http.post(
            f"/v1/tenants/{TENANT}/webhooks/typeform/test-puls-formbricks", content=body, headers=typeform_headers(body)
        )
    for platform, response in unknown.items():
        problem = response.json()
        assert response.status_code == 404
        assert problem["errors"] == [{"field": "platform", "reason": "unknown_platform"}]
        assert platform in problem["detail"]
        assert all(supported in problem["detail"] for supported in WEBHOOK_PLATFORMS)
        assert f"tempen submissions import {TENANT} FILE" in problem["detail"]
        assert "mapping" not in problem["detail"], "no mapping would make these platforms' webhooks work"
    assert no_mapping.status_code == 404
    assert no_mapping.json()["errors"] == [{"field": "mapping_id", "reason": "unknown_mapping"}]
    assert f"create config/mappings/{TENANT}/no-such-mapping.yaml" in no_mapping.json()["detail"]
    assert elsewhere.status_code == 404
    assert elsewhere.json()["errors"] == [{"field": "platform", "reason": "mapping_of_another_platform"}]
    assert f"/v1/tenants/{TENANT}/webhooks/formbricks/test-puls-formbricks" in elsewhere.json()["detail"]
    await _nothing_stored(database_url)


async def test_a_limesurvey_webhook_plugins_post_is_refused_saying_how_to_import_an_export_instead(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    # What the LimeSurveyWebhook plugin (github.com/alexrighetto/LimeSurveyWebhook, triat/LimeSurveyWebhook)
    # posts after afterSurveyComplete: a plain token in the body, no signature.
    plugin_post = (
        b'{"api_token": "secret-in-plain-text", "survey": 123456, "event": "afterSurveyComplete", "respondId": 42,'
        b' "response": {"G01Q01": "A4", "enhet": "grupp-a1"}, "submitDate": "2026-03-04 09:12:45", "token": "t1"}'
    )
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        mapped = await http.post(f"/v1/tenants/{TENANT}/webhooks/limesurvey/test-puls-limesurvey", content=plugin_post)
        unmapped = await http.post(f"/v1/tenants/{TENANT}/webhooks/limesurvey/no-such-mapping", content=plugin_post)
        # A plugin's or a platform's check of the URL gets the same answer as a post: not "200, it exists".
        checked = await http.head(f"/v1/tenants/{TENANT}/webhooks/limesurvey/test-puls-limesurvey")
    assert mapped.status_code == unmapped.status_code == checked.status_code == 405
    assert mapped.headers["allow"] == ""
    assert mapped.headers["content-type"] == "application/problem+json"
    assert mapped.json()["errors"] == [{"field": "platform", "reason": "platform_sends_no_webhooks"}]
    assert "LimeSurvey has no signed webhooks" in mapped.json()["detail"]
    assert mapped.json()["detail"].endswith(
        f"tempen submissions import {TENANT} results-survey123456.csv --format limesurvey-csv "
        "--mapping test-puls-limesurvey"
    )
    assert f"first create config/mappings/{TENANT}/no-such-mapping.yaml" in unmapped.json()["detail"]
    await _nothing_stored(database_url)


async def test_a_typeform_delivery_shaped_as_documented_stores_every_answer_mapped_by_ref(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    body = typeform_body("tok-doc-1", refs_in_definition_only=True)
    assert b'"field":{"id":"fA1","type":"opinion_scale"}' in body  # the answer names no ref
    assert b'"ref":"q_uppskattning"' in body  # the definition does
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        response = await http.post(TYPEFORM_URL, content=body, headers=typeform_headers(body))
    assert response.status_code == 202, response.text
    rows = await fetch(database_url, "SELECT submission_id, answers FROM ingest.submissions")
    assert [(r["submission_id"], r["answers"]) for r in rows] == [("tok-doc-1", {"q1": 4, "q2": 4, "q3": 5})]
