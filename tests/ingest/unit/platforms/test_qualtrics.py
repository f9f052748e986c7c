# Payloads: tests/ingest/fixtures/platforms/qualtrics/ (sources in the fixtures' README). The HMAC
# known-answer vector is SAP's Qualtrics gateway test (github.com/kyma-incubator/connector-tools,
# qualtrics-event-gw/pkg/hmac/hmac_test.go); Qualtrics' own reference does not give one.
from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tempen_ingest.domain.platforms import (
    DeliveryError,
    PlatformMapping,
    ResponseNotice,
    parse_qualtrics_response,
    qualtrics_request,
    read_qualtrics_notice,
)
from tempen_ingest.domain.signatures import SignatureError, sign_qualtrics, verify_qualtrics
from tests.ingest.unit.platforms.fixture_files import as_body, fixture_bytes, fixture_json

NOTICE = ResponseNotice(response_id="R_1TestPulsResp0001", survey_id="SV_0TestPulsQualtrics")
KYMA_MESSAGE = (
    '{"Status":"Complete","SurveyID":"SV_1AmkKSDmoZ4XlQx","ResponseID":"R_0B7IcnXszjEUHLP",'
    '"CompletedDate":"2019-06-25 07:58:25","BrandID":"sapdevelopment"}'
)
KYMA_HMAC = (
    "c2c585a404c239aa3063b462cc33551d3ed3ed2de0899f58d456fc0ef7ebef6f"
    "3c3af44957989bd0592603e41edde9528f7d9ed09ee128bf719aa12f46e5c598"
)


def mapping(**overrides: Any) -> PlatformMapping:
    spec: dict[str, Any] = {
        "id": "test-puls-qualtrics",
        "platform": "qualtrics",
        "form_id": "SV_0TestPulsQualtrics",
        "tenant": "testkommun",
        "instrument": "test-puls",
        "questions": {"QID1": "q1", "QID2": {"rows": {"1": "q2", "2": "q3"}}},
        "unit": {"field": "unit"},
        "respondent_field": "employee",
        "free_text": ["QID3_TEXT"],
        "keep_free_text": True,
        "verification": {"secret": {"env": "Q_KEY"}},
        "api": {"token": {"env": "Q_TOKEN"}, "base_url": "https://fra1.qualtrics.com"},
    }
    spec.update(overrides)
    return PlatformMapping.model_validate(spec)


def response(**values: Any) -> dict[str, Any]:
    document: dict[str, Any] = fixture_json("qualtrics", "response.json")
    document["result"]["values"].update(values)
    return document


def test_a_finished_response_becomes_one_submission_with_its_matrix_rows_and_embedded_data() -> None:
    parsed = parse_qualtrics_response(fixture_bytes("qualtrics", "response.json"), mapping(), NOTICE)

    (submission,) = parsed.submissions
    assert submission.submission_id == "R_1TestPulsResp0001"
    assert submission.answers == {"q1": 4, "q2": 5, "q3": 3}
    assert (submission.unit, submission.respondent) == ("grupp-a1", "employee-q-1")
    assert [(t.question, t.text) for t in parsed.free_text] == [("QID3_TEXT", "Tydligare mål")]


def test_a_matrix_row_can_be_mapped_by_its_own_key_and_an_answer_by_its_label() -> None:
    by_row = mapping(
        questions={
            "QID1": {"item": "q1", "values": {"Stämmer bra": 2}},
            "QID2_1": "q2",
            "QID2_2": "q3",
        }
    )
    (submission,) = parse_qualtrics_response(as_body(response()), by_row, NOTICE).submissions
    assert submission.answers == {"q1": 2, "q2": 5, "q3": 3}


def test_an_unfinished_response_counts_when_the_mapping_counts_unfinished_ones() -> None:
    body = fixture_bytes("qualtrics", "response_unfinished.json")
    parsed = parse_qualtrics_response(body, mapping(count_unfinished=True), NOTICE)
    assert len(parsed.submissions) == 1


def test_an_unfinished_response_is_skipped() -> None:
    parsed = parse_qualtrics_response(fixture_bytes("qualtrics", "response_unfinished.json"), mapping(), NOTICE)
    assert (parsed.submissions, parsed.skipped) == ((), (("R_1TestPulsResp0001", "unfinished"),))


@pytest.mark.parametrize("channel", ["preview", "test"])
def test_a_preview_or_generated_test_response_is_skipped(channel: str) -> None:
    parsed = parse_qualtrics_response(as_body(response(distributionChannel=channel)), mapping(), NOTICE)
    assert parsed.skipped == (("R_1TestPulsResp0001", f"a preview: distributionChannel {channel}"),)


