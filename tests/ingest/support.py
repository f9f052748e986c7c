"""Helpers for ingest's tests: settings, platform deliveries for the test tenant's mappings, signatures.

A plain module, not conftest. The mappings are in tests/fixtures/config/mappings/testkommun/; their
secrets are read from the environment variables below, which the tests set with monkeypatch.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import orjson
import pytest

from tempen_ingest.config import IngestSettings
from tempen_ingest.domain.signatures import sign_qualtrics, sign_standard_webhook, sign_surveymonkey, sign_typeform
from tests.conftest import Infra
from tests.support import eventually, read_all

TENANT = "testkommun"
FORMBRICKS_SECRET = "whsec_" + base64.b64encode(b"formbricks-test-signing-key-0001").decode()
TYPEFORM_SECRET = "typeform-test-secret"
KOBO_PASSWORD = "kobo-test-password"
SURVEYMONKEY_API_KEY = "test-client-id-0001"  # the mapping's verification.api_key
SURVEYMONKEY_SECRET = "surveymonkey-test-client-secret"
SURVEYMONKEY_TOKEN = "surveymonkey-test-access-token"
QUALTRICS_SHARED_KEY = "qualtrics-test-shared-key"
QUALTRICS_TOKEN = "qualtrics-test-api-token"
SECRETS = {
    "TEMPEN_TEST_FORMBRICKS_SECRET": FORMBRICKS_SECRET,
    "TEMPEN_TEST_TYPEFORM_SECRET": TYPEFORM_SECRET,
    "TEMPEN_TEST_KOBO_PASSWORD": KOBO_PASSWORD,
    "TEMPEN_TEST_SURVEYMONKEY_SECRET": SURVEYMONKEY_SECRET,
    "TEMPEN_TEST_SURVEYMONKEY_TOKEN": SURVEYMONKEY_TOKEN,
    "TEMPEN_TEST_QUALTRICS_SHARED_KEY": QUALTRICS_SHARED_KEY,
    "TEMPEN_TEST_QUALTRICS_TOKEN": QUALTRICS_TOKEN,
}
FORMBRICKS_URL = f"/v1/tenants/{TENANT}/webhooks/formbricks/test-puls-formbricks"
TYPEFORM_URL = f"/v1/tenants/{TENANT}/webhooks/typeform/test-puls-typeform"
KOBO_URL = f"/v1/tenants/{TENANT}/webhooks/kobo/test-puls-kobo"
SURVEYMONKEY_URL = f"/v1/tenants/{TENANT}/webhooks/surveymonkey/test-puls-surveymonkey"
QUALTRICS_URL = f"/v1/tenants/{TENANT}/webhooks/qualtrics/test-puls-qualtrics"
PLATFORM_FIXTURES = Path(__file__).parent / "fixtures" / "platforms"


def set_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def settings(infra: Infra, database_url: str, topic_prefix: str, config: Path, **overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "DATABASE_URL": database_url,
        "TEMPEN_CONFIG_DIR": config,
        "TEMPEN_TOPIC_PREFIX": topic_prefix,
        "TEMPEN_KAFKA_SESSION_TIMEOUT_MS": 2000,
        "TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS": 300,
    }
    return IngestSettings(**values).model_copy(update=overrides)


def yesterday() -> datetime:
    return (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)


def canonical(sid: str, *, respondent: str | None = "employee-4711", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "instrument": "test-puls",
        "unit": "grupp-a1",
        "submission_id": sid,
        "submitted_at": yesterday().isoformat(),
        "answers": {"q1": 4, "q2": 5, "q3": 6},
    }
    if respondent is not None:
        body["respondent"] = respondent
    body.update(overrides)
    return body


# Formbricks (Standard Webhooks) --------------------------------------------------------------------


def formbricks_body(
    response_id: str,
    *,
    unit: str = "grupp-a1",
    user: str = "employee-1",
    answers: dict[str, Any] | None = None,
    comment: str | None = None,
    event: str = "responseFinished",
    finished: bool | None = None,
) -> bytes:
    data: dict[str, Any] = {
        "unit": unit,
        **(answers or {"uppskattning": 4, "fortroende": "Stämmer bra", "meningsfullt": 5}),
    }
    if comment is not None:
        data["ovrigt"] = comment
    stamp = yesterday().isoformat().replace("+00:00", ".000Z")
    return orjson.dumps(
        {
            "webhookId": "wh-test-0001",
            "event": event,
            "data": {
                "id": response_id,
                "surveyId": "cmtestsurvey0000puls0001",
                "createdAt": stamp,
                "updatedAt": stamp,
                "finished": event == "responseFinished" if finished is None else finished,
                "data": data,
                "contact": {"id": "c-" + user, "userId": user},
                "contactAttributes": {},
                "meta": {"source": "link"},
                "variables": {},
            },
        }
    )


def formbricks_headers(
    body: bytes, *, msg_id: str | None = None, at: float | None = None, secret: str = FORMBRICKS_SECRET
) -> dict[str, str]:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time() if at is None else at)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard_webhook(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body),
    }


# Typeform ----------------------------------------------------------------------------------------


def typeform_body(
    token: str,
    *,
    event_id: str | None = None,
    unit: str = "grupp-a1",
    comment: str | None = None,
    refs_in_definition_only: bool = False,
) -> bytes:
    """A form_response; with `refs_in_definition_only`, shaped as Typeform's documented example: answers
    name their question by field.id only, and definition.fields gives each id's ref."""
    stamp = yesterday().isoformat().replace("+00:00", "Z")
    answers: list[dict[str, Any]] = [
        {"type": "number", "number": 4, "field": {"id": "fA1", "type": "opinion_scale", "ref": "q_uppskattning"}},
        {
            "type": "choice",
            "choice": {"id": "c4", "ref": "ofta", "label": "Ofta"},
            "field": {"id": "fA2", "type": "multiple_choice", "ref": "q_fortroende"},
        },
        {"type": "number", "number": 5, "field": {"id": "fA3", "type": "rating", "ref": "q_meningsfullt"}},
    ]
    if comment is not None:
        answers.append(
            {"type": "text", "text": comment, "field": {"id": "fA4", "type": "long_text", "ref": "open_comment"}}
        )
    definition: list[dict[str, Any]] = []
    if refs_in_definition_only:
        definition = [dict(answer["field"]) for answer in answers]
        for answer in answers:
            del answer["field"]["ref"]
    return orjson.dumps(
        {
            "event_id": event_id or f"01J{uuid.uuid4().hex[:23].upper()}",
            "event_type": "form_response",
            "form_response": {
                "form_id": "TeStPuLs",
                "token": token,
                "landed_at": stamp,
                "submitted_at": stamp,
                "hidden": {"unit": unit, "respondent": "employee-typeform"},
                "definition": {"id": "TeStPuLs", "title": "Testpuls", "fields": definition},
                "answers": answers,
            },
        }
    )


