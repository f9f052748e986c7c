# Payloads: tests/ingest/fixtures/platforms/formbricks, shaped like the examples in formbricks/formbricks
# docs/platform/features/integrations/webhooks.mdx and the body built in
# apps/web/modules/response-pipeline/lib/process-response-pipeline-job.ts (see the fixtures' README).
from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from tempen_ingest.domain.platforms import DeliveryError, PlatformMapping, is_formbricks_test_ping, parse_formbricks
from tempen_ingest.domain.signatures import sign_standard_webhook, verify_standard_webhook
from tests.ingest.unit.platforms.fixture_files import as_body, fixture_bytes, fixture_json

AGREEMENT = {
    "Instämmer inte alls": 1,
    "Instämmer till viss del": 2,
    "Varken eller": 3,
    "Instämmer delvis": 4,
    "Instämmer helt": 5,
    "Vet ej": 9,
}


def mapping(**overrides: Any) -> PlatformMapping:
    spec: dict[str, Any] = {
        "id": "hjo-puls-formbricks",
        "platform": "formbricks",
        "form_id": "cm7surveyhjo0000puls2026",
        "tenant": "hjo",
        "instrument": "medarbetarpuls",
        "questions": {
            "trust_manager": "lead-trust",
            "clarity_goals": "goal-clarity",
            "recognition": "recognition",
            "leadership_matrix": {
                "rows": {
                    "Min chef lyssnar på mig": "lead-listens",
                    "Min chef ger mig återkoppling": "lead-feedback",
                    "Min chef är tillgänglig": "lead-available",
                },
                "values": AGREEMENT,
            },
            "workload": {"item": "workload", "values": {"Aldrig": 1, "Ibland": 2, "Ganska ofta": 3, "Alltid": 4}},
            "support_sources": {
                "options": {"Min chef": "support-manager", "Mina kollegor": "support-colleagues", "HR": "support-hr"},
                "unselected_value": 0,
            },
        },
        "unit": {"field": "unit"},
        "respondent_field": "contact.userId",
        "free_text": ["open_comment"],
    }
    spec.update(overrides)
    return PlatformMapping.model_validate(spec)


def finished() -> dict[str, Any]:
    document: dict[str, Any] = fixture_json("formbricks", "response_finished.json")
    return document


def test_a_finished_response_becomes_one_submission_with_every_mapped_answer() -> None:
    parsed = parse_formbricks(fixture_bytes("formbricks", "response_finished.json"), mapping())

    (submission,) = parsed.submissions
    assert submission.answers == {
        "lead-trust": 4,
        "goal-clarity": 5,
        "lead-listens": 5,
        "lead-feedback": 4,
        "lead-available": 9,
        "workload": 3,
        "support-manager": 1,
        "support-colleagues": 1,
        "support-hr": 0,
    }
    assert (submission.tenant, submission.instrument, submission.unit) == (
        "hjo",
        "medarbetarpuls",
        "hjo-hemtjanst-norr",
    )
    assert submission.submission_id == "rk2p9x7m4t1v8s3b6n0q5w2y"
    assert submission.submitted_at == datetime(2026, 3, 4, 8, 49, 56, 116000, tzinfo=UTC)
    assert submission.respondent == "emp-0042"


def test_an_unfinished_response_is_skipped_with_its_reason_and_the_finished_one_stored() -> None:
    events = ["response_created.json", "response_updated.json", "response_finished.json"]

    created, updated, finished = (parse_formbricks(fixture_bytes("formbricks", name), mapping()) for name in events)

    assert created.submissions == updated.submissions == ()
    assert created.skipped == updated.skipped == (("rk2p9x7m4t1v8s3b6n0q5w2y", "unfinished"),)
    assert len(finished.submissions[0].answers) == 9


def test_every_event_of_one_response_updates_the_same_submission_when_unfinished_ones_count() -> None:
    events = ["response_created.json", "response_updated.json", "response_finished.json"]
    counting = mapping(count_unfinished=True)

    submissions = [parse_formbricks(fixture_bytes("formbricks", name), counting).submissions[0] for name in events]

    assert {s.submission_id for s in submissions} == {"rk2p9x7m4t1v8s3b6n0q5w2y"}
    assert [len(s.answers) for s in submissions] == [1, 4, 9]
    assert submissions[1].answers == {"lead-trust": 4, "goal-clarity": 5, "lead-listens": 5, "lead-feedback": 4}


def test_an_unanswered_question_is_absent_not_zero() -> None:
    (submission,) = parse_formbricks(fixture_bytes("formbricks", "response_finished.json"), mapping()).submissions

    assert "recognition" not in submission.answers


def test_free_text_is_dropped_unless_the_tenant_opts_in() -> None:
    parsed = parse_formbricks(fixture_bytes("formbricks", "response_finished.json"), mapping())

    assert parsed.free_text == ()
    assert "open_comment" not in parsed.submissions[0].answers


def test_free_text_is_passed_beside_the_answers_when_the_tenant_opts_in() -> None:
    parsed = parse_formbricks(fixture_bytes("formbricks", "response_finished.json"), mapping(keep_free_text=True))

    (text,) = parsed.free_text
    assert (text.submission_id, text.question) == ("rk2p9x7m4t1v8s3b6n0q5w2y", "open_comment")
    assert text.text == "Vi behöver mer tid för planering på måndagar."
    assert all(isinstance(value, int) for value in parsed.submissions[0].answers.values())


