"""Submissions and scores on the hot paths, as msgspec structs: a submission read by ingest from every
request body, encoded by ingest's relay and decoded by scoring; a score event encoded by scoring's relay
and decoded by alerts.

The pydantic models (`CanonicalSubmission`, `SubmissionAcceptedV1`, `SubmissionRetractedV1`, `UnitScoredV2`)
stay the contract and the reference: they say what a body or record may hold, and their errors are what a
refused submission is answered with (problem+json naming the field) or a refused record is
dead-lettered with. A struct here carries the same fields under the same JSON names, and is
decoded only where that cannot differ from the reference:

* Strictly: every field typed, no unknown fields in an event, no coercion ("3" is no int here, though pydantic
  reads it as 3), no `\\u` escapes (which is how a NUL or a lone surrogate is spelt in JSON; in a score
  event no escape at all), no time with more than six fractional digits, no V1 score event (the reference
  upcasts it); in a request body no text with white space at either end (`CanonicalSubmission` strips it).
* Anything else, refusals included, goes to the reference parser, which accepts or refuses it
  exactly as before; what it accepts is copied into a struct.

So the fast path accepts a subset of what the reference accepts, with the same values
(tests/shared/test_wire.py feeds both random and adversarial records to prove it).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from tempen_shared.bounds import check_identifier, check_timestamp
from tempen_shared.events.retractions import RETRACTED, SubmissionRetractedV1, parse_submission_event
from tempen_shared.events.scores import UnitScoredV2, parse_unit_scored
from tempen_shared.events.submissions import CanonicalSubmission, SubmissionAcceptedV1

_Aware = Annotated[datetime, msgspec.Meta(tz=True)]
# orjson, the reference's JSON reader, reads an integer beyond 64 bits as a float, which pydantic then
# refuses; msgspec reads it exactly. Its bounds fit in 64 signed bits, so [2**63, 2**64) goes to the reference.
_EXACT_LOW, _EXACT_HIGH = -(2**63), 2**63 - 1
_Int = Annotated[int, msgspec.Meta(ge=_EXACT_LOW, le=_EXACT_HIGH)]


class SubmissionAcceptedRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`SubmissionAcceptedV1` on the wire; fields in its order, so both encode to the same bytes."""

    event_id: UUID
    occurred_at: _Aware
    schema_version: Literal[1] = 1
    tenant: str
    instrument: str
    unit: str
    submission_id: str
    revision: Annotated[int, msgspec.Meta(ge=1, le=_EXACT_HIGH)]
    submitted_at: _Aware
    answers: dict[str, _Int]
    respondent: str | None = None

    def __post_init__(self) -> None:
        check_timestamp(self.submitted_at)  # ValueError: msgspec refuses the record


class SubmissionRetractedRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`SubmissionRetractedV1` on the wire."""

    event_id: UUID
    occurred_at: _Aware
    schema_version: Literal[1] = 1
    event_type: Literal["submission_retracted"] = RETRACTED
    tenant: str
    unit: str
    submission_id: str
    revision: Annotated[int, msgspec.Meta(ge=2, le=_EXACT_HIGH)]
    respondent: str | None = None
    reason: Literal["erasure"] = "erasure"


class DimensionScoreRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`DimensionScore` on the wire."""

    index: float
    standard_error: float | None = None
    favourable_pct: float | None = None
    tenant_index: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.index <= 100:  # DimensionScore's bounds; NaN fails them too
            raise ValueError(f"index {self.index} outside 0-100")


