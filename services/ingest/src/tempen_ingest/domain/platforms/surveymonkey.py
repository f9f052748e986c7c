"""SurveyMonkey: the `response_completed` webhook names a response; its answers come from the API.

Shapes per github.com/SurveyMonkey/public_api_docs: the callback (includes/_webhooks.md, "Callback
Event": `event_type`, `event_id`, `object_type`, `object_id` = the response id, `resources.survey_id`)
and `GET /v3/surveys/{survey_id}/responses/{response_id}/details` (includes/_responses.md: `id`,
`survey_id`, `response_status` completed|partial|overquota|disqualified, `date_created`,
`date_modified`, `custom_variables`, `custom_value`, `recipient_id`, and `pages[].questions[]` with
`id` and `answers[]` of `choice_id`, `row_id`, `col_id`, `other_id`, `text`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from urllib.parse import quote

from tempen_ingest.domain.platforms.delivery import (
    SCREENED_OUT,
    UNFINISHED,
    Choice,
    DeliveryError,
    ParsedDelivery,
    RawAnswer,
    Scalar,
    parse_json_object,
    parse_timestamp,
    scalar_text,
    string_fields,
    translate_response,
)
from tempen_ingest.domain.platforms.fetched import ResponseNotice, ResponseRequest, plain_id
from tempen_ingest.domain.platforms.mapping import PlatformMapping

API_URL = "https://api.surveymonkey.com"
COMPLETED = "response_completed"
PREVIEW_MODES = frozenset({"preview", "survey_preview"})  # the survey's author trying it, not a respondent


def read_surveymonkey_notice(body: bytes, mapping: PlatformMapping) -> ResponseNotice | str:
    """The response a verified callback names, or why the callback names none to fetch.

    Raises:
        DeliveryError: the body is not a SurveyMonkey callback, or is for another survey.
    """
    document = parse_json_object(body)
    event_type = document.get("event_type")
    if event_type != COMPLETED:
        return f"event_type {event_type!r} is not {COMPLETED}"
    if document.get("object_type") != "response":
        raise DeliveryError("object_type", "malformed", "a response_completed event is about a response")
    resources = document.get("resources")
    if not isinstance(resources, dict):
        raise DeliveryError("resources", "malformed", "expected the event's ids")
    survey_id = plain_id(resources.get("survey_id"), field="resources.survey_id")
    if survey_id != mapping.form_id:
        raise DeliveryError("resources.survey_id", "form_mismatch", f"{survey_id!r} is not {mapping.form_id!r}")
    event_id = document.get("event_id")
    return ResponseNotice(
        response_id=plain_id(document.get("object_id"), field="object_id"),
        survey_id=survey_id,
        event_id=plain_id(event_id, field="event_id") if event_id is not None else None,
    )


def surveymonkey_request(mapping: PlatformMapping, notice: ResponseNotice, *, token: str) -> ResponseRequest:
    base = (mapping.api.base_url if mapping.api else None) or API_URL
    survey, response = quote(notice.survey_id, safe=""), quote(notice.response_id, safe="")
    return ResponseRequest(
        url=f"{base}/v3/surveys/{survey}/responses/{response}/details",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )


def parse_surveymonkey_response(body: bytes, mapping: PlatformMapping, notice: ResponseNotice) -> ParsedDelivery:
    """Turn one fetched response (`/details`) into at most one submission.

    Questions are named in the mapping by question id; a matrix by question id with `rows` keyed by
    row id; choices by choice id in `values` (choice ids are never read as numbers). Open-ended
    answers are text (a number typed in is read as one). Unit and respondent fields name custom
    variables (`unit` or `custom_variables.unit`), `custom_value` or `recipient_id`. A response not
    `completed`, or taken in a preview, is skipped with why.

    Raises:
        DeliveryError: the body is not this response, or it cannot be mapped.
    """
    document = parse_json_object(body)
    response_id = plain_id(document.get("id"), field="id")
    if response_id != notice.response_id:
        raise DeliveryError("id", "response_mismatch", f"{response_id!r} is not {notice.response_id!r}")
    survey_id = scalar_text(document.get("survey_id"))
    if survey_id != mapping.form_id:
        raise DeliveryError("survey_id", "form_mismatch", f"{survey_id!r} is not {mapping.form_id!r}")
    status = scalar_text(document.get("response_status"))
    # A partial response is an unfinished one, counted only when the mapping opts in; an over-quota or
    # disqualified respondent was screened out by the survey itself and never counts.
    if status in ("overquota", "disqualified"):
        return ParsedDelivery(submissions=(), skipped=((response_id, SCREENED_OUT),))
    if status != "completed" and not (status == "partial" and mapping.count_unfinished):
        return ParsedDelivery(submissions=(), skipped=((response_id, UNFINISHED),))
    mode = scalar_text(document.get("collection_mode"))
    if mode in PREVIEW_MODES:
        return ParsedDelivery(submissions=(), skipped=((response_id, f"a preview: collection_mode {mode}"),))
    submitted_at = parse_timestamp(
        document.get("date_modified") or document.get("date_created"), field="date_modified", naive_zone=UTC
    )
    translated = translate_response(
        mapping=mapping,
        submission_id=response_id,
        submitted_at=submitted_at,
        answers=_answers(document.get("pages")),
        fields=_fields(document),
        response_id=response_id,
    )
    if translated.submission is None:
        return ParsedDelivery(submissions=(), skipped=((response_id, translated.skip_reason or ""),))
    return ParsedDelivery(submissions=(translated.submission,), free_text=translated.free_text)


def _answers(pages: object) -> dict[str, RawAnswer]:
    if pages is None:
        return {}
    if not isinstance(pages, list):
        raise DeliveryError("pages", "malformed", "expected a list")
    found: dict[str, RawAnswer] = {}
    for page in pages:
        questions = page.get("questions") if isinstance(page, dict) else None
        for question in questions if isinstance(questions, list) else ():
            if not isinstance(question, dict) or not isinstance(answers := question.get("answers"), list):
                continue
            question_id = scalar_text(question.get("id"))
            if question_id is not None:
                found[question_id] = _question_answer(question_id, [a for a in answers if isinstance(a, dict)])
    return found


def _question_answer(question_id: str, answers: Sequence[Mapping[str, object]]) -> RawAnswer:
    if any("row_id" in answer for answer in answers):
        rows: dict[str, Scalar] = {}
        for answer in answers:
            row, value = scalar_text(answer.get("row_id")), _scalar(answer)
            if row is None or value is None:
                continue
            if row in rows:
                # A matrix menu (one answer per row and column) has no one value per row to map.
                raise DeliveryError(f"{question_id}[{row}]", "unexpected_shape", "several answers in one row")
            rows[row] = value
        return rows
    chosen = [value for answer in answers if (value := _scalar(answer)) is not None]
    if not chosen:
        return None
    if len(chosen) == 1 and isinstance(chosen[0], str):
        return chosen[0]
    return chosen


def _scalar(answer: Mapping[str, object]) -> Scalar | None:
    choice = scalar_text(answer.get("choice_id"))
    if choice is not None:
        return Choice((choice,), opaque=True)
    if answer.get("other_id") is not None:
        return None  # an "Other" text box: free text, never a mapped value
    return scalar_text(answer.get("text"))


def _fields(document: Mapping[str, object]) -> dict[str, str]:
    fields: dict[str, str] = {}
    variables = document.get("custom_variables")
    if isinstance(variables, dict):
        fields.update(string_fields(variables))
        fields.update(string_fields(variables, prefix="custom_variables."))
    fields.update(string_fields({key: document.get(key) for key in ("custom_value", "recipient_id", "collector_id")}))
    return fields
