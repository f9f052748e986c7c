"""Random bodies against the running ingest (real broker and PostgreSQL): never a 5xx, and nothing
that was refused is stored. Bounded so the suite stays fast."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tempen_ingest.app import create_app
from tempen_shared.access.tokens import Scope
from tests.auth.helpers import issue_token
from tests.conftest import Infra
from tests.ingest import support
from tests.ingest.support import TENANT, fetch, set_secrets, yesterday
from tests.support import serving

pytestmark = [
    pytest.mark.integration,
    # The service under test runs on this process's event loop while hypothesis generates; its Kafka client
    # draws from the global `random` (node choice, fetch order), which hypothesis reports as if a strategy had.
    pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies"),
]

T = TypeVar("T")
FUZZ = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
STAMP = yesterday().isoformat()
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "tenant": st.just(TENANT) | JSON,
    "instrument": st.sampled_from(["test-puls", "other", ""]) | JSON,
    "unit": st.sampled_from(["grupp-a1", "grupp-b1", "nowhere", " "]) | JSON,
    "submission_id": st.text(max_size=210) | JSON,
    "submitted_at": st.sampled_from([STAMP, "2999-01-01T00:00:00Z", "2026-01-01T00:00:00", "igår"]) | JSON,
    "answers": st.dictionaries(
        st.sampled_from(["q1", "q2", "q3", "q9"]) | st.text(max_size=4),
        st.integers(min_value=-3, max_value=12) | JSON,
        max_size=4,
    )
    | JSON,
    "respondent": st.none() | st.text(max_size=220) | JSON,
}
SUBMISSION = st.fixed_dictionaries({}, optional=FIELDS)
CANONICAL_BODY = JSON | SUBMISSION | st.lists(SUBMISSION, min_size=1, max_size=4)

FORMBRICKS_BODY = st.fixed_dictionaries(
    {"event": st.sampled_from(["responseCreated", "responseUpdated", "responseFinished"]) | JSON},
    optional={
        "data": st.fixed_dictionaries(
            {},
            optional={
                "id": st.text(max_size=12) | JSON,
                "surveyId": st.just("cmtestsurvey0000puls0001") | JSON,
                "updatedAt": st.sampled_from([STAMP, "x"]) | JSON,
                "data": st.dictionaries(
                    st.sampled_from(["unit", "uppskattning", "fortroende", "meningsfullt", "ovrigt"]),
                    st.sampled_from(["grupp-a1", "Vet ej", "4", "Stämmer bra"]) | JSON,
                    max_size=5,
                )
                | JSON,
                "contact": JSON,
                "contactAttributes": JSON,
            },
        )
        | JSON
    },
)
TYPEFORM_BODY = st.fixed_dictionaries(
    {"event_type": st.just("form_response") | JSON},
    optional={
        "event_id": st.text(max_size=10) | JSON,
        "form_response": st.fixed_dictionaries(
            {},
            optional={
                "form_id": st.just("TeStPuLs") | JSON,
                "token": st.text(max_size=10) | JSON,
                "submitted_at": st.just(STAMP) | JSON,
                "hidden": st.fixed_dictionaries({}, optional={"unit": st.just("grupp-a1") | JSON}) | JSON,
                "variables": JSON,
                "answers": st.lists(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "type": st.sampled_from(["number", "choice", "choices", "boolean", "text"]) | JSON,
                            "number": JSON,
                            "choice": JSON,
                            "choices": JSON,
                            "field": st.fixed_dictionaries(
                                {}, optional={"ref": st.sampled_from(["q_uppskattning", "q_fortroende"]) | JSON}
                            )
                            | JSON,
                        },
                    ),
                    max_size=3,
                )
                | JSON,
            },
        )
        | JSON,
    },
)
KOBO_BODY = st.fixed_dictionaries(
    {"_xform_id_string": st.just("aTestPulsKobo000000001") | JSON},
    optional={
        "_uuid": st.uuids().map(str) | JSON,
        "_submission_time": st.just(STAMP[:19]) | JSON,
        "enhet": st.sampled_from(["grupp-b1", "nowhere"]) | JSON,
        "grp_puls/uppskattning": st.sampled_from(["1", "5", "vet_ej", "x"]) | JSON,
        "grp_puls/fortroende": JSON,
        "meta/rootUuid": JSON,
    },
)


async def test_random_canonical_and_signed_platform_bodies_never_cause_a_5xx_or_store_what_was_refused(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_secrets(monkeypatch)
    app = create_app(support.settings(infra, database_url, topic_prefix, fixture_config))
    token = await issue_token(database_url, tenant=TENANT, scopes=[Scope.SUBMIT])
    loop = asyncio.get_running_loop()

    def on_loop(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run_coroutine_threadsafe(make(), loop).result(timeout=30)

    def stored_ids() -> set[str]:
        rows = on_loop(lambda: fetch(database_url, "SELECT submission_id FROM ingest.submissions"))
        return {r["submission_id"] for r in rows}

    async with serving(app) as base:
        with httpx.Client(base_url=base, timeout=30) as http:

            def post(url: str, content: bytes, headers: dict[str, str]) -> tuple[httpx.Response, set[str], set[str]]:
                before = stored_ids()
                response = http.post(url, content=content, headers=headers)
                assert response.status_code < 500, response.text
                return response, before, stored_ids()

            @FUZZ
            @given(body=CANONICAL_BODY)
            def canonical(body: Any) -> None:
                headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
                response, before, after = post(f"/v1/tenants/{TENANT}/submissions", json.dumps(body).encode(), headers)
                assert response.status_code in {202, 400, 413, 422}, response.text
                if response.status_code != 202:
                    assert after == before
                    return
                results = response.json().get("results") or [response.json()]
                assert len(after - before) == sum(r["status"] == "accepted" for r in results)
                refused = {r["submission_id"] for r in results if r["status"] == "rejected"}
                accepted = {r["submission_id"] for r in results if r["status"] != "rejected"}
                assert (after - before) & (refused - accepted) == set()

            @FUZZ
            @given(platform=st.sampled_from(["formbricks", "typeform", "kobo"]), data=st.data())
            def webhook(platform: str, data: st.DataObject) -> None:
                strategy = {"formbricks": FORMBRICKS_BODY, "typeform": TYPEFORM_BODY, "kobo": KOBO_BODY}[platform]
                body = json.dumps(data.draw(strategy)).encode()
                headers = {
                    "formbricks": lambda: support.formbricks_headers(body),
                    "typeform": lambda: support.typeform_headers(body),
                    "kobo": lambda: support.kobo_headers(),
                }[platform]()
                url = {"formbricks": support.FORMBRICKS_URL, "typeform": support.TYPEFORM_URL, "kobo": support.KOBO_URL}
                response, before, after = post(url[platform], body, headers)
                assert response.status_code in {200, 202, 409, 422}, response.text
                if response.status_code != 202:
                    assert after == before

            await asyncio.to_thread(canonical)
            await asyncio.to_thread(webhook)
