"""Typeform webhooks: `form_response` (and `form_response_partial`, counted only if the mapping says so) events.

Shape per https://www.typeform.com/developers/webhooks/example-payload/: `event_id`, `event_type` and
`form_response` with `form_id`, `token` (the response id), `submitted_at`, `hidden`, `variables`,
`definition.fields` and typed `answers[]`. In the documented example an answer names its question by
`field.id` (and `type`) only; the question's `ref` is given in `definition.fields` (`{id, ref, type,
choices}`), so refs are joined through it. Answer types: `choice` (`{id, ref, label}`; the example
gives only `label`), `choices` (`ids`, `refs`, `labels`), `number` (also rating and opinion scale),
`boolean` (yes/no, legal), `text`, `email`, `date`, `url`, ... Matrix and question-group fields list
their own questions under `properties.fields`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC

from tempen_ingest.domain.platforms.delivery import (
    Choice,
    DeliveryError,
    ParsedDelivery,
    RawAnswer,
    parse_json_object,
    parse_timestamp,
    scalar_text,
    string_fields,
    translate_response,
    unfinished_skip,
)
from tempen_ingest.domain.platforms.mapping import PlatformMapping

PARTIAL = "form_response_partial"
RESPONSE_EVENTS = frozenset({"form_response", PARTIAL})
_TEXT_TYPES = ("text", "email", "url", "phone_number", "date", "file_url")


def parse_typeform(body: bytes, mapping: PlatformMapping) -> ParsedDelivery:
    """Turn one Typeform webhook body into at most one submission.

    Questions are named in the mapping by `field.ref` or `field.id`; choices by their ref, id or
    label. Unit and respondent fields name hidden fields (`unit` or `hidden.unit`) or variables
    (`variables.<key>`). The delivery id is `event_id:token`.

    Raises:
        DeliveryError: the body is not a Typeform delivery, is for another form, or cannot be mapped.
    """
    document = parse_json_object(body)
    event_type = document.get("event_type")
    if not isinstance(event_type, str) or event_type not in RESPONSE_EVENTS:
        return ParsedDelivery(submissions=(), ignored=f"event_type {event_type!r} carries no response")
    response = document.get("form_response")
    if not isinstance(response, dict):
        raise DeliveryError("form_response", "malformed", "expected the response object")
    token = scalar_text(response.get("token"))
    if token is None:
        raise DeliveryError("form_response.token", "missing")
    form_id = scalar_text(response.get("form_id"))
    if form_id != mapping.form_id:
        raise DeliveryError("form_response.form_id", "form_mismatch", f"{form_id!r} is not {mapping.form_id!r}")
    event_id = scalar_text(document.get("event_id")) or ""
    delivery_id = f"{event_id}:{token}"
    if skip := unfinished_skip(mapping, token, finished=event_type != PARTIAL):
        return ParsedDelivery(submissions=(), skipped=(skip,), delivery_id=delivery_id)
    submitted_at = parse_timestamp(
        response.get("submitted_at") or response.get("landed_at"), field="form_response.submitted_at", naive_zone=UTC
    )
    answers = response.get("answers") or []
    if not isinstance(answers, list):
        raise DeliveryError("form_response.answers", "malformed", "expected a list")
    read = _answers(answers, _definition(response.get("definition")))
    _check_attributed(read, mapping)
    translated = translate_response(
        mapping=mapping,
        submission_id=token,
        submitted_at=submitted_at,
        answers=read.values,
        fields=_fields(response),
    )
    if translated.submission is None:
        return ParsedDelivery(submissions=(), skipped=((token, translated.skip_reason or ""),), delivery_id=delivery_id)
    return ParsedDelivery(submissions=(translated.submission,), delivery_id=delivery_id, free_text=translated.free_text)


@dataclass(frozen=True, slots=True)
class _Question:
    """One question of `definition.fields`: its names (id, ref), and each of its choices' names (ref, id, label)."""

    names: tuple[str, ...]
    choices: tuple[tuple[str, ...], ...] = ()


@dataclass(slots=True)
class _Answers:
    values: dict[str, RawAnswer] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)  # question name -> the answer's type
    unattributed: int = 0  # answers that name no question at all
    defined: set[str] = field(default_factory=set)  # every id and ref in definition.fields


