# Exports: tests/ingest/fixtures/platforms/limesurvey, shaped like LimeSurvey's JsonWriter.php and
# CsvWriter.php (application/helpers/admin/export/) and the citric client's tests; responses_keyed.json
# is the older {"responses": [{"<id>": {...}}]} shape (see the fixtures' README).
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tempen_ingest.domain.platforms import (
    DeliveryError,
    ParsedDelivery,
    PlatformMapping,
    limesurvey,
    parse_limesurvey_csv,
    parse_limesurvey_json,
    remotecontrol_export,
)
from tests.ingest.unit.platforms.fixture_files import as_body, fixture_bytes, fixture_json

FIVE_POINT = {"A1": 1, "A2": 2, "A3": 3, "A4": 4, "A5": 5}


def mapping(**overrides: Any) -> PlatformMapping:
    spec: dict[str, Any] = {
        "id": "hjo-puls-limesurvey",
        "platform": "limesurvey",
        "form_id": "462175",
        "tenant": "hjo",
        "instrument": "medarbetarpuls",
        "values": FIVE_POINT,
        "questions": {
            "G01Q01": "lead-trust",
            "G01Q02": {
                "rows": {"SQ001": "lead-listens", "SQ002": "lead-feedback", "SQ003": "lead-available"},
                "values": {"A6": 9},
            },
            "G01Q03": {"item": "workload", "values": {"A1": 1, "A2": 2, "A3": 3, "A4": 4}},
            "G01Q04": {
                "rows": {"SQ001": "support-manager", "SQ002": "support-colleagues", "SQ003": "support-hr"},
                "values": {"Y": 1},
            },
        },
        "unit": {"field": "enhet"},
        "respondent_field": "token",
        "free_text": ["G01Q05"],
    }
    spec.update(overrides)
    return PlatformMapping.model_validate(spec)


def responses() -> list[dict[str, Any]]:
    document: dict[str, Any] = fixture_json("limesurvey", "responses.json")
    records: list[dict[str, Any]] = document["responses"]
    return records


def export(records: list[dict[str, Any]]) -> bytes:
    return as_body({"responses": records})


def answers_by_id(parsed: ParsedDelivery) -> dict[str, dict[str, int]]:
    return {submission.submission_id: submission.answers for submission in parsed.submissions}


EXPECTED = {
    "462175:1": {
        "lead-trust": 4,
        "lead-listens": 5,
        "lead-feedback": 4,
        "lead-available": 9,
        "workload": 3,
        "support-manager": 1,
        "support-colleagues": 1,
    },
    "462175:2": {"lead-trust": 2, "lead-listens": 3, "lead-available": 2, "support-colleagues": 1},
}


def test_complete_responses_of_a_json_export_become_submissions_with_sub_questions_as_rows() -> None:
    parsed = parse_limesurvey_json(fixture_bytes("limesurvey", "responses.json"), mapping())

    assert answers_by_id(parsed) == EXPECTED


def test_an_incomplete_response_is_skipped_as_unfinished() -> None:
    parsed = parse_limesurvey_json(fixture_bytes("limesurvey", "responses.json"), mapping())

    assert parsed.skipped == (("3", "unfinished"),)


def test_a_mapping_that_counts_unfinished_responses_dates_an_incomplete_one_by_its_last_action() -> None:
    parsed = parse_limesurvey_json(fixture_bytes("limesurvey", "responses.json"), mapping(count_unfinished=True))

    unfinished = next(s for s in parsed.submissions if s.submission_id == "462175:3")
    assert parsed.skipped == ()
    assert unfinished.answers == {"lead-trust": 5}
    assert unfinished.submitted_at == datetime(2026, 3, 6, 6, 32, 12, tzinfo=UTC)  # 07:32:12 in Stockholm


