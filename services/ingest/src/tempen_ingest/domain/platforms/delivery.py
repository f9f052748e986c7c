"""What every platform parser returns, and the translation from raw platform answers to tempen's items."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TypeAlias

from pydantic import ValidationError

from tempen_ingest.domain.platforms.mapping import PlatformMapping, QuestionMapping
from tempen_shared.bounds import InputError, parse_json
from tempen_shared.events.submissions import CanonicalSubmission


class DeliveryError(ValueError):
    """A delivery tempen cannot turn into submissions; report it to the platform (problem+json, 422).

    `field` names the offending field as the platform spells it (`data.surveyId`, `unit`, `G01Q01`);
    `reason` is a short code such as `missing`, `malformed`, `form_mismatch`, `unmapped_answer`.
    `response_id` says which response of a multi-response file (LimeSurvey) it was, if any.
    """

    def __init__(self, field: str, reason: str, detail: str = "", *, response_id: str | None = None) -> None:
        where = f"response {response_id}: " if response_id else ""
        super().__init__(f"{where}{field}: {reason}" + (f" ({detail})" if detail else ""))
        self.field = field
        self.reason = reason
        self.detail = detail
        self.response_id = response_id


@dataclass(frozen=True, slots=True)
class FreeTextAnswer:
    """A free-text answer, passed on only when the tenant opted in. Never part of `answers`."""

    submission_id: str
    question: str
    text: str


@dataclass(frozen=True, slots=True)
class ParsedDelivery:
    """The outcome of parsing one delivery (a webhook call or an export file).

    `delivery_id` identifies the delivery itself for replay protection, when the body carries one
    (Typeform `event_id:token`, KoboToolbox `_uuid`); Standard Webhooks senders carry it in the
    `webhook-id` header instead. `ignored` says why a whole delivery carried nothing to store (a test
    ping); `skipped` lists responses left out, as (response id, reason).
    """

    submissions: tuple[CanonicalSubmission, ...]
    ignored: str | None = None
    skipped: tuple[tuple[str, str], ...] = ()
    delivery_id: str | None = None
    free_text: tuple[FreeTextAnswer, ...] = ()


@dataclass(frozen=True, slots=True)
class Choice:
    """One chosen option, known by several names (Typeform sends a choice's ref, id and label).

    `opaque` names are ids only (SurveyMonkey's numeric choice ids): one not in the mapping's values
    is refused, never read as the number it looks like.
    """

    names: tuple[str, ...]
    opaque: bool = False


Scalar: TypeAlias = str | int | float | bool | Choice
RawAnswer: TypeAlias = Scalar | Sequence[Scalar] | Mapping[str, Scalar] | None

_INTEGER = re.compile(r"^[+-]?\d+(?:\.0*)?$")
NO_MAPPED_ANSWERS = "no_mapped_answers"
UNFINISHED = "unfinished"
SCREENED_OUT = "screened_out"
NO_SUBMIT_DATE = "no_submit_date"
# What each skip reason means, for the platform's delivery log and the import report.
SKIP_DETAILS = {
    NO_MAPPED_ANSWERS: "the response answers none of the mapping's questions",
    UNFINISHED: "the response is not finished, and this mapping counts finished responses only (count_unfinished)",
    SCREENED_OUT: "the survey screened the respondent out (SurveyMonkey overquota or disqualified): never counted",
    NO_SUBMIT_DATE: "the survey records no dates (LimeSurvey stores 1980-01-01), and no import time was given",
}


def skip_detail(reason: str) -> str:
    """A sentence saying why a response with skip reason `reason` was not stored."""
    return SKIP_DETAILS.get(reason, reason)


def unfinished_skip(mapping: PlatformMapping, response_id: str, *, finished: bool) -> tuple[str, str] | None:
    """The skip entry for a response the mapping does not count because it is unfinished, else None."""
    return None if finished or mapping.count_unfinished else (response_id, UNFINISHED)


@dataclass(frozen=True, slots=True)
class Translated:
    """One response after the mapping was applied."""

    submission: CanonicalSubmission | None
    skip_reason: str | None
    free_text: tuple[FreeTextAnswer, ...]


def translate_response(
    *,
    mapping: PlatformMapping,
    submission_id: str,
    submitted_at: datetime,
    answers: Mapping[str, RawAnswer],
    fields: Mapping[str, str],
    response_id: str | None = None,
) -> Translated:
    """Apply `mapping` to one response's raw answers and metadata fields.

    `answers` holds the platform's answers under every name the mapping may use for a question;
    `fields` holds the string metadata (hidden fields, contact attributes...) the unit and respondent
    come from. Returns no submission, with a reason, when no mapped question was answered.
    """
    items: dict[str, int] = {}
    for question, spec in mapping.questions.items():
        raw = answers.get(question)
        if not _is_empty(raw):
            items.update(_values_of(question, raw, spec, mapping, response_id))
    texts = tuple(
        FreeTextAnswer(submission_id=submission_id, question=question, text=text)
        for question in (mapping.free_text if mapping.keep_free_text else ())
        if (text := _text_of(answers.get(question)))
    )
    if not items:
        return Translated(submission=None, skip_reason=NO_MAPPED_ANSWERS, free_text=())
    unit = resolve_unit(mapping, fields, response_id=response_id)
    respondent = fields.get(mapping.respondent_field) if mapping.respondent_field else None
    try:
        submission = CanonicalSubmission(
            tenant=mapping.tenant,
            instrument=mapping.instrument,
            unit=unit,
            submission_id=submission_id,
            submitted_at=submitted_at,
            answers=items,
            respondent=respondent or None,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(part) for part in first["loc"]) or "submission"
        raise DeliveryError(location, "invalid", first["msg"], response_id=response_id) from None
    return Translated(submission=submission, skip_reason=None, free_text=texts)


def resolve_unit(mapping: PlatformMapping, fields: Mapping[str, str], *, response_id: str | None = None) -> str:
    source = mapping.unit
    value = fields.get(source.field, "").strip()
    if not value:
        raise DeliveryError(source.field, "missing_unit", "the response carries no unit", response_id=response_id)
    if source.units is None:
        return value
    unit = source.units.get(value)
    if unit is None:
        raise DeliveryError(
            source.field, "unknown_unit_key", "not in the mapping's unit table", response_id=response_id
        )
    return unit


def parse_json_object(body: bytes) -> dict[str, object]:
    # Bounded (depth, NaN, 1e999, NUL): a hostile body fails here with a reason, not a RecursionError.
    try:
        document = parse_json(body)
    except InputError as exc:
        raise DeliveryError(exc.field if exc.field != "(body)" else "body", "malformed", exc.reason) from None
    if not isinstance(document, dict):
        raise DeliveryError("body", "malformed", "expected a JSON object")
    return document


def parse_timestamp(value: object, *, field: str, naive_zone: tzinfo, response_id: str | None = None) -> datetime:
    """An ISO 8601 timestamp; one without an offset is read in `naive_zone`."""
    if not isinstance(value, str) or not value.strip():
        raise DeliveryError(field, "missing", "no timestamp", response_id=response_id)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise DeliveryError(
            field, "malformed", f"not an ISO 8601 timestamp: {value!r}", response_id=response_id
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=naive_zone)


def string_fields(source: Mapping[str, object], *, prefix: str = "") -> dict[str, str]:
    """The string and number values of a flat JSON object, keyed `prefix + key`."""
    found: dict[str, str] = {}
    for key, value in source.items():
        text = scalar_text(value)
        if text is not None:
            found[prefix + key] = text
    return found


def scalar_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        text = _number_text(value) if not isinstance(value, str) else value.strip()
        return text or None
    return None


def _values_of(
    question: str, raw: RawAnswer, spec: QuestionMapping, mapping: PlatformMapping, response_id: str | None
) -> dict[str, int]:
    if spec.rows:
        if not isinstance(raw, Mapping):
            raise DeliveryError(
                question, "unexpected_shape", "a matrix mapping needs row answers", response_id=response_id
            )
        return {
            spec.rows[row]: _value(f"{question}[{row}]", answer, spec, mapping, response_id)
            for row, answer in raw.items()
            if row in spec.rows and not _is_empty(answer)
        }
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        raise DeliveryError(question, "unexpected_shape", "row answers need a rows mapping", response_id=response_id)
    chosen: list[Scalar] = [raw] if isinstance(raw, Scalar) else list(raw)
    if spec.options:
        return _selected_options(question, chosen, spec, response_id)
    if spec.item is None or len(chosen) > 1:
        raise DeliveryError(
            question, "unexpected_shape", "several choices for a single-valued item", response_id=response_id
        )
    return {spec.item: _value(question, chosen[0], spec, mapping, response_id)}


def _selected_options(
    question: str, chosen: Sequence[Scalar], spec: QuestionMapping, response_id: str | None
) -> dict[str, int]:
    option_items = {_normalise(option): item for option, item in spec.options.items()}
    selected: set[str] = set()
    for answer in chosen:
        names = answer.names if isinstance(answer, Choice) else (_key(answer),)
        item = next((option_items[_normalise(n)] for n in names if _normalise(n) in option_items), None)
        if item is None:
            raise DeliveryError(
                question, "unmapped_answer", f"option {names[0]!r} has no item", response_id=response_id
            )
        selected.add(item)
    result = dict.fromkeys(selected, spec.selected_value)
    if spec.unselected_value is not None:
        result.update({item: spec.unselected_value for item in spec.options.values() if item not in selected})
    return result


def _value(field: str, answer: Scalar, spec: QuestionMapping, mapping: PlatformMapping, response_id: str | None) -> int:
    names = answer.names if isinstance(answer, Choice) else (_key(answer),)
    for table in (spec.values, mapping.values):
        normalised = {_normalise(label): value for label, value in table.items()}
        for name in names:
            if _normalise(name) in normalised:
                return normalised[_normalise(name)]
    for name in () if isinstance(answer, Choice) and answer.opaque else names:
        if _INTEGER.match(name.strip()):
            return int(float(name))
    raise DeliveryError(
        field, "unmapped_answer", f"answer {names[-1]!r} has no value in the mapping", response_id=response_id
    )


def _text_of(raw: RawAnswer) -> str | None:
    if isinstance(raw, str):
        return raw.strip() or None
    return None


def _is_empty(raw: object) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, Choice):
        return not raw.names
    if isinstance(raw, Mapping | list | tuple):
        return all(_is_empty(value) for value in (raw.values() if isinstance(raw, Mapping) else raw))
    return False


def _key(answer: str | int | float | bool) -> str:
    if isinstance(answer, bool):
        return "true" if answer else "false"
    if isinstance(answer, str):
        return answer
    return _number_text(answer)


def _number_text(value: int | float) -> str:
    return str(int(value)) if isinstance(value, int) or value.is_integer() else repr(value)


def _normalise(label: str) -> str:
    return label.strip().casefold()
