"""The event contracts: golden examples still parse, every topic has examples, the registry is sound."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from tempen_shared.events import DeadLetter, UnitScoredV2, parse_submission_event, parse_unit_scored
from tempen_shared.topics import EXAMPLE_FOLDERS, SCORES, SUBMISSIONS, TOPICS, all_topic_names, partition_key

EXAMPLES = Path(str(resources.files("tempen_shared") / "examples"))
ALL_EXAMPLES = sorted(EXAMPLES.glob("*/v*/*.json"))
MODEL_BY_FOLDER = {folder: model for model, folder in EXAMPLE_FOLDERS.items()} | {"dead-letter": DeadLetter}
# Contracts with older versions: their parse function upcasts every version to the current model.
PARSERS = {"unit-scored": parse_unit_scored}


@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}")
def test_every_golden_example_parses_into_the_current_model(path: Path) -> None:
    folder = path.parent.parent.name
    model: type[BaseModel] = MODEL_BY_FOLDER[folder]
    parse = PARSERS.get(folder)
    parsed = parse(path.read_bytes()) if parse else model.model_validate(json.loads(path.read_text()))
    assert type(parsed) is model
    assert parsed.model_dump(mode="json", exclude_unset=True)


def test_a_v1_score_event_is_read_as_a_v2_event_of_its_one_dimension() -> None:
    v1 = json.loads((EXAMPLES / "unit-scored/v1/basic.json").read_text())
    upcast = parse_unit_scored(json.dumps(v1))
    assert (upcast.unit, upcast.scope, upcast.period, upcast.respondents, upcast.sequence) == (
        v1["unit"],
        v1["scope"],
        v1["period"],
        v1["respondents"],
        v1["sequence"],
    )
    assert {d: f.model_dump() for d, f in upcast.dimensions.items()} == {
        v1["dimension"]: {k: v1[k] for k in ("index", "standard_error", "favourable_pct", "tenant_index")}
    }


def test_every_topic_contract_has_golden_examples() -> None:
    for topic in TOPICS:
        for model in (topic.current, *topic.also):
            folder = EXAMPLES / EXAMPLE_FOLDERS[model]
            assert list(folder.glob("v*/*.json")), f"{topic.name}: no example for {model.__name__}"


def test_submission_topic_records_are_told_apart_by_event_type() -> None:
    accepted = (EXAMPLES / "submission-accepted/v1/basic.json").read_bytes()
    retracted = (EXAMPLES / "submission-retracted/v1/erasure.json").read_bytes()
    assert type(parse_submission_event(accepted)).__name__ == "SubmissionAcceptedV1"
    assert type(parse_submission_event(retracted)).__name__ == "SubmissionRetractedV1"


def test_a_newer_schema_version_is_refused_not_half_read() -> None:
    document = json.loads((EXAMPLES / "unit-scored/v2/basic.json").read_text())
    with pytest.raises(ValidationError):
        parse_unit_scored(json.dumps({**document, "schema_version": 3}))
    with pytest.raises(ValidationError):
        UnitScoredV2.model_validate({**document, "dimensions": {}})


def test_naive_timestamps_are_refused() -> None:
    document = json.loads((EXAMPLES / "submission-accepted/v1/basic.json").read_text())
    with pytest.raises(ValidationError):
        MODEL_BY_FOLDER["submission-accepted"].model_validate({**document, "submitted_at": "2026-10-14T08:31:00"})


def test_every_topic_has_a_dead_letter_topic_and_keys_keep_a_unit_on_one_partition() -> None:
    names = all_topic_names()
    for topic in TOPICS:
        assert names[topic.name] == topic.partitions
        assert names[topic.dead_letters] >= 1
    assert partition_key("hjo", "enhet-1") == partition_key("hjo", "enhet-1") != partition_key("hjo", "enhet-2")


def test_submissions_are_keyed_by_tenant_so_one_scoring_replica_owns_a_tenants_tree() -> None:
    assert SUBMISSIONS.key_of("hjo", "enhet-1") == SUBMISSIONS.key_of("hjo", "enhet-2") == b"hjo"
    assert SUBMISSIONS.key_of("hjo", "enhet-1") != SUBMISSIONS.key_of("ljungby", "enhet-1")
    assert SCORES.key_of("hjo", "enhet-1") == partition_key("hjo", "enhet-1"), "scores stay keyed by unit"


def test_examples_hold_no_real_looking_personal_data() -> None:
    for path in ALL_EXAMPLES:
        text = path.read_text()
        assert "@" not in text, f"{path.name}: e-mail addresses have no place in event examples"
