from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tempen_ingest.domain.platforms import PlatformMapping, QuestionMapping

DOCS = Path(__file__).parents[4] / "docs" / "platforms.md"
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)


def spec(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "hjo-puls-formbricks",
        "platform": "formbricks",
        "form_id": "cm7surveyhjo0000puls2026",
        "tenant": "hjo",
        "instrument": "hjo-puls",
        "questions": {"q1": "hjo-us-1"},
        "unit": {"field": "unit"},
    }
    base.update(overrides)
    return base


def test_the_documentation_shows_one_mapping_per_platform_and_a_general_one() -> None:
    platforms = sorted(yaml.safe_load(block)["platform"] for block in YAML_BLOCKS)

    assert platforms == [
        "formbricks",
        "formbricks",
        "kobo",
        "limesurvey",
        "qualtrics",
        "spreadsheet",
        "spreadsheet",
        "surveymonkey",
        "typeform",
    ]


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=lambda block: block.split("\n", 1)[0])
def test_every_mapping_in_the_documentation_is_valid(block: str) -> None:
    mapping = PlatformMapping.model_validate(yaml.safe_load(block))

    assert mapping.questions


def test_a_bare_item_id_is_shorthand_for_a_single_valued_question() -> None:
    mapping = PlatformMapping.model_validate(spec())

    assert mapping.questions["q1"] == QuestionMapping(item="hjo-us-1")


@pytest.mark.parametrize(
    "question",
    [{}, {"item": "a", "rows": {"r": "b"}}, {"rows": {"r": "b"}, "options": {"o": "c"}}],
    ids=["none", "item-and-rows", "rows-and-options"],
)
def test_a_question_maps_to_exactly_one_of_item_rows_or_options(question: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="exactly one of item, rows or options"):
        PlatformMapping.model_validate(spec(questions={"q1": question}))


def test_a_free_text_question_cannot_also_feed_an_item() -> None:
    with pytest.raises(ValidationError, match="free-text questions cannot also be mapped"):
        PlatformMapping.model_validate(spec(free_text=["q1"]))


def test_an_item_fed_by_two_questions_is_refused() -> None:
    questions = {"q1": "hjo-us-1", "q2": {"rows": {"SQ001": "hjo-us-1"}}}

    with pytest.raises(ValidationError, match="items fed by more than one question: hjo-us-1"):
        PlatformMapping.model_validate(spec(questions=questions))


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        PlatformMapping.model_validate(spec(timezone="Europe/Hjo"))


def test_a_misspelt_key_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ValidationError, match="respondant_field"):
        PlatformMapping.model_validate(spec(respondant_field="token"))


def test_a_kobo_verification_names_a_header_or_a_basic_auth_user() -> None:
    with pytest.raises(ValidationError, match="needs header"):
        PlatformMapping.model_validate(spec(platform="kobo", verification={"secret": {"env": "X"}}))


def test_a_signed_platform_takes_only_a_secret() -> None:
    with pytest.raises(ValidationError, match=r"give only verification\.secret"):
        PlatformMapping.model_validate(spec(verification={"secret": {"env": "X"}, "header": "X-Kobo-Token"}))


def test_a_secret_written_inline_is_refused() -> None:
    with pytest.raises(ValidationError):
        PlatformMapping.model_validate(spec(verification={"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}))


def test_a_mapping_is_immutable() -> None:
    mapping = PlatformMapping.model_validate(spec())

    with pytest.raises(ValidationError):
        mapping.tenant = "ljungby"  # type: ignore[misc]
