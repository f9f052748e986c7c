"""Qualtrics: a `surveyengine.completedResponse.{SurveyID}` event names a response; its answers come from the API.

The event is a URL-encoded form. With the subscription's `sharedKey` it carries `Topic`, `MSG` (the
event as JSON: `Status`, `SurveyID`, `ResponseID`, `CompletedDate`, `BrandID`, ...) and `HMAC` (see
`tempen_ingest.domain.signatures`). The response comes from `GET /API/v3/surveys/{surveyId}/responses/
{responseId}` with the `X-API-TOKEN` header: `result.responseId`, `result.values` (question ids such
as `QID1`, matrix rows `QID2_1`, text entry `QID3_TEXT`, embedded data by name, and metadata such as
`finished` (1 when submitted), `endDate`, `recordedDate`) and `result.labels` (the answers' labels).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC
from urllib.parse import quote

from tempen_ingest.domain.platforms.delivery import (
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
from tempen_ingest.domain.signatures import qualtrics_form

_MATRIX_ROW = re.compile(r"^(QID\d+)_(\d+)$")
# Qualtrics marks responses from the survey preview and its "Generate test responses" tool so.
PREVIEW_CHANNELS = frozenset({"preview", "test"})


def read_qualtrics_notice(body: bytes, mapping: PlatformMapping) -> ResponseNotice:
    """The response a verified event names (its `MSG`; `Topic` is not signed, so it is not read).

    Raises:
        DeliveryError: `MSG` is not a response event, or is for another survey.
    """
    message = qualtrics_form(body).get("MSG", "")
    document = parse_json_object(message.encode())
    survey_id = plain_id(document.get("SurveyID"), field="MSG.SurveyID")
    if survey_id != mapping.form_id:
        raise DeliveryError("MSG.SurveyID", "form_mismatch", f"{survey_id!r} is not {mapping.form_id!r}")
    return ResponseNotice(response_id=plain_id(document.get("ResponseID"), field="MSG.ResponseID"), survey_id=survey_id)


def qualtrics_request(mapping: PlatformMapping, notice: ResponseNotice, *, token: str) -> ResponseRequest:
    base = mapping.api.base_url if mapping.api else None
    if base is None:
        raise ValueError("a Qualtrics mapping needs api.base_url")
    survey, response = quote(notice.survey_id, safe=""), quote(notice.response_id, safe="")
    return ResponseRequest(
        url=f"{base}/API/v3/surveys/{survey}/responses/{response}",
        headers={"X-API-TOKEN": token, "Accept": "application/json"},
    )


def parse_qualtrics_response(body: bytes, mapping: PlatformMapping, notice: ResponseNotice) -> ParsedDelivery:
    """Turn one fetched response into at most one submission.

    Questions are named in the mapping by question id (`QID1`); a matrix row by its own key
    (`QID2_1`) or as `QID2` with `rows` keyed by row number. Answers are the recode values, matched
    in `values` by recode or label, else read as numbers. Unit and respondent fields name embedded
    data (`unit` or `values.unit`). A response with `finished` other than 1, or from the preview or
    the test-response generator, is skipped.

    Raises:
        DeliveryError: the body is not this response, or it cannot be mapped.
    """
    result = parse_json_object(body).get("result")
    if not isinstance(result, dict):
        raise DeliveryError("result", "malformed", "expected the response object")
    response_id = plain_id(result.get("responseId"), field="result.responseId")
    if response_id != notice.response_id:
        raise DeliveryError("result.responseId", "response_mismatch", f"{response_id!r} is not {notice.response_id!r}")
    values, labels = result.get("values"), result.get("labels")
    if not isinstance(values, dict):
        raise DeliveryError("result.values", "malformed", "expected an object")
    finished = scalar_text(values.get("finished"))
    if finished != "1" and not mapping.count_unfinished:
        return ParsedDelivery(submissions=(), skipped=((response_id, UNFINISHED),))
    channel = scalar_text(values.get("distributionChannel"))
    if channel in PREVIEW_CHANNELS:
        return ParsedDelivery(submissions=(), skipped=((response_id, f"a preview: distributionChannel {channel}"),))
    submitted_at = parse_timestamp(
        values.get("endDate") or values.get("recordedDate"), field="result.values.endDate", naive_zone=UTC
    )
    translated = translate_response(
        mapping=mapping,
        submission_id=response_id,
        submitted_at=submitted_at,
        answers=_answers(values, labels if isinstance(labels, dict) else {}),
        fields={**string_fields(values), **string_fields(values, prefix="values.")},
        response_id=response_id,
    )
    if translated.submission is None:
        return ParsedDelivery(submissions=(), skipped=((response_id, translated.skip_reason or ""),))
    return ParsedDelivery(submissions=(translated.submission,), free_text=translated.free_text)


def _answers(values: Mapping[str, object], labels: Mapping[str, object]) -> dict[str, RawAnswer]:
    found: dict[str, RawAnswer] = {}
    rows: dict[str, dict[str, Scalar]] = {}
    for key, value in values.items():
        answer = _answer(value, labels.get(key))
        if answer is None:
            continue
        found[key] = answer
        row = _MATRIX_ROW.match(key)
        if row and row.group(1) not in values and isinstance(answer, Scalar):
            rows.setdefault(row.group(1), {})[row.group(2)] = answer
    return {**rows, **found}


def _answer(value: object, label: object) -> RawAnswer:
    if isinstance(value, list):
        names = label if isinstance(label, list) and len(label) == len(value) else [None] * len(value)
        chosen = [_choice(item, name) for item, name in zip(value, names, strict=True)]
        return [choice for choice in chosen if choice is not None]
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _choice(value, label)
    return value if isinstance(value, str) else None


def _choice(value: object, label: object) -> Choice | None:
    recode = scalar_text(value)
    if recode is None:
        return None
    return Choice((recode, label) if isinstance(label, str) and label.strip() else (recode,))
