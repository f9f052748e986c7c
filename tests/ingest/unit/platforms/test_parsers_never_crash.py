"""Every parser, fed any JSON (shaped like its platform's or not), returns a delivery or raises
DeliveryError: never another exception, which would surface as a 500 to the platform."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tempen_ingest.domain.platforms import (
    DeliveryError,
    PlatformMapping,
    parse_formbricks,
    parse_kobo,
    parse_limesurvey_json,
    parse_typeform,
)

SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8)
)
JSON: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
QUESTIONS = ["q_a", "q_m", "q_o", "grp", "G1", "G2"]


def _maybe(value: Any) -> st.SearchStrategy[Any]:
    return st.just(value) | JSON


def _mapping(platform: str, form_id: str) -> PlatformMapping:
    return PlatformMapping.model_validate(
        {
            "id": f"fuzz-{platform}",
            "platform": platform,
            "form_id": form_id,
            "tenant": "testkommun",
            "instrument": "test-puls",
            "values": {"Bra": 4, "A1": 1},
            "questions": {
                "q_a": "q1",
                "q_m": {"rows": {"r1": "q2", "r2": "q3"}},
                "q_o": {"options": {"x": "o1", "y": "o2"}, "unselected_value": 0},
                "G1": "g1",
                "G2": {"rows": {"SQ001": "g2"}},
            },
            "unit": {"field": "unit", "units": {"k1": "grupp-a1"}} if platform == "kobo" else {"field": "unit"},
            "respondent_field": "who",
            "free_text": ["fri"],
            "keep_free_text": True,
        }
    )


ANSWER_VALUES = (
    JSON | st.sampled_from(["Bra", "4", "x y", "r1"]) | st.dictionaries(st.sampled_from(["r1", "r2", "zz"]), JSON)
)


def _answers() -> st.SearchStrategy[Any]:
    return st.dictionaries(st.sampled_from([*QUESTIONS, "unit", "who", "fri"]), ANSWER_VALUES, max_size=6)


FORMBRICKS = st.fixed_dictionaries(
    {"event": _maybe("responseFinished")},
    optional={
        "data": st.fixed_dictionaries(
            {},
            optional={
                "id": _maybe("r-1"),
                "surveyId": _maybe("s-1"),
                "updatedAt": _maybe("2026-03-04T08:00:00Z"),
                "createdAt": JSON,
                "data": _answers() | JSON,
                "contact": JSON,
                "contactAttributes": JSON,
                "meta": JSON,
                "variables": JSON,
            },
        )
        | JSON
    },
)
TYPEFORM_ANSWER = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["number", "choice", "choices", "boolean", "text"]) | JSON,
        "number": JSON,
        "boolean": JSON,
        "text": JSON,
        "choice": st.fixed_dictionaries({}, optional={"ref": JSON, "id": JSON, "label": _maybe("Bra"), "other": JSON})
        | JSON,
        "choices": st.fixed_dictionaries({}, optional={"refs": JSON, "ids": JSON, "labels": st.lists(JSON)}) | JSON,
        "field": st.fixed_dictionaries({}, optional={"ref": st.sampled_from(QUESTIONS) | JSON, "id": JSON}) | JSON,
    },
)
TYPEFORM = st.fixed_dictionaries(
    {"event_type": _maybe("form_response")},
    optional={
        "event_id": JSON,
        "form_response": st.fixed_dictionaries(
            {},
            optional={
                "form_id": _maybe("f-1"),
                "token": _maybe("t-1"),
                "submitted_at": _maybe("2026-03-04T08:00:00Z"),
                "landed_at": JSON,
                "hidden": st.fixed_dictionaries({}, optional={"unit": JSON, "who": JSON}) | JSON,
                "variables": st.lists(st.fixed_dictionaries({}, optional={"key": JSON, "type": JSON, "text": JSON}))
                | JSON,
                "answers": st.lists(TYPEFORM_ANSWER, max_size=4) | JSON,
            },
        )
        | JSON,
    },
)
KOBO = st.fixed_dictionaries(
    {"_xform_id_string": _maybe("k-1")},
    optional={
        "_uuid": _maybe("u-1"),
        "meta/instanceID": JSON,
        "meta/rootUuid": JSON,
        "_submission_time": _maybe("2026-03-04T08:00:00"),
        "end": JSON,
        "unit": _maybe("k1"),
        "q_a": JSON,
        "q_o": _maybe("x y"),
        "grp/r1": JSON,
        "grp/r2": JSON,
        "q_m": JSON,
    },
)
LIMESURVEY = (
    st.fixed_dictionaries(
        {
            "responses": st.lists(
                st.dictionaries(st.sampled_from(["id", "submitdate", "unit", "G1", "G2[SQ001]", "fri"]), JSON) | JSON,
                max_size=3,
            )
        }
    )
    | JSON
)


def _survives(parse: Any, document: Any, mapping: PlatformMapping) -> None:
    with contextlib.suppress(DeliveryError):
        parse(json.dumps(document).encode(), mapping)


@settings(max_examples=400, deadline=None, database=None)
@given(document=FORMBRICKS)
def test_formbricks_parser_refuses_any_body_with_a_delivery_error_at_worst(document: Any) -> None:
    _survives(parse_formbricks, document, _mapping("formbricks", "s-1"))


@settings(max_examples=400, deadline=None, database=None)
@given(document=TYPEFORM)
def test_typeform_parser_refuses_any_body_with_a_delivery_error_at_worst(document: Any) -> None:
    _survives(parse_typeform, document, _mapping("typeform", "f-1"))


@settings(max_examples=400, deadline=None, database=None)
@given(document=KOBO)
def test_kobo_parser_refuses_any_body_with_a_delivery_error_at_worst(document: Any) -> None:
    _survives(parse_kobo, document, _mapping("kobo", "k-1"))


@settings(max_examples=300, deadline=None, database=None)
@given(document=LIMESURVEY)
def test_limesurvey_parser_refuses_any_export_with_a_delivery_error_at_worst(document: Any) -> None:
    _survives(parse_limesurvey_json, document, _mapping("limesurvey", "l-1"))
