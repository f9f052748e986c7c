"""The msgspec structs of the hot paths against the pydantic events they stand for: the same bytes out,
and for any record in, the same acceptance with the same values, or the same refusal."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from typing import Any, Literal, get_args
from uuid import UUID

import msgspec
import orjson
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, BaseModel, ValidationError

from tempen_shared.events import (
    CanonicalSubmission,
    DimensionScore,
    SubmissionAcceptedV1,
    SubmissionRetractedV1,
    UnitScoredV2,
    parse_submission_event,
    parse_unit_scored,
    wire,
)
from tempen_shared.events.wire import (
    CanonicalSubmissionRecord,
    DimensionScoreRecord,
    SubmissionAcceptedRecord,
    SubmissionRetractedRecord,
    UnitScoredRecord,
    encode_event,
    read_canonical,
    read_submission_event,
    read_unit_scored,
    record_of,
    score_record_of,
)

EVENT_ID = "5125dadb-070f-405d-82fd-edb12e9b564b"
ACCEPTED: dict[str, Any] = {
    "event_id": EVENT_ID,
    "occurred_at": "2025-03-04T05:06:07.123456Z",
    "schema_version": 1,
    "tenant": "hjo",
    "instrument": "hjo-puls",
    "unit": "grupp-a1",
    "submission_id": "2025-03-e000497",
    "revision": 1,
    "submitted_at": "2025-03-01T02:59:37+01:00",
    "answers": {"hme-1": 4, "hme-2": 5, "hjo-us-1": 9},
    "respondent": "p-0123456789abcdef0123456789abcdef",
}
RETRACTED: dict[str, Any] = {
    "event_id": EVENT_ID,
    "occurred_at": "2025-03-04T05:06:07Z",
    "schema_version": 1,
    "event_type": "submission_retracted",
    "tenant": "hjo",
    "unit": "grupp-a1",
    "submission_id": "2025-03-e000497",
    "revision": 2,
    "respondent": None,
    "reason": "erasure",
}

TIMES = [
    "2025-03-01T02:59:37Z",
    "2025-03-01T02:59:37.5+01:00",
    "2025-03-01T02:59:37.1234567Z",
    "2025-03-01T02:59:37.9999999Z",
    "2025-03-01T02:59:37,5Z",
    "2025-03-01 02:59:37z",
    "2025-03-01t02:59:37Z",
    "2025-03-01T02:59Z",
    "2025-03-01T02:59:60Z",
    "2025-03-01T24:00:00Z",
    "2025-02-29T00:00:00Z",
    "2024-02-29T00:00:00Z",
    "2025-03-01T02:59:37",
    "2025-03-01T02:59:37+0100",
    "2025-03-01T02:59:37-00:00",
    "2025-03-01T02:59:37+23:59",
    "2025-03-01T02:59:37+24:00",
    "2025-03-01T02:59:37+01:00:30",
    "2025-03-01",
    "20250301T025937Z",
    "1999-12-31T23:59:59Z",
    "2000-01-01T00:00:00Z",
    "2199-12-31T23:59:59Z",
    "2200-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    " 2025-03-01T02:59:37Z",
    "2025-03-01T02:59:37Z\n",
    "",
]
ODD: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    2,
    -1,
    2**63,
    2**64 + 1,
    1.0,
    2.5,
    1e300,
    "",
    "1",
    " 3 ",
    "x",
    "a\x00b",
    "\ud800",
    "ä\u2028",
    [],
    [1],
    {},
    {"a": 1},
    EVENT_ID.upper(),
    EVENT_ID.replace("-", ""),
    "{" + EVENT_ID + "}",
    "urn:uuid:" + EVENT_ID,
    "submission_retracted",
    "erasure",
    "unit",
    *TIMES,
]
ANSWERS = st.dictionaries(
    st.sampled_from(["hme-1", "hme-2", "", " q", "q\x00", "ö"]) | st.text(max_size=4),
    st.sampled_from(ODD) | st.integers(),
    max_size=4,
)


def outcome(parse: Any, value: bytes) -> tuple[str, Any]:
    try:
        event = parse(value)
    except Exception as exc:  # noqa: BLE001 - any refusal is compared by its type and message
        return ("refused", (type(exc).__name__, str(exc)))
    return ("read", record_of(event) if isinstance(event, SubmissionAcceptedV1 | SubmissionRetractedV1) else event)


def same(value: bytes) -> None:
    assert outcome(read_submission_event, value) == outcome(parse_submission_event, value), value


@st.composite
def records(draw: st.DrawFn) -> bytes:
    document = dict(draw(st.sampled_from([ACCEPTED, RETRACTED])))
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from([*document, "extra", "event_type", "dimension"]))
        change = draw(st.sampled_from(["odd", "time", "drop", "answers", "int"]))
        if change == "drop":
            document.pop(field, None)
        elif change == "time":
            document[field] = draw(st.sampled_from(TIMES))
        elif change == "answers":
            document[field] = draw(ANSWERS)
        elif change == "int":
            document[field] = draw(st.integers())
        else:
            document[field] = draw(st.sampled_from(ODD))
    return _written(draw, document, st.sampled_from(ODD)).encode("utf-8", "surrogatepass")


def _written(draw: st.DrawFn, document: dict[str, Any], odd: st.SearchStrategy[Any]) -> str:
    """The record as some producer may write it: its fields in either order, ASCII or not, at times one repeated."""
    if draw(st.booleans()):
        document = dict(reversed(list(document.items())))
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:  # a repeated field: both readers keep the last
        field = draw(st.sampled_from(list(document)))
        text = text[:-1] + f', "{field}": ' + json.dumps(draw(odd)) + "}"
    return text


@settings(max_examples=3000, deadline=None, database=None)
@given(records())
def test_any_record_is_read_as_the_pydantic_event_reads_it_or_refused_the_same(value: bytes) -> None:
    same(value)


@settings(max_examples=500, deadline=None, database=None)
@given(st.binary(max_size=60) | st.text(max_size=60).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_bytes_that_are_no_record_are_refused_the_same(value: bytes) -> None:
    same(value)
    same_score(value)


@pytest.mark.parametrize(
    "value",
    [
        json.dumps({**ACCEPTED, "extra": {"deep": [[[[1e999]]]]}}).replace("Infinity", "1e999"),
        json.dumps({**ACCEPTED, "extra": "[" * 1100 + "]" * 1100}),
        "[" * 1100 + "]" * 1100,
        json.dumps({**ACCEPTED, "extra": 1}).replace("1}", "NaN}"),
        json.dumps({**ACCEPTED, "revision": 1}).replace('"revision": 1', '"revision": 1e999'),
        json.dumps({**ACCEPTED, "submission_id": "a\x00b"}),
        json.dumps({**ACCEPTED, "submission_id": "\ud800"}, ensure_ascii=False),
        json.dumps({**ACCEPTED, "submitted_at": "2025-03-01T02:59:37.9999999Z"}),
        json.dumps({**ACCEPTED, "revision": 18446744073709551616}),
        json.dumps({**ACCEPTED, "revision": 9223372036854775808}),
        json.dumps({**RETRACTED, "revision": 1}),
        json.dumps({**ACCEPTED, "event_type": "submission_accepted"}),
        json.dumps({**RETRACTED, "schema_version": 2}),
        json.dumps({**ACCEPTED, "schema_version": 2}),
        json.dumps(ACCEPTED).replace('"hjo"', '"hj\\u00f6"'),
    ],
)
def test_adversarial_records_are_read_or_refused_as_the_pydantic_event_does(value: str) -> None:
    same(value.encode("utf-8", "surrogatepass"))


def test_records_on_the_topic_from_before_are_read_with_their_values() -> None:
    # As ingest's relay wrote them with pydantic (respondent unset in older records, offsets kept).
    old = json.dumps(
        {
            "event_id": EVENT_ID,
            "occurred_at": "2024-11-02T10:00:00.5Z",
            "schema_version": 1,
            "tenant": "hjo",
            "instrument": "hjo-puls",
            "unit": "grupp-a1",
            "submission_id": "s1",
            "revision": 3,
            "submitted_at": "2024-10-31T23:30:00+01:00",
            "answers": {"hme-1": 4},
        },
        separators=(",", ":"),
    ).encode()
    record = read_submission_event(old)
    assert record == SubmissionAcceptedRecord(
        event_id=UUID(EVENT_ID),
        occurred_at=datetime(2024, 11, 2, 10, 0, 0, 500000, tzinfo=UTC),
        tenant="hjo",
        instrument="hjo-puls",
        unit="grupp-a1",
        submission_id="s1",
        revision=3,
        submitted_at=datetime(2024, 10, 31, 23, 30, tzinfo=timezone(timedelta(hours=1))),
        answers={"hme-1": 4},
    )
    same(old)
    same(json.dumps(RETRACTED).encode())


@settings(max_examples=300, deadline=None, database=None)
@given(
    occurred=st.datetimes(
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(-timedelta(minutes=90))])
    ),
    submitted=st.datetimes(
        min_value=datetime(2000, 1, 2),  # noqa: DTZ001 - hypothesis bounds are naive; timezones= makes them aware
        max_value=datetime(2199, 12, 30),  # noqa: DTZ001
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=1))]),
    ),
    answers=st.dictionaries(st.text(min_size=1, max_size=8), st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=30),
    respondent=st.none() | st.text(max_size=40),
    text=st.text(min_size=1, max_size=20),
    revision=st.integers(2, 2**63 - 1),
)
def test_a_struct_encodes_to_the_bytes_of_its_pydantic_event(
    occurred: datetime, submitted: datetime, answers: dict[str, int], respondent: str | None, text: str, revision: int
) -> None:
    accepted = SubmissionAcceptedV1(
        event_id=UUID(EVENT_ID),
        occurred_at=occurred,
        tenant=text,
        instrument=text,
        unit=text,
        submission_id=text,
        revision=revision,
        submitted_at=submitted,
        answers=answers,
        respondent=respondent,
    )
    retracted = SubmissionRetractedV1(
        event_id=UUID(EVENT_ID),
        occurred_at=occurred,
        tenant=text,
        unit=text,
        submission_id=text,
        revision=revision,
        respondent=respondent,
    )
    for event in (accepted, retracted):
        assert encode_event(record_of(event)) == event.model_dump_json().encode()


CANONICAL: dict[str, Any] = {
    "tenant": "testkommun",
    "instrument": "hjo-puls",
    "unit": "grupp-a1",
    "submission_id": "2025-03-e000497",
    "submitted_at": "2025-03-01T02:59:37+01:00",
    "respondent": "e000497",
    "answers": {"hme-1": 4, "hme-2": 5, "hjo-us-1": 9},
}
TEXTS = [
    "grupp-a1",
    " grupp-a1",
    "grupp-a1 ",
    "grupp-a1\n",
    "\tx",
    "x\u00a0",
    "\u2003x",
    "x\u001f",
    "\u0085x",
    "x\u200b",
    "a\x00b",
    "a\x07b",
    "a\x7fb",
    "a\tb",
    "ö",
    "Testkommun",
    "test_kommun",
    "-test",
    "test-",
    "x" * 64,
    "x" * 65,
    "x" * 128,
    "x" * 129,
    "x" * 200,
    "x" * 201,
    " " + "x" * 128,
    "",
    " ",
]


def canonical_outcome(read: Any, document: Any) -> tuple[str, Any]:
    try:
        submission = read(document)
    except ValidationError as exc:
        return ("refused", exc.errors(include_url=False, include_context=False))
    if isinstance(submission, CanonicalSubmission):
        submission = CanonicalSubmissionRecord(**submission.model_dump())
    return ("read", submission)


def same_canonical(document: Any) -> None:
    fast = canonical_outcome(read_canonical, document)
    assert fast == canonical_outcome(CanonicalSubmission.model_validate, document), document


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    document = dict(CANONICAL)
    for _ in range(draw(st.integers(0, 3))):
        field = draw(st.sampled_from([*CANONICAL, "extra"]))
        change = draw(st.sampled_from(["odd", "text", "time", "drop", "answers", "int"]))
        if change == "drop":
            document.pop(field, None)
        elif change == "text":
            document[field] = draw(st.sampled_from(TEXTS) | st.text(max_size=10))
        elif change == "time":
            document[field] = draw(st.sampled_from(TIMES))
        elif change == "answers":
            document[field] = draw(
                st.dictionaries(
                    st.sampled_from(TEXTS) | st.text(max_size=4), st.sampled_from(ODD) | st.integers(), max_size=4
                )
            )
        elif change == "int":
            document[field] = draw(st.integers())
        else:
            document[field] = draw(st.sampled_from(ODD))
    # As ingest hands it over: parsed by orjson (tempen_shared.bounds), a NUL left in place; what orjson
    # refuses (a lone surrogate) never reaches validation.
    try:
        return orjson.loads(json.dumps(document, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass"))
    except orjson.JSONDecodeError:
        assume(False)


@settings(max_examples=3000, deadline=None, database=None)
@given(bodies())
def test_any_request_body_is_read_as_canonical_submission_reads_it_or_refused_with_its_errors(document: Any) -> None:
    same_canonical(document)


@pytest.mark.parametrize(
    "change",
    [
        {"answers": {f"q{i}": 1 for i in range(501)}},
        {"answers": {f"q{i}": 1 for i in range(500)}},
        {"answers": {}},
        {"answers": {"hme-1": 2**63}},
        {"answers": {"hme-1": 2**63 - 1}},
        {"answers": {"hme-1": -(2**63) - 1}},
        {"answers": {" hme-1": 3, "hme-1": 4}},
        {"answers": {"x" * 129: 3}},
        {"answers": {" " + "x" * 128: 3}},
        {"answers": {"hme-1": True}},
        {"answers": {"hme-1": "3"}},
        {"answers": {"hme-1": 3.0}},
        {"answers": {"hme-1\x00": 3}},
        {"submitted_at": 1740794377},
        {"submitted_at": "1740794377"},
        {"submitted_at": "2025-03-01T02:59:37.9999995+01:00"},
        {"tenant": "testkommun\n"},
        {"tenant": "TESTKOMMUN"},
        {"respondent": " e000497 "},
        {"respondent": ""},
        {"respondent": "\u3000"},
        {"unit": "grupp\x1fa1"},
        {"submission_id": "s\x00"},
        {"extra": {"nested": [1, 2, {"x": None}]}},
    ],
)
def test_adversarial_request_bodies_are_read_or_refused_as_canonical_submission_does(change: dict[str, Any]) -> None:
    same_canonical({**CANONICAL, **change})


@pytest.mark.parametrize("document", [None, [], "x", 3, [CANONICAL], {}])
def test_what_is_no_submission_object_is_refused_with_the_reference_errors(document: Any) -> None:
    same_canonical(document)


FIGURE = st.none() | st.floats(min_value=0, max_value=100) | st.floats(min_value=0, max_value=1e-3)
# The group a score event in these tests is of.
GROUP: dict[str, Any] = {
    "tenant": "hjo",
    "unit": "grupp-a1",
    "scope": "unit",
    "model": "hme",
    "model_version": "2024",
    "instrument": "hjo-puls",
    "period": "2025-03",
}


@settings(max_examples=300, deadline=None, database=None)
@given(
    occurred=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))])),
    dimensions=st.dictionaries(
        # Dimension ids are slugs: no NUL (parse_json refuses it) and no lone surrogate (no encoder writes one).
        st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), min_size=1, max_size=12),
        st.tuples(st.floats(min_value=0, max_value=100), FIGURE, FIGURE, FIGURE),
        min_size=1,
        max_size=8,
    ),
    respondents=st.integers(0, 10**6),
    sequence=st.integers(1, 2**63 - 1),
    scope=st.sampled_from(["unit", "subtree"]),
)
def test_a_score_struct_encodes_to_the_bytes_of_its_pydantic_event(
    occurred: datetime,
    dimensions: dict[str, tuple[float, float | None, float | None, float | None]],
    respondents: int,
    sequence: int,
    scope: Literal["unit", "subtree"],
) -> None:
    common: dict[str, Any] = {
        "event_id": UUID(EVENT_ID),
        "occurred_at": occurred,
        **GROUP,
        "scope": scope,
        "period_start": datetime(2025, 3, 1, tzinfo=UTC),
        "period_end": datetime(2025, 4, 1, tzinfo=UTC),
        "respondents": respondents,
        "sequence": sequence,
    }
    names = ("index", "standard_error", "favourable_pct", "tenant_index")
    figures = {d: dict(zip(names, f, strict=True)) for d, f in dimensions.items()}
    event = UnitScoredV2(**common, dimensions={d: DimensionScore(**f) for d, f in figures.items()})
    record = UnitScoredRecord(**common, dimensions={d: DimensionScoreRecord(**f) for d, f in figures.items()})
    assert encode_event(record) == event.model_dump_json().encode()
    assert parse_unit_scored(encode_event(record)) == event


@pytest.mark.parametrize(
    ("change", "figure"),
    [
        ({"respondents": -1}, {}),
        ({"sequence": 0}, {}),
        ({}, {"index": 100.5}),
        ({}, {"index": -0.1}),
        ({}, {"index": float("nan")}),
        ({"dimensions": {}}, {}),
        ({"dimensions": {f"d{i}": {"index": 1.0} for i in range(101)}}, {}),
        ({"respondents": 0, "sequence": 1}, {"index": 0.0}),
        ({"dimensions": {f"d{i}": {"index": 100.0} for i in range(100)}}, {}),
    ],
)
def test_the_score_struct_refuses_what_the_pydantic_event_refuses(
    change: dict[str, Any], figure: dict[str, Any]
) -> None:
    document: dict[str, Any] = {
        "event_id": UUID(EVENT_ID),
        "occurred_at": datetime(2025, 3, 4, tzinfo=UTC),
        **GROUP,
        "period_start": datetime(2025, 3, 1, tzinfo=UTC),
        "period_end": datetime(2025, 4, 1, tzinfo=UTC),
        "respondents": 7,
        "sequence": 3,
        "dimensions": {"d": {"index": 50.0, **figure}},
        **change,
    }
    dimensions = document.pop("dimensions")
    try:
        UnitScoredV2(**document, dimensions={d: DimensionScore(**f) for d, f in dimensions.items()})
    except ValidationError:
        pydantic_refuses = True
    else:
        pydantic_refuses = False
    try:
        UnitScoredRecord(**document, dimensions={d: DimensionScoreRecord(**f) for d, f in dimensions.items()})
    except ValueError:
        struct_refuses = True
    else:
        struct_refuses = False
    assert struct_refuses == pydantic_refuses


def _pydantic_limits(metadata: list[Any]) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    for item in metadata:
        for name in ("min_length", "max_length", "pattern", "ge", "le"):
            if getattr(item, name, None) is not None:
                limits[name] = getattr(item, name)
        for nested in getattr(item, "metadata", ()):  # a FieldInfo inside Annotated
            limits.update(_pydantic_limits([nested]))
    return limits


def _validators(annotation: Any, metadata: list[Any]) -> set[str]:
    found = {item.func.__name__ for item in metadata if isinstance(item, AfterValidator)}
    for arg in get_args(annotation):
        found |= {item.func.__name__ for item in getattr(arg, "__metadata__", ()) if isinstance(item, AfterValidator)}
    return found


def _struct_limits(info: Any) -> dict[str, Any]:
    if isinstance(info, msgspec.inspect.UnionType):
        [info] = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
    names = ("min_length", "max_length", "pattern")
    return {name: getattr(info, name) for name in names if getattr(info, name, None) is not None}


def test_the_request_body_struct_has_canonical_submissions_fields_limits_and_checks() -> None:
    # A limit or check added to CanonicalSubmission and not to the fast path would let the fast path
    # accept what the model refuses: this fails first, naming the field.
    fields = {f.name: f for f in msgspec.inspect.type_info(CanonicalSubmissionRecord).fields}
    assert set(fields) == set(CanonicalSubmission.model_fields)
    for name, model_field in CanonicalSubmission.model_fields.items():
        assert _struct_limits(fields[name].type) == _pydantic_limits(model_field.metadata), name
    answers = fields["answers"].type
    key_annotation = get_args(CanonicalSubmission.model_fields["answers"].annotation)[0]
    assert _struct_limits(answers.key_type) == _pydantic_limits(list(key_annotation.__metadata__))
    # What the fast path checks in Python (wire._as_the_reference_reads_it), field by field.
    checked = {
        "instrument": {"check_identifier"},
        "unit": {"check_identifier"},
        "submission_id": {"check_identifier"},
        "respondent": {"check_identifier"},
        "submitted_at": {"check_timestamp"},
    }
    for name, model_field in CanonicalSubmission.model_fields.items():
        assert _validators(model_field.annotation, model_field.metadata) == checked.get(name, set()), name
    assert CanonicalSubmission.model_config.get("str_strip_whitespace") is True  # the white-space check's reason
    assert CanonicalSubmission.model_config.get("extra") == "ignore"  # unknown fields pass on both ways


@pytest.mark.parametrize(
    ("record", "event"),
    [
        (SubmissionAcceptedRecord, SubmissionAcceptedV1),
        (SubmissionRetractedRecord, SubmissionRetractedV1),
        (UnitScoredRecord, UnitScoredV2),  # a field only the model has would send every record to the reference
        (DimensionScoreRecord, DimensionScore),
    ],
)
def test_the_event_structs_have_their_events_fields(record: type[msgspec.Struct], event: type[BaseModel]) -> None:
    assert [f.name for f in msgspec.inspect.type_info(record).fields] == list(event.model_fields)


# Score events as alerts reads them from `tempen.scores` (read_unit_scored against parse_unit_scored).

FIGURES: dict[str, Any] = {
    "index": 71.25,
    "standard_error": 2.0412414523193148,
    "favourable_pct": 62.5,
    "tenant_index": 69.8,
}
SCORED: dict[str, Any] = {
    "event_id": EVENT_ID,
    "occurred_at": "2025-04-01T00:00:03.123456Z",
    "schema_version": 2,
    **GROUP,
    "period_start": "2025-03-01T00:00:00+01:00",
    "period_end": "2025-04-01T00:00:00+02:00",
    "respondents": 21,
    "sequence": 17,
    "dimensions": {
        "styrning": FIGURES,
        "motivation": {"index": 0, "standard_error": None, "favourable_pct": None, "tenant_index": None},
    },
}
SCORED_V1: dict[str, Any] = {
    **{k: v for k, v in SCORED.items() if k != "dimensions"},
    "schema_version": 1,
    "dimension": "styrning",
    **FIGURES,
}
# Number literals json.dumps does not write: placed as a string and swapped for the literal.
NUMBERS = [
    "1e400",
    "-1e400",
    "-0",
    "-0.0",
    "1E2",
    "100.0000000000000000001",
    "99.99999999999999999999",
    "18446744073709551617",
    "18446744073709551615",
    "9223372036854775808",
    "9223372036854775807",
    "-9223372036854775809",
    "9007199254740993",
    "1" + "0" * 30,
    "1" + "0" * 400,
    "2.4e-320",
    "0.1234567",
    "12.3456789e1",
    "01",
    "1.",
    ".5",
    "+1",
]
NUMBER = "@number@"


def score_outcome(read: Any, value: bytes) -> tuple[Any, ...]:
    try:
        event = read(value)
    except Exception as exc:  # noqa: BLE001 - any refusal is compared by its type and message
        return ("refused", (type(exc).__name__, str(exc)))
    record = score_record_of(event) if isinstance(event, UnitScoredV2) else event
    return ("read", record, encode_event(record))  # the bytes as well: offsets and -0.0, which == hides


def same_score(value: bytes) -> None:
    assert score_outcome(read_unit_scored, value) == score_outcome(parse_unit_scored, value), value


ODD_OR_NUMBER = st.sampled_from([*ODD, NUMBER]) | st.floats() | st.integers()


def _odd_or_number(draw: st.DrawFn) -> Any:
    # A copy: a later change may write into a drawn dict, which must not be ODD's own.
    return copy.deepcopy(draw(ODD_OR_NUMBER))


@st.composite
def score_records(draw: st.DrawFn) -> bytes:
    document = json.loads(json.dumps(draw(st.sampled_from([SCORED, SCORED, SCORED_V1]))))
    for _ in range(draw(st.integers(0, 3))):
        dimensions = document.get("dimensions")
        if isinstance(dimensions, dict) and dimensions and draw(st.booleans()):
            # a dimension's figures
            name = draw(st.sampled_from(list(dimensions)))
            figures = dimensions[name]
            change = draw(st.sampled_from(["figure", "drop", "extra", "rename", "odd"]))
            if change == "odd" or not isinstance(figures, dict):
                dimensions[name] = _odd_or_number(draw)
            elif change == "figure":
                figures[draw(st.sampled_from(list(FIGURES)))] = _odd_or_number(draw)
            elif change == "drop":
                figures.pop(draw(st.sampled_from(list(FIGURES))), None)
            elif change == "extra":
                figures[draw(st.sampled_from(["extra", "dimension", "index "]))] = _odd_or_number(draw)
            else:
                dimensions[draw(st.sampled_from(["", " x", "dimension", "ö", *TIMES[:2]]) | st.text(max_size=4))] = (
                    dimensions.pop(name)
                )
            continue
        field = draw(st.sampled_from([*document, "extra", "dimension", "dimensions", "schema_version"]))
        change = draw(st.sampled_from(["odd", "time", "drop", "int", "many"]))
        if change == "drop":
            document.pop(field, None)
        elif change == "time":
            document[field] = draw(st.sampled_from(TIMES))
        elif change == "int":
            document[field] = draw(st.integers() | st.sampled_from([0, 1, 2, 3, NUMBER]))
        elif change == "many":
            document[field] = {f"d{i}": dict(FIGURES) for i in range(draw(st.sampled_from([0, 1, 100, 101])))}
        else:
            document[field] = _odd_or_number(draw)
    text = _written(draw, document, ODD_OR_NUMBER)
    while f'"{NUMBER}"' in text:
        text = text.replace(f'"{NUMBER}"', draw(st.sampled_from(NUMBERS)), 1)
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=4000, deadline=None, database=None)
@given(score_records())
def test_any_score_record_is_read_as_alerts_read_it_with_pydantic_or_refused_the_same(value: bytes) -> None:
    same_score(value)


@settings(max_examples=500, deadline=None, database=None)
@given(
    figures=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=100),
            st.none() | st.floats(allow_nan=False, allow_infinity=False),
            st.none() | st.floats(allow_nan=False, allow_infinity=False),
            st.none() | st.floats(allow_nan=False, allow_infinity=False),
        ),
        min_size=1,
        max_size=8,
    ),
    respondents=st.integers(0, 2**63 - 1),
    sequence=st.integers(1, 2**63 - 1),
    occurred=st.datetimes(
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=9, minutes=30))])
    ),
)
def test_score_events_as_scoring_writes_them_are_read_on_the_fast_path_with_their_values(
    figures: list[tuple[float, float | None, float | None, float | None]],
    respondents: int,
    sequence: int,
    occurred: datetime,
) -> None:
    names = ("index", "standard_error", "favourable_pct", "tenant_index")
    record = UnitScoredRecord(
        **GROUP,
        event_id=UUID(EVENT_ID),
        occurred_at=occurred,
        period_start=datetime(2025, 3, 1, tzinfo=UTC),
        period_end=datetime(2025, 4, 1, tzinfo=UTC),
        respondents=respondents,
        sequence=sequence,
        dimensions={f"d{i}": DimensionScoreRecord(**dict(zip(names, f, strict=True))) for i, f in enumerate(figures)},
    )
    value = encode_event(record)

    def not_the_reference(value: bytes | str) -> UnitScoredV2:
        raise AssertionError(f"the reference was asked: {value!r}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wire, "parse_unit_scored", not_the_reference)
        assert read_unit_scored(value) == record
    same_score(value)


@pytest.mark.parametrize(
    "value",
    [
        json.dumps(SCORED),
        json.dumps(SCORED_V1),
        json.dumps({**SCORED_V1, "schema_version": 2}),
        json.dumps({k: v for k, v in SCORED_V1.items() if k != "schema_version"}),
        json.dumps({**SCORED, "dimension": "styrning"}),
        json.dumps({**SCORED, "extra": {"deep": "[" * 1100}}),
        json.dumps({**SCORED, "extra": 1}).replace('"extra": 1', '"extra": ' + "[" * 1100 + "]" * 1100),
        json.dumps({**SCORED, "dimensions": {"d": {**FIGURES, "extra": 1}}}).replace(
            '"extra": 1', '"extra": ' + "[" * 1100 + "]" * 1100
        ),
        json.dumps({**SCORED, "dimensions": {"d": {**FIGURES, "standard_error": 1}}}).replace(
            '"standard_error": 1', '"standard_error": 1e999'
        ),
        json.dumps({**SCORED, "occurred_at": "2025-04-01T00:00:03.1234567Z"}),
        json.dumps({**SCORED, "period_end": "2025-04-01T00:00:00.9999999+02:00"}),
        json.dumps({**SCORED, "dimensions": {"d": {**FIGURES, "index": 0.12345678}}}),
        json.dumps({**SCORED, "respondents": 2**63}),
        json.dumps({**SCORED, "sequence": 2**64 + 1}),
        json.dumps({**SCORED, "sequence": 0}),
        json.dumps({**SCORED, "respondents": 21.0}),
        json.dumps({**SCORED, "respondents": True}),
        json.dumps({**SCORED, "dimensions": {"d": {**FIGURES, "index": "71.25"}}}),
        json.dumps({**SCORED, "dimensions": {"d": {**FIGURES, "index": 100.5}}}),
        json.dumps({**SCORED, "dimensions": {"d": {**FIGURES, "tenant_index": True}}}),
        json.dumps({**SCORED, "dimensions": {}}),
        json.dumps({**SCORED, "dimensions": {f"d{i}": FIGURES for i in range(101)}}),
        json.dumps({**SCORED, "schema_version": 3}),
        json.dumps({**SCORED, "scope": "Unit"}),
        json.dumps({**SCORED, "tenant": "hj\x00o"}),
        json.dumps({**SCORED, "unit": "\ud800"}, ensure_ascii=False),
        json.dumps(SCORED).replace('"hjo"', '"hj\\u00f6"'),
        json.dumps(SCORED) + " x",
        "[" + json.dumps(SCORED) + "]",
    ],
)
def test_adversarial_score_records_are_read_or_refused_as_alerts_read_them_with_pydantic(value: str) -> None:
    same_score(value.encode("utf-8", "surrogatepass"))


def test_the_example_score_events_of_both_versions_are_read_with_their_values() -> None:
    examples = resources.files("tempen_shared") / "examples" / "unit-scored"
    for version in ("v1", "v2"):
        value = (examples / version / "basic.json").read_bytes()
        assert read_unit_scored(value) == score_record_of(parse_unit_scored(value))
        same_score(value)