def test_the_test_endpoint_ping_is_accepted_and_ignored() -> None:
    parsed = parse_formbricks(fixture_bytes("formbricks", "test_endpoint.json"), mapping())

    assert parsed.submissions == ()
    assert parsed.ignored == "test ping"


def test_only_the_bare_test_ping_is_recognised_as_one() -> None:
    assert is_formbricks_test_ping(fixture_bytes("formbricks", "test_endpoint.json"))
    assert is_formbricks_test_ping(b'{"event": "testEndpoint"}')
    assert not is_formbricks_test_ping(b'{"event": "testEndpoint", "data": {"id": "r1"}}')
    assert not is_formbricks_test_ping(fixture_bytes("formbricks", "response_finished.json"))
    assert not is_formbricks_test_ping(b"not json")


def test_a_response_with_no_mapped_answer_yet_is_skipped_with_a_reason() -> None:
    document = finished()
    document["data"]["data"] = {"unit": "hjo-hemtjanst-norr", "welcome_card_cta": "clicked"}

    parsed = parse_formbricks(as_body(document), mapping())

    assert parsed.submissions == ()
    assert parsed.skipped == (("rk2p9x7m4t1v8s3b6n0q5w2y", "no_mapped_answers"),)


def test_unknown_fields_and_unmapped_questions_are_ignored() -> None:
    document = finished()
    document["newTopLevelField"] = {"added": "later"}
    document["data"]["quotas"] = [{"id": "q1"}]
    document["data"]["data"]["nps_not_in_mapping"] = 10

    (submission,) = parse_formbricks(as_body(document), mapping()).submissions

    assert submission.answers == parse_formbricks(as_body(finished()), mapping()).submissions[0].answers


def test_a_response_without_the_unit_hidden_field_is_refused_naming_the_field() -> None:
    document = finished()
    del document["data"]["data"]["unit"]

    with pytest.raises(DeliveryError) as caught:
        parse_formbricks(as_body(document), mapping())

    assert (caught.value.field, caught.value.reason) == ("unit", "missing_unit")


def test_the_unit_may_come_from_a_contact_attribute() -> None:
    (submission,) = parse_formbricks(
        as_body(finished()), mapping(unit={"field": "contactAttributes.enhet"})
    ).submissions

    assert submission.unit == "hjo-kontaktcenter"


def test_the_unit_may_be_looked_up_by_respondent() -> None:
    lookup = mapping(unit={"field": "contact.userId", "units": {"emp-0042": "hjo-ekonomi"}})

    (submission,) = parse_formbricks(as_body(finished()), lookup).submissions

    assert submission.unit == "hjo-ekonomi"


def test_a_respondent_missing_from_the_unit_table_is_refused() -> None:
    lookup = mapping(unit={"field": "contact.userId", "units": {"emp-0001": "hjo-ekonomi"}})

    with pytest.raises(DeliveryError) as caught:
        parse_formbricks(as_body(finished()), lookup)

    assert (caught.value.field, caught.value.reason) == ("contact.userId", "unknown_unit_key")


def test_an_anonymous_response_has_no_respondent() -> None:
    document = finished()
    document["data"]["contact"] = None

    (submission,) = parse_formbricks(as_body(document), mapping()).submissions

    assert submission.respondent is None


def test_a_delivery_for_another_survey_is_refused() -> None:
    with pytest.raises(DeliveryError) as caught:
        parse_formbricks(as_body(finished()), mapping(form_id="cm7anothersurvey00000000"))

    assert (caught.value.field, caught.value.reason) == ("data.surveyId", "form_mismatch")


def test_an_answer_label_the_mapping_does_not_know_is_refused_naming_the_question() -> None:
    document = finished()
    document["data"]["data"]["workload"] = "Varje dag"

    with pytest.raises(DeliveryError) as caught:
        parse_formbricks(as_body(document), mapping())

    assert (caught.value.field, caught.value.reason) == ("workload", "unmapped_answer")


def test_labels_match_without_regard_to_case_and_spaces() -> None:
    document = finished()
    document["data"]["data"]["workload"] = "  ganska OFTA "

    (submission,) = parse_formbricks(as_body(document), mapping()).submissions

    assert submission.answers["workload"] == 3


def test_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(DeliveryError) as caught:
        parse_formbricks(b"<html>", mapping())

    assert (caught.value.field, caught.value.reason) == ("body", "malformed")


def test_a_signed_delivery_is_verified_on_its_raw_bytes_before_it_is_parsed() -> None:
    secret = "whsec_" + base64.b64encode(b"formbricks-webhook-secret-32byte").decode()
    body = fixture_bytes("formbricks", "response_finished.json")
    sent = datetime(2026, 3, 4, 8, 49, 57, tzinfo=UTC)
    headers = {
        "webhook-id": "0a8f5c2e9d41b7f3",
        "webhook-timestamp": str(int(sent.timestamp())),
        "webhook-signature": sign_standard_webhook(
            secret=secret, msg_id="0a8f5c2e9d41b7f3", timestamp=int(sent.timestamp()), body=body
        ),
    }

    delivery_id = verify_standard_webhook(secret=secret, headers=headers, body=body, now=sent)
    parsed = parse_formbricks(body, mapping())

    assert delivery_id == "0a8f5c2e9d41b7f3"
    assert parsed.submissions[0].submission_id == "rk2p9x7m4t1v8s3b6n0q5w2y"
