# Payloads: tests/ingest/fixtures/platforms/surveymonkey/, shaped like SurveyMonkey's own API docs
# (github.com/SurveyMonkey/public_api_docs, includes/_webhooks.md and includes/_responses.md; see the
# fixtures' README). The signature is the documented `generate_signature` of includes/_webhooks.md.
from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tempen_ingest.domain.platforms import (
    DeliveryError,
    PlatformMapping,
    ResponseNotice,
    parse_surveymonkey_response,
    read_surveymonkey_notice,
    surveymonkey_request,
)
from tempen_ingest.domain.signatures import SignatureError, sign_surveymonkey, verify_surveymonkey
from tests.ingest.unit.platforms.fixture_files import as_body, fixture_bytes, fixture_json

NOTICE = ResponseNotice(response_id="118000000001", survey_id="405123456", event_id="10912345678")


def mapping(**overrides: Any) -> PlatformMapping:
    spec: dict[str, Any] = {
        "id": "test-puls-surveymonkey",
        "platform": "surveymonkey",
        "form_id": "405123456",
        "tenant": "testkommun",
        "instrument": "test-puls",
        "questions": {
            "701000001": {"item": "q1", "values": {f"80100001{n}": n for n in range(1, 6)}},
            "701000002": {
                "rows": {"901000021": "q2", "901000022": "q3"},
                "values": {f"80100002{n}": n for n in range(1, 7)},
            },
        },
        "unit": {"field": "unit"},
        "respondent_field": "custom_value",
        "free_text": ["701000003"],
        "keep_free_text": True,
        "verification": {"secret": {"env": "SM_SECRET"}, "api_key": "client-id"},
        "api": {"token": {"env": "SM_TOKEN"}},
    }
    spec.update(overrides)
    return PlatformMapping.model_validate(spec)