def _definition(definition: object) -> dict[str, _Question]:
    """The questions of `definition.fields` by field id, the questions of matrices and groups included."""
    questions: dict[str, _Question] = {}
    pending = [definition.get("fields")] if isinstance(definition, dict) else []
    while pending:
        for spec in _list(pending.pop()):
            if not isinstance(spec, dict) or not isinstance(spec.get("id"), str) or not spec["id"]:
                continue
            choices = tuple(
                names
                for choice in _list(spec.get("choices"))
                if isinstance(choice, dict) and (names := _names(choice, ("ref", "id", "label")))
            )
            questions[spec["id"]] = _Question(_names(spec, ("id", "ref")), choices)
            properties = spec.get("properties")
            if isinstance(properties, dict):
                pending.append(properties.get("fields"))
    return questions


def _answers(answers: Sequence[object], definition: Mapping[str, _Question]) -> _Answers:
    """Each answer under every name of its question: its `field.id` and `field.ref`, and the ref that
    `definition.fields` gives that id."""
    read = _Answers(defined={name for question in definition.values() for name in question.names})
    for answer in answers:
        if not isinstance(answer, dict):
            continue
        answer_field = answer.get("field")
        given = _names(answer_field, ("id", "ref")) if isinstance(answer_field, dict) else ()
        question = next((definition[name] for name in given if name in definition), None)
        names = tuple(dict.fromkeys(given + (question.names if question else ())))
        if not names:
            read.unattributed += 1
            continue
        value = _value(answer, question.choices if question else ())
        for name in names:
            if value is None:
                read.unreadable[name] = str(answer.get("type"))
            else:
                read.values[name] = value
    return read


def _check_attributed(read: _Answers, mapping: PlatformMapping) -> None:
    """Refuse, rather than store, a response whose mapped question's answer would be silently left out."""
    for question in mapping.questions:
        if question in read.values:
            continue
        if question in read.unreadable:
            raise DeliveryError(
                question, "unreadable_answer", f"an answer of type {read.unreadable[question]!r} tempen cannot read"
            )
        if read.unattributed and question in read.defined:
            raise DeliveryError(
                question,
                "unattributed_answer",
                f"{read.unattributed} answer(s) name no question (no field.id, no field.ref); it may be among them",
            )


def _value(answer: Mapping[str, object], choices: Sequence[tuple[str, ...]]) -> RawAnswer:
    kind = answer.get("type")
    if kind == "choice":
        return _choice(answer.get("choice"), choices)
    if kind == "choices":
        return _choices(answer.get("choices"), choices)
    if kind in ("number", "boolean"):
        value = answer.get(kind)
        return value if isinstance(value, int | float | bool) else None
    if kind in _TEXT_TYPES:
        value = answer.get(kind)
        return value if isinstance(value, str) else None
    return None


def _choice(choice: object, defined: Sequence[tuple[str, ...]]) -> Choice | None:
    if not isinstance(choice, dict):
        return None
    names = _names(choice, ("ref", "id", "label"))
    if names:
        return _with_defined_names(names, defined)
    # An "Other" answer has only free text under `other`: no option was chosen, so the question counts as unanswered.
    return Choice(()) if "other" in choice else None


def _choices(choices: object, defined: Sequence[tuple[str, ...]]) -> list[Choice] | None:
    if not isinstance(choices, dict):
        return None
    lists = [column for key in ("refs", "ids", "labels") if isinstance(column := choices.get(key), list)]
    if not lists:
        return [] if "other" in choices else None
    # The arrays are parallel: refs[i], ids[i] and labels[i] name the same chosen option.
    count = max(len(column) for column in lists)
    chosen = [
        tuple(name for column in lists if i < len(column) and isinstance(name := column[i], str) and name)
        for i in range(count)
    ]
    return [_with_defined_names(names, defined) for names in chosen if names]


def _with_defined_names(names: tuple[str, ...], defined: Sequence[tuple[str, ...]]) -> Choice:
    # The documented example names a chosen option by its label only; its ref and id are in definition.fields.
    option = next((option for option in defined if set(option) & set(names)), ())
    return Choice(tuple(dict.fromkeys(names + option)))


def _names(source: Mapping[str, object], keys: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for key in keys if isinstance(name := source.get(key), str) and name))


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _fields(response: Mapping[str, object]) -> dict[str, str]:
    fields: dict[str, str] = {}
    variables = response.get("variables")
    if isinstance(variables, list):
        for variable in variables:
            if isinstance(variable, dict) and isinstance(key := variable.get("key"), str):
                text = scalar_text(variable.get(str(variable.get("type"))))
                if text is not None:
                    fields[key] = text
                    fields[f"variables.{key}"] = text
    hidden = response.get("hidden")
    if isinstance(hidden, dict):
        fields.update(string_fields(hidden))
        fields.update(string_fields(hidden, prefix="hidden."))
    fields.update(string_fields({key: response.get(key) for key in ("token", "landing_id")}))
    return fields
