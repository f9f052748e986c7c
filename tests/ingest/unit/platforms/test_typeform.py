# Payload: tests/ingest/fixtures/platforms/typeform/form_response.json, shaped like
# https://www.typeform.com/developers/webhooks/example-payload/ ; signature per
# https://www.typeform.com/developers/webhooks/secure-your-webhooks/ (see the fixtures' README).
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tempen_ingest.domain.platforms import DeliveryError, PlatformMapping, parse_typeform
from tempen_ingest.domain.signatures import SignatureError, sign_typeform, verify_typeform
from tests.ingest.unit.platforms.fixture_files import as_body, fixture_bytes, fixture_json

TOKEN = "a3a12ec67a1365927098a606107fac15"


def mapping(**overrides: Any) -> PlatformMapping:
    spec: dict[str, Any] = {
        "id": "hjo-puls-typeform",
        "platform": "typeform",
        "form_id": "hJo2026p",
        "tenant": "hjo",
        "instrument": "medarbetarpuls",
        "questions": {
            "trust_manager": "lead-trust",
            "clarity_goals": "goal-clarity",
            "recognition": "recognition",
            "workload": {
                "item": "workload",
                "values": {"workload-never": 1, "workload-sometimes": 2, "workload-often": 3, "workload-always": 4},
            },
            "support_sources": {
                "options": {"support-manager": "support-manager", "support-colleagues": "support-colleagues"},
            },
            "would_recommend": {"item": "recommend", "values": {"true": 1, "false": 0}},
        },
        "unit": {"field": "unit"},
        "respondent_field": "respondent",
        "free_text": ["open_comment"],
    }
    spec.update(overrides)
    return PlatformMapping.model_validate(spec)


def delivery() -> dict[str, Any]:
    document: dict[str, Any] = fixture_json("typeform", "form_response.json")
    return document


def test_a_form_response_becomes_one_submission_with_typed_answers_mapped() -> None:
    parsed = parse_typeform(fixture_bytes("typeform", "form_response.json"), mapping())

    (submission,) = parsed.submissions
    assert submission.answers == {
        "lead-trust": 4,
        "goal-clarity": 3,
        "workload": 3,
        "support-manager": 1,
        "support-colleagues": 1,
        "recommend": 1,
    }
    assert submission.submission_id == TOKEN
    assert submission.submitted_at == datetime(2026, 3, 4, 8, 17, 2, tzinfo=UTC)
    assert (submission.unit, submission.respondent) == ("hjo-hemtjanst-norr", "emp-0042")


def test_the_delivery_id_is_the_event_id_and_the_response_token() -> None:
    parsed = parse_typeform(fixture_bytes("typeform", "form_response.json"), mapping())

    assert parsed.delivery_id == f"01JNQ7X4ZK8M2P5R9T3V6W1Y0B:{TOKEN}"


def test_questions_may_be_named_by_field_id_instead_of_ref() -> None:
    by_id = mapping(questions={"NRsxU591jIW9": "lead-trust", "WOTdC00F8A3h": "goal-clarity"})

    (submission,) = parse_typeform(fixture_bytes("typeform", "form_response.json"), by_id).submissions

    assert submission.answers == {"lead-trust": 4, "goal-clarity": 3}


def test_choices_may_be_named_by_label_or_choice_id() -> None:
    by_label = mapping(
        questions={
            "workload": {"item": "workload", "values": {"Aldrig": 1, "Ibland": 2, "Ganska ofta": 3, "Alltid": 4}},
            "support_sources": {"options": {"eXnU3oA141Cg": "support-manager", "HR": "support-hr"}},
        }
    )
    document = delivery()
    answers = document["form_response"]["answers"]
    answers[4]["choices"] = {"ids": ["eXnU3oA141Cg"], "refs": ["support-manager"], "labels": ["Min chef"]}

    (submission,) = parse_typeform(as_body(document), by_label).submissions

    assert submission.answers == {"workload": 3, "support-manager": 1}


def test_an_unanswered_question_is_absent() -> None:
    (submission,) = parse_typeform(fixture_bytes("typeform", "form_response.json"), mapping()).submissions

    assert "recognition" not in submission.answers


def test_free_text_is_dropped_unless_the_tenant_opts_in() -> None:
    dropped = parse_typeform(fixture_bytes("typeform", "form_response.json"), mapping())
    kept = parse_typeform(fixture_bytes("typeform", "form_response.json"), mapping(keep_free_text=True))

    assert dropped.free_text == ()
    assert [(t.question, t.text) for t in kept.free_text] == [
        ("open_comment", "Vi behöver mer tid för planering på måndagar.")
    ]
    assert kept.submissions[0].answers == dropped.submissions[0].answers


def test_a_partial_response_event_is_skipped_as_unfinished() -> None:
    document = delivery()
    document["event_type"] = "form_response_partial"
    document["form_response"]["answers"] = document["form_response"]["answers"][:2]

    parsed = parse_typeform(as_body(document), mapping())

    assert parsed.submissions == ()
    assert parsed.skipped == ((TOKEN, "unfinished"),)
    assert parsed.delivery_id == f"01JNQ7X4ZK8M2P5R9T3V6W1Y0B:{TOKEN}"


def test_a_partial_response_event_updates_the_same_submission_when_unfinished_ones_count() -> None:
    document = delivery()
    document["event_type"] = "form_response_partial"
    document["form_response"]["answers"] = document["form_response"]["answers"][:2]

    (submission,) = parse_typeform(as_body(document), mapping(count_unfinished=True)).submissions

    assert submission.submission_id == TOKEN
    assert submission.answers == {"lead-trust": 4, "goal-clarity": 3}