def test_the_older_export_with_each_response_keyed_by_its_id_reads_the_same() -> None:
    keyed = parse_limesurvey_json(fixture_bytes("limesurvey", "responses_keyed.json"), mapping())

    assert answers_by_id(keyed) == EXPECTED
    assert keyed.skipped == (("3", "unfinished"),)


def test_a_csv_export_reads_the_same_as_the_json_export() -> None:
    from_csv = parse_limesurvey_csv(fixture_bytes("limesurvey", "responses.csv"), mapping())
    from_json = parse_limesurvey_json(fixture_bytes("limesurvey", "responses.json"), mapping())

    assert from_csv == from_json


def test_a_comma_separated_csv_export_is_read_too() -> None:
    semicolons = fixture_bytes("limesurvey", "responses.csv").decode("utf-8-sig")
    commas = semicolons.replace('";"', '","').encode()

    parsed = parse_limesurvey_csv(commas, mapping())

    assert answers_by_id(parsed) == EXPECTED


def test_submit_dates_without_offset_are_read_in_the_mapping_time_zone() -> None:
    parsed = parse_limesurvey_json(fixture_bytes("limesurvey", "responses.json"), mapping())

    assert parsed.submissions[0].submitted_at == datetime(2026, 3, 4, 8, 12, 33, tzinfo=UTC)
    helsinki = parse_limesurvey_json(fixture_bytes("limesurvey", "responses.json"), mapping(timezone="Europe/Helsinki"))
    assert helsinki.submissions[0].submitted_at == datetime(2026, 3, 4, 7, 12, 33, tzinfo=UTC)


def test_the_participant_token_is_the_respondent_and_the_unit_comes_from_a_question() -> None:
    first = parse_limesurvey_json(fixture_bytes("limesurvey", "responses.json"), mapping()).submissions[0]

    assert (first.respondent, first.unit) == ("tok0042", "hjo-hemtjanst-norr")


def test_a_sub_question_may_be_mapped_by_its_full_column_name() -> None:
    columns = mapping(questions={"G01Q02[SQ001]": {"item": "lead-listens"}})

    parsed = parse_limesurvey_json(fixture_bytes("limesurvey", "responses.json"), columns)

    assert answers_by_id(parsed) == {"462175:1": {"lead-listens": 5}, "462175:2": {"lead-listens": 3}}


def test_free_text_is_dropped_unless_the_tenant_opts_in() -> None:
    dropped = parse_limesurvey_json(fixture_bytes("limesurvey", "responses.json"), mapping())
    kept = parse_limesurvey_json(fixture_bytes("limesurvey", "responses.json"), mapping(keep_free_text=True))

    assert dropped.free_text == ()
    assert [(t.submission_id, t.question) for t in kept.free_text] == [("462175:1", "G01Q05")]


def test_a_response_from_a_survey_without_date_stamps_is_skipped_unless_given_a_receipt_time() -> None:
    records = responses()
    records[0]["submitdate"] = "1980-01-01 00:00:00"
    received = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

    skipped = parse_limesurvey_json(export(records), mapping())
    stamped = parse_limesurvey_json(export(records), mapping(), received_at=received)

    assert ("1", "no_submit_date") in skipped.skipped
    assert stamped.submissions[0].submitted_at == received


def test_a_response_without_a_unit_is_refused_naming_the_field_and_the_response() -> None:
    records = responses()
    records[1]["enhet"] = ""

    with pytest.raises(DeliveryError) as caught:
        parse_limesurvey_json(export(records), mapping())

    assert (caught.value.field, caught.value.reason, caught.value.response_id) == ("enhet", "missing_unit", "2")


def test_the_unit_may_be_looked_up_by_participant_token() -> None:
    by_token = mapping(unit={"field": "token", "units": {"tok0042": "hjo-ekonomi", "tok0043": "hjo-kultur"}})

    parsed = parse_limesurvey_json(fixture_bytes("limesurvey", "responses.json"), by_token)

    assert [s.unit for s in parsed.submissions] == ["hjo-ekonomi", "hjo-kultur"]