def details(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = fixture_json("surveymonkey", "response_details.json")
    document.update(overrides)
    return document


def test_a_completed_response_becomes_one_submission_with_its_choices_rows_and_custom_variables() -> None:
    parsed = parse_surveymonkey_response(fixture_bytes("surveymonkey", "response_details.json"), mapping(), NOTICE)

    (submission,) = parsed.submissions
    assert submission.submission_id == "118000000001"
    assert submission.answers == {"q1": 4, "q2": 5, "q3": 3}
    assert (submission.unit, submission.respondent) == ("grupp-a1", "employee-sm-1")
    assert submission.submitted_at == datetime(2026, 3, 2, 9, 15, 30, tzinfo=UTC)
    assert [(t.question, t.text) for t in parsed.free_text] == [("701000003", "Mer tid för planering")]


def test_a_choice_id_missing_from_the_mapping_is_refused_not_read_as_the_number_it_looks_like() -> None:
    document = details()
    document["pages"][0]["questions"][0]["answers"] = [{"choice_id": "3"}]

    with pytest.raises(DeliveryError) as refused:
        parse_surveymonkey_response(as_body(document), mapping(), NOTICE)
    assert (refused.value.field, refused.value.reason) == ("701000001", "unmapped_answer")


@pytest.mark.parametrize(
    ("status", "reason"), [("partial", "unfinished"), ("overquota", "screened_out"), ("disqualified", "screened_out")]
)
def test_a_response_not_completed_is_skipped_with_its_reason(status: str, reason: str) -> None:
    parsed = parse_surveymonkey_response(as_body(details(response_status=status)), mapping(), NOTICE)

    assert parsed.submissions == ()
    assert parsed.skipped == (("118000000001", reason),)


@pytest.mark.parametrize("mode", ["preview", "survey_preview"])
def test_a_response_taken_in_a_preview_is_skipped(mode: str) -> None:
    parsed = parse_surveymonkey_response(as_body(details(collection_mode=mode)), mapping(), NOTICE)
    assert (parsed.submissions, parsed.skipped) == ((), (("118000000001", f"a preview: collection_mode {mode}"),))


def test_a_partial_response_counts_when_the_mapping_counts_unfinished_ones() -> None:
    parsed = parse_surveymonkey_response(
        as_body(details(response_status="partial")), mapping(count_unfinished=True), NOTICE
    )
    assert len(parsed.submissions) == 1
    for screened_out in ("overquota", "disqualified"):
        skipped = parse_surveymonkey_response(
            as_body(details(response_status=screened_out)), mapping(count_unfinished=True), NOTICE
        )
        assert skipped.submissions == ()


def test_the_partial_fixture_is_skipped() -> None:
    parsed = parse_surveymonkey_response(fixture_bytes("surveymonkey", "response_partial.json"), mapping(), NOTICE)
    assert parsed.skipped == (("118000000001", "unfinished"),)


@pytest.mark.parametrize(
    ("document", "field", "reason"),
    [
        (details(id="118000000002"), "id", "response_mismatch"),
        (details(survey_id="999"), "survey_id", "form_mismatch"),
        (details(custom_variables={}), "unit", "missing_unit"),
    ],
)
def test_a_response_that_is_not_the_one_asked_for_or_lacks_its_unit_is_refused(
    document: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(DeliveryError) as refused:
        parse_surveymonkey_response(as_body(document), mapping(), NOTICE)
    assert (refused.value.field, refused.value.reason) == (field, reason)


def test_a_matrix_menu_row_with_several_answers_is_refused_rather_than_guessed() -> None:
    document = details()
    document["pages"][0]["questions"][1]["answers"] = [
        {"row_id": "901000021", "col_id": "1", "choice_id": "801000021"},
        {"row_id": "901000021", "col_id": "2", "choice_id": "801000025"},
    ]
    with pytest.raises(DeliveryError) as refused:
        parse_surveymonkey_response(as_body(document), mapping(), NOTICE)
    assert (refused.value.field, refused.value.reason) == ("701000002[901000021]", "unexpected_shape")


def test_the_completed_callback_names_the_response_and_its_survey() -> None:
    notice = read_surveymonkey_notice(fixture_bytes("surveymonkey", "response_completed.json"), mapping())
    assert notice == NOTICE


def test_other_events_name_nothing_to_fetch_and_another_survey_is_refused() -> None:
    document = fixture_json("surveymonkey", "response_completed.json")
    assert read_surveymonkey_notice(as_body({**document, "event_type": "response_created"}), mapping()) == (
        "event_type 'response_created' is not response_completed"
    )
    with pytest.raises(DeliveryError) as refused:
        read_surveymonkey_notice(as_body({**document, "resources": {"survey_id": "1"}}), mapping())
    assert refused.value.reason == "form_mismatch"
    with pytest.raises(DeliveryError) as odd:
        read_surveymonkey_notice(as_body({**document, "object_id": "../../users/me"}), mapping())
    assert (odd.value.field, odd.value.reason) == ("object_id", "malformed")


def test_the_response_is_asked_for_at_its_details_url_with_the_bearer_token() -> None:
    request = surveymonkey_request(mapping(), NOTICE, token="tok")
    assert request.url == "https://api.surveymonkey.com/v3/surveys/405123456/responses/118000000001/details"
    assert request.headers["Authorization"] == "Bearer tok"


def _documented_signature(payload: bytes, api_key: str, api_secret: str) -> str:
    # SurveyMonkey's own `generate_signature` (includes/_webhooks.md), in Python 3.
    digest = hmac.new(f"{api_key}&{api_secret}".encode("ascii"), payload, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_the_signature_is_the_documented_hmac_sha1_of_the_body_keyed_by_key_and_secret() -> None:
    body = fixture_bytes("surveymonkey", "response_completed.json")
    signature = _documented_signature(body, "client-id", "client-secret")

    assert sign_surveymonkey(api_key="client-id", api_secret="client-secret", body=body) == signature
    verify_surveymonkey(api_key="client-id", api_secret="client-secret", signature_header=signature, body=body)


@pytest.mark.parametrize(
    ("header", "body", "secret", "reason"),
    [
        (None, b"{}", "client-secret", "missing_header"),
        ("not base64!", b"{}", "client-secret", "malformed"),
        (_documented_signature(b"{}", "client-id", "client-secret"), b"{ }", "client-secret", "bad_signature"),
        (_documented_signature(b"{}", "client-id", "client-secret"), b"{}", "other-secret", "bad_signature"),
    ],
)
def test_a_missing_malformed_or_wrong_signature_is_refused(
    header: str | None, body: bytes, secret: str, reason: str
) -> None:
    with pytest.raises(SignatureError) as refused:
        verify_surveymonkey(api_key="client-id", api_secret=secret, signature_header=header, body=body)
    assert refused.value.reason == reason


def test_a_surveymonkey_mapping_needs_its_api_key_and_an_api_and_plain_http_only_to_this_machine() -> None:
    with pytest.raises(ValidationError, match="api_key"):
        mapping(verification={"secret": {"env": "S"}})
    with pytest.raises(ValidationError, match="api"):
        mapping(api=None)
    with pytest.raises(ValidationError, match="https"):
        mapping(api={"token": {"env": "T"}, "base_url": "http://api.surveymonkey.com"})
    assert mapping(api={"token": {"env": "T"}, "base_url": "http://127.0.0.1:8080/"}).api is not None


SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
ANSWER = st.fixed_dictionaries(
    {}, optional={k: st.sampled_from(["901000021", "801000014", "x"]) | JSON for k in ("row_id", "choice_id", "text")}
)
RESPONSE = st.fixed_dictionaries(
    {"id": st.just("118000000001") | JSON, "survey_id": st.just("405123456") | JSON},
    optional={
        "response_status": st.just("completed") | JSON,
        "date_modified": st.just("2026-03-02T09:15:30+00:00") | JSON,
        "custom_variables": st.fixed_dictionaries({}, optional={"unit": JSON}) | JSON,
        "pages": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "questions": st.lists(
                        st.fixed_dictionaries(
                            {"id": st.sampled_from(["701000001", "701000002", "701000003"]) | JSON},
                            optional={"answers": st.lists(ANSWER, max_size=3) | JSON},
                        ),
                        max_size=3,
                    )
                },
            ),
            max_size=2,
        )
        | JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(RESPONSE)
def test_any_response_body_is_read_or_refused_with_a_delivery_error_never_another_exception(document: Any) -> None:
    with contextlib.suppress(DeliveryError):
        parse_surveymonkey_response(as_body(document), mapping(), NOTICE)


CALLBACK = st.fixed_dictionaries(
    {},
    optional={
        "event_type": st.just("response_completed") | JSON,
        "object_type": st.just("response") | JSON,
        "object_id": st.just("118000000001") | JSON,
        "event_id": JSON,
        "resources": st.fixed_dictionaries({}, optional={"survey_id": st.just("405123456") | JSON}) | JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(CALLBACK | JSON)
def test_any_callback_names_a_response_or_is_refused_with_a_delivery_error(document: Any) -> None:
    with contextlib.suppress(DeliveryError):
        notice = read_surveymonkey_notice(as_body(document), mapping())
        assert isinstance(notice, str) or notice.survey_id == "405123456"