def typeform_headers(body: bytes, *, secret: str = TYPEFORM_SECRET) -> dict[str, str]:
    return {"content-type": "application/json", "typeform-signature": sign_typeform(secret=secret, body=body)}


# KoboToolbox -------------------------------------------------------------------------------------


def kobo_body(instance: str, *, root: str | None = None, unit: str = "grupp-b1") -> bytes:
    return orjson.dumps(
        {
            "_id": 4711,
            "_uuid": instance,
            "_xform_id_string": "aTestPulsKobo000000001",
            "_submission_time": yesterday().replace(tzinfo=None).isoformat(),
            "_submitted_by": "kobo-enumerator",
            "enhet": unit,
            "grp_puls/uppskattning": "2",
            "grp_puls/fortroende": "3",
            "grp_puls/meningsfullt": "vet_ej",
            "kommentar": "Skriven kommentar",
            "meta/instanceID": f"uuid:{instance}",
            "meta/rootUuid": f"uuid:{root or instance}",
        }
    )


def kobo_headers(*, username: str = "kobo-test", password: str = KOBO_PASSWORD) -> dict[str, str]:
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"content-type": "application/json", "authorization": f"Basic {credentials}"}


# SurveyMonkey and Qualtrics (webhooks that name a response) --------------------------------------


def surveymonkey_notice(response_id: str, *, survey_id: str = "405123456", event: str = "response_completed") -> bytes:
    document = orjson.loads((PLATFORM_FIXTURES / "surveymonkey" / "response_completed.json").read_bytes())
    document.update({"object_id": response_id, "event_type": event, "event_id": f"1{uuid.uuid4().int % 10**10}"})
    document["resources"].update({"respondent_id": response_id, "survey_id": survey_id})
    return orjson.dumps(document)


def surveymonkey_headers(body: bytes, *, secret: str = SURVEYMONKEY_SECRET) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "sm-apikey": SURVEYMONKEY_API_KEY,
        "sm-signature": sign_surveymonkey(api_key=SURVEYMONKEY_API_KEY, api_secret=secret, body=body),
    }


def surveymonkey_response(
    response_id: str, *, status: str = "completed", unit: str = "grupp-a1", choice: str = "801000014"
) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((PLATFORM_FIXTURES / "surveymonkey" / "response_details.json").read_bytes())
    document.update({"id": response_id, "response_status": status, "custom_variables": {"unit": unit}})
    document["date_modified"] = yesterday().isoformat()
    document["pages"][0]["questions"][0]["answers"] = [{"choice_id": choice}]
    return document


def qualtrics_form(response_id: str, *, shared_key: str = QUALTRICS_SHARED_KEY, signed: bool = True) -> bytes:
    event = orjson.loads((PLATFORM_FIXTURES / "qualtrics" / "completed_response_msg.json").read_bytes())
    event["ResponseID"] = response_id
    message = orjson.dumps(event).decode()
    topic = f"testkommun.surveyengine.completedResponse.{event['SurveyID']}"
    if not signed:
        return urlencode({"Topic": topic, **event}).encode()
    return urlencode(
        {"Topic": topic, "HMAC": sign_qualtrics(shared_key=shared_key, message=message), "MSG": message}
    ).encode()


QUALTRICS_HEADERS = {"content-type": "application/x-www-form-urlencoded"}


def qualtrics_response(response_id: str, *, finished: int = 1) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((PLATFORM_FIXTURES / "qualtrics" / "response.json").read_bytes())
    values = document["result"]["values"]
    document["result"]["responseId"] = response_id
    values.update({"_recordId": response_id, "finished": finished, "endDate": yesterday().isoformat()})
    return document


# The database --------------------------------------------------------------------------------------


async def fetch(database_url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.set_type_codec(
            "jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def count(database_url: str, table: str) -> int:
    rows = await fetch(database_url, f"SELECT count(*) AS n FROM ingest.{table}")
    return int(rows[0]["n"])


async def published_revisions(bootstrap: str, topic: str, submission_id: str, last: int) -> list[int]:
    """The revisions of `submission_id` on `topic`, once `last` is among them, in topic order.

    The relay publishes a stored row as it is when it reads it, so a revision corrected before the
    relay read it may never be published; the last one always is, after any earlier one.
    """

    async def revisions() -> list[int] | None:
        found = [
            int(r["value"]["revision"])
            for r in await read_all(bootstrap, topic)
            if r["value"]["submission_id"] == submission_id
        ]
        return found if last in found else None

    result: list[int] = await eventually(revisions)
    return result