def test_another_response_or_a_missing_unit_is_refused() -> None:
    other = fixture_json("qualtrics", "response.json")
    other["result"]["responseId"] = "R_other"
    with pytest.raises(DeliveryError) as refused:
        parse_qualtrics_response(as_body(other), mapping(), NOTICE)
    assert refused.value.reason == "response_mismatch"
    with pytest.raises(DeliveryError) as no_unit:
        parse_qualtrics_response(as_body(response(unit="")), mapping(), NOTICE)
    assert (no_unit.value.field, no_unit.value.reason) == ("unit", "missing_unit")


def test_the_event_names_the_response_in_its_signed_message() -> None:
    message = fixture_bytes("qualtrics", "completed_response_msg.json").decode()
    body = urlencode({"Topic": "x.surveyengine.completedResponse.SV_0TestPulsQualtrics", "MSG": message}).encode()
    assert read_qualtrics_notice(body, mapping()) == NOTICE
    with pytest.raises(DeliveryError) as refused:
        read_qualtrics_notice(body, mapping(form_id="SV_other"))
    assert refused.value.reason == "form_mismatch"


def test_the_response_is_asked_for_at_the_datacenter_with_the_api_token() -> None:
    request = qualtrics_request(mapping(), NOTICE, token="tok")
    assert (
        request.url == "https://fra1.qualtrics.com/API/v3/surveys/SV_0TestPulsQualtrics/responses/R_1TestPulsResp0001"
    )
    assert request.headers["X-API-TOKEN"] == "tok"


def test_the_hmac_matches_the_known_answer_vector() -> None:
    assert sign_qualtrics(shared_key="kyma4ever", message=KYMA_MESSAGE) == KYMA_HMAC
    body = urlencode(
        {"Topic": "sapdevelopment.surveyengine.completedResponse.SV_1", "HMAC": KYMA_HMAC, "MSG": KYMA_MESSAGE}
    )
    assert verify_qualtrics(shared_key="kyma4ever", body=body.encode()) == KYMA_MESSAGE


@pytest.mark.parametrize(
    ("fields", "key", "reason"),
    [
        ({"Topic": "t", "Status": "Complete", "ResponseID": "R_1"}, "kyma4ever", "missing_header"),
        ({"Topic": "t", "HMAC": "zz", "MSG": KYMA_MESSAGE}, "kyma4ever", "malformed"),
        ({"Topic": "t", "HMAC": KYMA_HMAC, "MSG": KYMA_MESSAGE + " "}, "kyma4ever", "bad_signature"),
        ({"Topic": "t", "HMAC": KYMA_HMAC, "MSG": KYMA_MESSAGE}, "kyma4ever!", "bad_signature"),
    ],
)
def test_an_unsigned_malformed_or_forged_event_is_refused(fields: dict[str, str], key: str, reason: str) -> None:
    with pytest.raises(SignatureError) as refused:
        verify_qualtrics(shared_key=key, body=urlencode(fields).encode())
    assert refused.value.reason == reason


def test_a_body_that_is_not_a_form_is_refused_as_malformed() -> None:
    with pytest.raises(SignatureError) as refused:
        verify_qualtrics(shared_key="k", body=b'{"MSG": "x"}')
    assert refused.value.reason == "malformed"


def test_a_qualtrics_mapping_needs_its_datacenter() -> None:
    with pytest.raises(ValidationError, match="datacenter"):
        mapping(api={"token": {"env": "Q_TOKEN"}})


VALUE = st.none() | st.booleans() | st.integers() | st.text(max_size=6) | st.lists(st.integers() | st.text(max_size=3))
RESPONSE = st.fixed_dictionaries(
    {},
    optional={
        "result": st.fixed_dictionaries(
            {"responseId": st.just("R_1TestPulsResp0001") | VALUE},
            optional={
                "values": st.dictionaries(
                    st.sampled_from(["QID1", "QID2", "QID2_1", "QID2_x", "QID3_TEXT", "finished", "endDate", "unit"]),
                    VALUE | st.just(1) | st.just("2026-03-02T09:15:30Z") | st.just("grupp-a1"),
                    max_size=8,
                )
                | VALUE,
                "labels": st.dictionaries(st.sampled_from(["QID1", "QID2_1"]), VALUE, max_size=2) | VALUE,
            },
        )
        | VALUE
    },
)


@settings(max_examples=300, deadline=None)
@given(RESPONSE)
def test_any_response_body_is_read_or_refused_with_a_delivery_error_never_another_exception(document: Any) -> None:
    with contextlib.suppress(DeliveryError):
        parse_qualtrics_response(as_body(document), mapping(), NOTICE)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["SurveyID", "ResponseID", "Status"]), VALUE | st.just("SV_0TestPulsQualtrics")))
def test_any_signed_message_names_a_response_or_is_refused_with_a_delivery_error(event: dict[str, Any]) -> None:
    body = urlencode({"Topic": "t", "MSG": json.dumps(event)}).encode()
    with contextlib.suppress(DeliveryError):
        assert read_qualtrics_notice(body, mapping()).survey_id == "SV_0TestPulsQualtrics"