def test_an_answer_code_without_a_value_is_refused_naming_the_sub_question() -> None:
    records = responses()
    records[0]["G01Q02[SQ002]"] = "A7"

    with pytest.raises(DeliveryError) as caught:
        parse_limesurvey_json(export(records), mapping())

    assert (caught.value.field, caught.value.reason) == ("G01Q02[SQ002]", "unmapped_answer")


def test_numeric_answer_codes_are_taken_as_values() -> None:
    records = responses()[:1]
    records[0]["G01Q01"] = "4"

    parsed = parse_limesurvey_json(export(records), mapping(values={}, questions={"G01Q01": "lead-trust"}))

    assert parsed.submissions[0].answers["lead-trust"] == 4


def test_a_file_that_is_not_a_json_export_is_refused() -> None:
    with pytest.raises(DeliveryError) as caught:
        parse_limesurvey_json(json.dumps({"result": "eyJyZXNwb25zZXMiOiBbXX0="}).encode(), mapping())

    assert (caught.value.field, caught.value.reason) == ("responses", "malformed")


# RemoteControl export_responses (remotecontrol_handle.php) returns the file base64-encoded in the JSON-RPC
# result, or {"status": "..."} instead; the saved answer is read as it is.


def rpc_answer(result: object, error: object = None) -> bytes:
    return json.dumps({"id": 1, "result": result, "error": error}).encode()


def test_a_saved_json_rpc_export_responses_answer_is_decoded_to_the_export() -> None:
    exported = fixture_bytes("limesurvey", "responses.json")

    decoded = remotecontrol_export(rpc_answer(base64.b64encode(exported).decode()))

    assert decoded == exported
    assert answers_by_id(parse_limesurvey_json(decoded, mapping())) == EXPECTED


def test_a_file_holding_only_the_base64_result_is_decoded_too_line_breaks_and_all() -> None:
    exported = fixture_bytes("limesurvey", "responses.csv")

    decoded = remotecontrol_export(base64.encodebytes(exported))

    assert answers_by_id(parse_limesurvey_csv(decoded, mapping())) == EXPECTED


def test_an_export_file_itself_is_left_as_it_is() -> None:
    for name in ("responses.json", "responses.csv", "responses_keyed.json"):
        assert remotecontrol_export(fixture_bytes("limesurvey", name)) == fixture_bytes("limesurvey", name)


@pytest.mark.parametrize(
    ("answer", "reason", "said"),
    [
        (rpc_answer({"status": "No Data, could not get max id."}), "rpc_status", "No Data, could not get max id."),
        (rpc_answer({"status": "Invalid session key"}), "rpc_status", "Invalid session key"),
        (rpc_answer(None, {"code": -32601, "message": "Method not found"}), "rpc_error", "Method not found"),
        (rpc_answer("not base64 at all!"), "malformed", "base64"),
    ],
)
def test_an_answer_that_carries_no_export_says_what_limesurvey_said(answer: bytes, reason: str, said: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        remotecontrol_export(answer)

    assert caught.value.reason == reason
    assert said in caught.value.detail


def test_an_export_beyond_the_bound_is_refused_before_it_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limesurvey, "MAX_EXPORT_BYTES", 1024)

    with pytest.raises(DeliveryError) as caught:
        remotecontrol_export(rpc_answer(base64.b64encode(b"x" * 2048).decode()))

    assert caught.value.reason == "too_large"


def test_a_counted_unfinished_response_with_a_malformed_datestamp_is_refused_naming_it() -> None:
    records = responses()
    records[2]["datestamp"] = "igår"

    with pytest.raises(DeliveryError) as caught:
        parse_limesurvey_json(export(records), mapping(count_unfinished=True))

    assert (caught.value.field, caught.value.reason, caught.value.response_id) == ("datestamp", "malformed", "3")
