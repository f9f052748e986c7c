# Payload: tests/ingest/fixtures/platforms/kobo/submission.json, shaped like kobotoolbox/kpi
# jsapp/js/components/submissions/submissionUtils.mocks.ts (simpleSurveySubmission), which the REST
# service posts as JSON (kobo/apps/hook/services/service_json.py); see the fixtures' README.
from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from tempen_ingest.domain.platforms import DeliveryError, PlatformMapping, parse_kobo
from tempen_ingest.domain.signatures import verify_basic_auth
from tests.ingest.unit.platforms.fixture_files import as_body, fixture_bytes, fixture_json

ROOT_UUID = "faa38eee-4e3f-419e-bac0-e95f1085d998"


def mapping(**overrides: Any) -> PlatformMapping:
    spec: dict[str, Any] = {
        "id": "hjo-puls-kobo",
        "platform": "kobo",
        "form_id": "aQk5Uj3nPb6wzX2cFmR8tD",
        "tenant": "hjo",
        "instrument": "medarbetarpuls",
        "questions": {
            "fortroende": "lead-trust",
            "grp_ledarskap": {
                "rows": {
                    "chef_lyssnar": "lead-listens",
                    "chef_aterkoppling": "lead-feedback",
                    "chef_tillganglig": "lead-available",
                    "chef_erkannande": "recognition",
                },
                "values": {"vet_ej": 9},
            },
            "arbetsbelastning": {
                "item": "workload",
                "values": {"aldrig": 1, "ibland": 2, "ganska_ofta": 3, "alltid": 4},
            },
            "stod": {
                "options": {"chef": "support-manager", "kollegor": "support-colleagues", "hr": "support-hr"},
                "unselected_value": 0,
            },
        },
        "unit": {"field": "enhet"},
        "respondent_field": "_submitted_by",
        "free_text": ["kommentar"],
        "verification": {"secret": {"env": "HJO_KOBO_PASSWORD"}, "username": "kobo-hjo"},
    }
    spec.update(overrides)
    return PlatformMapping.model_validate(spec)


def submission_document() -> dict[str, Any]:
    document: dict[str, Any] = fixture_json("kobo", "submission.json")
    return document


def test_a_submission_becomes_one_canonical_submission_with_numbers_read_from_strings() -> None:
    parsed = parse_kobo(fixture_bytes("kobo", "submission.json"), mapping())

    (submission,) = parsed.submissions
    assert submission.answers == {
        "lead-trust": 4,
        "lead-listens": 4,
        "lead-feedback": 5,
        "lead-available": 9,
        "workload": 3,
        "support-manager": 1,
        "support-colleagues": 1,
        "support-hr": 0,
    }
    assert submission.unit == "hjo-hemtjanst-norr"
    assert submission.submitted_at == datetime(2026, 3, 4, 8, 15, 47, tzinfo=UTC)
    assert submission.respondent is None


def test_the_submission_id_is_the_root_uuid_and_the_delivery_id_is_the_instance_uuid() -> None:
    document = submission_document()
    document["_uuid"] = "0b6e1a9c-2d4f-4c8e-9a7b-5f3e2d1c0b9a"
    document["meta/instanceID"] = "uuid:0b6e1a9c-2d4f-4c8e-9a7b-5f3e2d1c0b9a"
    document["meta/deprecatedID"] = f"uuid:{ROOT_UUID}"

    parsed = parse_kobo(as_body(document), mapping())

    assert parsed.submissions[0].submission_id == ROOT_UUID
    assert parsed.delivery_id == "0b6e1a9c-2d4f-4c8e-9a7b-5f3e2d1c0b9a"


def test_without_a_root_uuid_the_instance_uuid_names_the_submission() -> None:
    document = submission_document()
    del document["meta/rootUuid"]

    parsed = parse_kobo(as_body(document), mapping())

    assert parsed.submissions[0].submission_id == ROOT_UUID


def test_questions_in_a_group_may_be_named_by_full_path_or_bare_name() -> None:
    by_path = mapping(questions={"grp_ledarskap/chef_lyssnar": "lead-listens", "chef_aterkoppling": "lead-feedback"})

    (submission,) = parse_kobo(fixture_bytes("kobo", "submission.json"), by_path).submissions

    assert submission.answers == {"lead-listens": 4, "lead-feedback": 5}


def test_an_unanswered_question_in_a_group_is_absent() -> None:
    (submission,) = parse_kobo(fixture_bytes("kobo", "submission.json"), mapping()).submissions

    assert "recognition" not in submission.answers


def test_free_text_is_dropped_unless_the_tenant_opts_in() -> None:
    dropped = parse_kobo(fixture_bytes("kobo", "submission.json"), mapping())
    kept = parse_kobo(fixture_bytes("kobo", "submission.json"), mapping(keep_free_text=True))

    assert dropped.free_text == ()
    assert [t.question for t in kept.free_text] == ["kommentar"]
    assert "kommentar" not in kept.submissions[0].answers


def test_the_submitting_account_is_the_respondent_when_there_is_one() -> None:
    document = submission_document()
    document["_submitted_by"] = "enumerator7"

    (submission,) = parse_kobo(as_body(document), mapping()).submissions

    assert submission.respondent == "enumerator7"


def test_a_submission_without_the_unit_field_is_refused_naming_the_field() -> None:
    document = submission_document()
    del document["enhet"]

    with pytest.raises(DeliveryError) as caught:
        parse_kobo(as_body(document), mapping())

    assert (caught.value.field, caught.value.reason) == ("enhet", "missing_unit")


def test_a_submission_for_another_project_is_refused() -> None:
    with pytest.raises(DeliveryError) as caught:
        parse_kobo(fixture_bytes("kobo", "submission.json"), mapping(form_id="afKfAnPYX3X7kojqM2cJDb"))

    assert (caught.value.field, caught.value.reason) == ("_xform_id_string", "form_mismatch")


def test_a_field_subset_without_the_project_id_is_refused_naming_it() -> None:
    document = submission_document()
    del document["_xform_id_string"]

    with pytest.raises(DeliveryError) as caught:
        parse_kobo(as_body(document), mapping())

    assert (caught.value.field, caught.value.reason) == ("_xform_id_string", "missing")


def test_a_select_one_choice_name_the_mapping_does_not_know_is_refused() -> None:
    document = submission_document()
    document["arbetsbelastning"] = "varje_dag"

    with pytest.raises(DeliveryError) as caught:
        parse_kobo(as_body(document), mapping())

    assert (caught.value.field, caught.value.reason) == ("arbetsbelastning", "unmapped_answer")


def test_the_rest_service_basic_credentials_are_checked_before_parsing() -> None:
    header = "Basic " + base64.b64encode(b"kobo-hjo:correct horse battery").decode()

    verify_basic_auth(username="kobo-hjo", password="correct horse battery", authorization_header=header)
    assert parse_kobo(fixture_bytes("kobo", "submission.json"), mapping()).submissions