class UnitScoredRecord(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`UnitScoredV2` on the wire: encoded by scoring's relay (figures it computed, not checked again), read
    by alerts with `read_unit_scored`."""

    event_id: UUID
    occurred_at: _Aware
    schema_version: Literal[2] = 2
    tenant: str
    unit: str
    scope: Literal["unit", "subtree"]
    model: str
    model_version: str
    instrument: str
    period: str
    period_start: _Aware
    period_end: _Aware
    respondents: Annotated[int, msgspec.Meta(ge=0, le=_EXACT_HIGH)]
    sequence: Annotated[int, msgspec.Meta(ge=1, le=_EXACT_HIGH)]
    dimensions: dict[str, DimensionScoreRecord]

    def __post_init__(self) -> None:
        # UnitScoredV2's bounds, so that the relay refuses to publish what every consumer would refuse.
        if self.respondents < 0 or self.sequence < 1 or not 1 <= len(self.dimensions) <= 100:
            raise ValueError("respondents, sequence or the number of dimensions out of UnitScoredV2's bounds")


SubmissionRecord = SubmissionAcceptedRecord | SubmissionRetractedRecord

_ACCEPTED = msgspec.json.Decoder(SubmissionAcceptedRecord)
_RETRACTED = msgspec.json.Decoder(SubmissionRetractedRecord)
_SCORED = msgspec.json.Decoder(UnitScoredRecord)
_ENCODER = msgspec.json.Encoder()
_TAG = b'"event_type"'
# msgspec rounds a time's seventh and later fractional digits, pydantic drops them: such records go to
# the reference (ingest's relay writes microseconds, six digits), and so does any text with seven digits
# after a dot. A fraction after a comma msgspec refuses. (A pattern of the whole time took 5 us a record.)
_SUB_MICROSECOND = re.compile(rb"\.\d{7}")
# The same in a score event, whose figures have many digits after the dot: msgspec reads a time only with
# its seconds, so a fraction it would round follows ":MM:SS", which no figure has. (A pattern starting with
# the colon is scanned for quickly; one starting with a digit took 6 us a record.)
_SUB_MICROSECOND_TIME = re.compile(rb":\d\d:\d\d\.\d{7}")


def encode_event(record: SubmissionRecord | UnitScoredRecord) -> bytes:
    """The record as JSON: the bytes `model_dump_json()` of the matching pydantic event gives."""
    return _ENCODER.encode(record)


def read_submission_event(value: bytes) -> SubmissionRecord:
    """A record of `tempen.submissions`, as `parse_submission_event` reads it, as a struct.

    Raises what `parse_submission_event` raises for a record it refuses.
    """
    if b"\\u" not in value and not _SUB_MICROSECOND.search(value):
        try:
            return (_RETRACTED if _TAG in value else _ACCEPTED).decode(value)
        except (msgspec.MsgspecError, UnicodeDecodeError):
            pass  # not on the fast path; the reference decides
    return record_of(parse_submission_event(value))


def read_unit_scored(value: bytes) -> UnitScoredRecord:
    """A record of `tempen.scores`, as `parse_unit_scored` reads it (a V1 record upcast), as a struct.

    Raises what `parse_unit_scored` raises for a record it refuses.
    """
    # A V1 record (its one dimension's figures at the top, no `dimensions`) the struct refuses: the
    # reference upcasts it. No escape at all (scoring writes none): one byte is found faster than two.
    if b"\\" not in value and not _SUB_MICROSECOND_TIME.search(value):
        try:
            return _SCORED.decode(value)
        except (msgspec.MsgspecError, UnicodeDecodeError):
            pass  # not on the fast path; the reference decides
    return score_record_of(parse_unit_scored(value))


def score_record_of(event: UnitScoredV2) -> UnitScoredRecord:
    """The struct of a validated pydantic score event (no check repeated but the struct's bounds)."""
    return UnitScoredRecord(
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        tenant=event.tenant,
        unit=event.unit,
        scope=event.scope,
        model=event.model,
        model_version=event.model_version,
        instrument=event.instrument,
        period=event.period,
        period_start=event.period_start,
        period_end=event.period_end,
        respondents=event.respondents,
        sequence=event.sequence,
        dimensions={
            name: DimensionScoreRecord(
                index=figures.index,
                standard_error=figures.standard_error,
                favourable_pct=figures.favourable_pct,
                tenant_index=figures.tenant_index,
            )
            for name, figures in event.dimensions.items()
        },
    )


def record_of(event: SubmissionAcceptedV1 | SubmissionRetractedV1) -> SubmissionRecord:
    """The struct of a validated pydantic event (no check repeated)."""
    if isinstance(event, SubmissionRetractedV1):
        return SubmissionRetractedRecord(
            event_id=event.event_id,
            occurred_at=event.occurred_at,
            tenant=event.tenant,
            unit=event.unit,
            submission_id=event.submission_id,
            revision=event.revision,
            respondent=event.respondent,
        )
    return SubmissionAcceptedRecord(
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        tenant=event.tenant,
        instrument=event.instrument,
        unit=event.unit,
        submission_id=event.submission_id,
        revision=event.revision,
        submitted_at=event.submitted_at,
        answers=event.answers,
        respondent=event.respondent,
    )


class CanonicalSubmissionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """`CanonicalSubmission` (a body of ingest's API and the intake topic), read with `read_canonical`."""

    tenant: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    instrument: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    unit: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    submission_id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    submitted_at: _Aware
    answers: Annotated[
        dict[Annotated[str, msgspec.Meta(max_length=128)], _Int], msgspec.Meta(min_length=1, max_length=500)
    ]
    respondent: Annotated[str, msgspec.Meta(max_length=200)] | None = None


def _as_the_reference_reads_it(record: CanonicalSubmissionRecord) -> bool:
    """Whether the reference would read the same: no control character in an identifier (the rule of
    `IdentifierText`, checked on all at once: the reference names the field), the time within bounds,
    no white space to strip at either end of a text."""
    try:
        check_identifier(record.instrument + record.unit + record.submission_id + (record.respondent or ""))
        check_timestamp(record.submitted_at)
    except ValueError:
        return False
    texts = "\x00".join((record.tenant, record.instrument, record.unit, record.submission_id, *record.answers))
    if record.respondent is not None:
        texts += "\x00" + record.respondent
    # str.split() finds white space in C, as str.strip() defines it; a text holding some inside is rare.
    return texts.split(maxsplit=1) == [texts] or not _EDGE_SPACE.search(texts)


# White space (str.isspace, what str.strip and this pattern's \s remove) next to a text's start or end,
# the texts joined by NUL; a NUL inside a text can only make it match where it need not.
_EDGE_SPACE = re.compile(r"(?:^|\x00)\s|\s(?:\x00|$)")
_SUB_MICROSECOND_TEXT = re.compile(r"\.\d{7}")


def read_canonical(document: object) -> CanonicalSubmissionRecord:
    """A submission (a parsed JSON value), as `CanonicalSubmission.model_validate` reads it, as a struct.

    Raises what `CanonicalSubmission.model_validate` raises for a body it refuses (pydantic.ValidationError).
    """
    if isinstance(document, dict):
        stamp = document.get("submitted_at")
        if not (isinstance(stamp, str) and _SUB_MICROSECOND_TEXT.search(stamp)):
            try:
                record = msgspec.convert(document, CanonicalSubmissionRecord)
            except msgspec.MsgspecError:
                pass  # not on the fast path; the reference decides
            else:
                if _as_the_reference_reads_it(record):
                    return record
    submission = CanonicalSubmission.model_validate(document)
    return CanonicalSubmissionRecord(
        tenant=submission.tenant,
        instrument=submission.instrument,
        unit=submission.unit,
        submission_id=submission.submission_id,
        submitted_at=submission.submitted_at,
        answers=submission.answers,
        respondent=submission.respondent,
    )