def test_other_event_types_are_ignored() -> None:
    document = delivery()
    document["event_type"] = "form_deleted"

    parsed = parse_typeform(as_body(document), mapping())

    assert parsed.submissions == ()
    assert parsed.ignored is not None


def test_a_delivery_for_another_form_is_refused() -> None:
    with pytest.raises(DeliveryError) as caught:
        parse_typeform(fixture_bytes("typeform", "form_response.json"), mapping(form_id="lT4Z3j"))

    assert (caught.value.field, caught.value.reason) == ("form_response.form_id", "form_mismatch")


def test_a_response_without_the_unit_hidden_field_is_refused_naming_the_field() -> None:
    document = delivery()
    del document["form_response"]["hidden"]["unit"]

    with pytest.raises(DeliveryError) as caught:
        parse_typeform(as_body(document), mapping())

    assert (caught.value.field, caught.value.reason) == ("unit", "missing_unit")


def test_several_choices_for_a_single_valued_item_are_refused() -> None:
    single = mapping(questions={"support_sources": {"item": "support", "values": {"Min chef": 1, "Mina kollegor": 2}}})

    with pytest.raises(DeliveryError) as caught:
        parse_typeform(fixture_bytes("typeform", "form_response.json"), single)

    assert (caught.value.field, caught.value.reason) == ("support_sources", "unexpected_shape")


def test_a_signed_delivery_verifies_on_its_raw_bytes_and_a_changed_byte_does_not() -> None:
    secret = "7d1c4f0a9b2e8d3c6a5f4e1b0c9d8e7f6a5b4c3d"
    body = fixture_bytes("typeform", "form_response.json")
    header = sign_typeform(secret=secret, body=body)

    verify_typeform(secret=secret, signature_header=header, body=body)
    with pytest.raises(SignatureError):
        verify_typeform(secret=secret, signature_header=header, body=body.replace(b'"number": 4', b'"number": 5'))


# The documented example names each answer's question by field.id only; refs are in definition.fields.
DOCUMENTED = "form_response_documented.json"


def documented() -> dict[str, Any]:
    document: dict[str, Any] = fixture_json("typeform", DOCUMENTED)
    return document


def seven_by_ref() -> PlatformMapping:
    base = mapping()
    return mapping(questions={**base.questions, "years_at_workplace": {"item": "years"}})


def test_answers_named_by_field_id_only_are_joined_to_the_refs_of_the_definition() -> None:
    parsed = parse_typeform(fixture_bytes("typeform", DOCUMENTED), seven_by_ref())

    (submission,) = parsed.submissions
    assert submission.answers == {
        "lead-trust": 4,
        "goal-clarity": 3,
        "years": 7,
        "workload": 3,  # the answer gives the label only; the mapping names the choice's ref
        "support-manager": 1,
        "support-colleagues": 1,
        "recommend": 1,
        "recognition": 5,
    }


def test_free_text_named_by_ref_is_found_through_the_definition_too() -> None:
    kept = parse_typeform(fixture_bytes("typeform", DOCUMENTED), mapping(keep_free_text=True))

    assert [(t.question, t.text) for t in kept.free_text] == [
        ("open_comment", "Vi behöver mer tid för planering på måndagar.")
    ]


def test_an_answer_that_names_no_question_is_refused_rather_than_dropped() -> None:
    document = documented()
    del document["form_response"]["answers"][1]["field"]  # clarity_goals' answer, now unattributable

    with pytest.raises(DeliveryError) as caught:
        parse_typeform(as_body(document), seven_by_ref())

    assert (caught.value.field, caught.value.reason) == ("clarity_goals", "unattributed_answer")


def test_an_unattributable_answer_does_not_block_a_response_whose_mapped_questions_are_all_answered() -> None:
    document = documented()
    document["form_response"]["answers"].append({"type": "text", "text": "x", "field": {"type": "short_text"}})

    (submission,) = parse_typeform(as_body(document), seven_by_ref()).submissions

    assert len(submission.answers) == 8


def test_a_mapped_answer_of_a_type_tempen_cannot_read_is_refused() -> None:
    document = documented()
    document["form_response"]["answers"][0] = {
        "type": "payment",
        "payment": {"amount": "4"},
        "field": {"id": "NRsxU591jIW9", "type": "payment"},
    }

    with pytest.raises(DeliveryError) as caught:
        parse_typeform(as_body(document), seven_by_ref())

    assert (caught.value.field, caught.value.reason) == ("trust_manager", "unreadable_answer")


def test_an_other_choice_counts_as_unanswered() -> None:
    document = documented()
    document["form_response"]["answers"][3]["choice"] = {"other": "Varje dag"}

    (submission,) = parse_typeform(as_body(document), seven_by_ref()).submissions

    assert "workload" not in submission.answers


def test_matrix_rows_are_found_by_the_refs_nested_in_the_definition() -> None:
    document = documented()
    response = document["form_response"]
    response["definition"]["fields"].append(
        {
            "id": "mAtRiX000001",
            "type": "matrix",
            "ref": "team_matrix",
            "properties": {
                "fields": [
                    {"id": "rOw000000001", "type": "multiple_choice", "ref": "team_help"},
                    {"id": "rOw000000002", "type": "multiple_choice", "ref": "team_trust"},
                ]
            },
        }
    )
    response["answers"].append(
        {"type": "choice", "choice": {"label": "4"}, "field": {"id": "rOw000000002", "type": "multiple_choice"}}
    )

    (submission,) = parse_typeform(as_body(document), mapping(questions={"team_trust": "team-trust"})).submissions

    assert submission.answers == {"team-trust": 4}
