"""Typeform webhooks: `form_response` (and `form_response_partial`) events.

Shape per https://www.typeform.com/developers/webhooks/example-payload/: `event_id`, `event_type` and
`form_response` with `form_id`, `token` (the response id), `submitted_at`, `hidden`, `variables`,
`definition.fields` and typed `answers[]`, each naming its question by `field.id` and `field.ref`.
Answer types: `choice` (`{id, ref, label}`), `choices` (`ids`, `refs`, `labels`), `number` (also
rating and opinion scale), `boolean` (yes/no, legal), `text`, `email`, `date`, `url`, ...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
)
from tempen_ingest.domain.platforms.mapping import PlatformMapping

RESPONSE_EVENTS = frozenset({"form_response", "form_response_partial"})
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
    submitted_at = parse_timestamp(
        response.get("submitted_at") or response.get("landed_at"), field="form_response.submitted_at", naive_zone=UTC
    )
    answers = response.get("answers") or []
    if not isinstance(answers, list):
        raise DeliveryError("form_response.answers", "malformed", "expected a list")
    translated = translate_response(
        mapping=mapping,
        submission_id=token,
        submitted_at=submitted_at,
        answers=_answers(answers),
        fields=_fields(response),
    )
    delivery_id = f"{event_id}:{token}"
    if translated.submission is None:
        return ParsedDelivery(submissions=(), skipped=((token, translated.skip_reason or ""),), delivery_id=delivery_id)
    return ParsedDelivery(submissions=(translated.submission,), delivery_id=delivery_id, free_text=translated.free_text)


def _answers(answers: Sequence[object]) -> dict[str, RawAnswer]:
    found: dict[str, RawAnswer] = {}
    for answer in answers:
        if not isinstance(answer, dict) or not isinstance(answer.get("field"), dict):
            continue
        value = _value(answer)
        if value is None:
            continue
        field = answer["field"]
        for name in (field.get("id"), field.get("ref")):
            if isinstance(name, str) and name:
                found[name] = value
    return found


def _value(answer: Mapping[str, object]) -> RawAnswer:
    kind = answer.get("type")
    if kind == "choice":
        return _choice(answer.get("choice"))
    if kind == "choices":
        return _choices(answer.get("choices"))
    if kind in ("number", "boolean"):
        value = answer.get(kind)
        return value if isinstance(value, int | float | bool) else None
    if kind in _TEXT_TYPES:
        value = answer.get(kind)
        return value if isinstance(value, str) else None
    return None


def _choice(choice: object) -> Choice | None:
    if not isinstance(choice, dict):
        return None
    # An "Other" answer has only free text under `other`; it matches no mapped value, so it is left out.
    names = tuple(name for key in ("ref", "id", "label") if isinstance(name := choice.get(key), str) and name)
    return Choice(names) if names else None


def _choices(choices: object) -> list[Choice] | None:
    if not isinstance(choices, dict):
        return None
    columns = [choices.get(key) for key in ("refs", "ids", "labels")]
    lists = [column for column in columns if isinstance(column, list)]
    if not lists:
        return None
    # The arrays are parallel: refs[i], ids[i] and labels[i] name the same chosen option.
    count = max(len(column) for column in lists)
    chosen = [
        Choice(tuple(name for column in lists if i < len(column) and isinstance(name := column[i], str) and name))
        for i in range(count)
    ]
    return [choice for choice in chosen if choice.names]


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
