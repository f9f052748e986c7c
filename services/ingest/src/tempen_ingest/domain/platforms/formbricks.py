"""Formbricks webhooks: `responseCreated`, `responseUpdated`, `responseFinished` and the `testEndpoint` ping.

The body is `{"webhookId", "event", "data": <response>}` (formbricks/formbricks,
apps/web/modules/response-pipeline/lib/process-response-pipeline-job.ts; examples in
docs/platform/features/integrations/webhooks.mdx). The "Test Endpoint" button posts `{"event": "testEndpoint"}`
(apps/web/modules/integrations/webhooks/lib/webhook.ts). `data.data` holds answers keyed by question
id: numbers (rating, NPS), labels (single choice), label lists (multiple choice), `{row label: column
label}` (matrix), and the survey's hidden fields. A response's id stays the same through every event,
so partial responses update one submission. `data.finished` is false until the respondent finishes;
such a response is skipped unless the mapping counts unfinished ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC

from tempen_ingest.domain.platforms.delivery import (
    DeliveryError,
    ParsedDelivery,
    RawAnswer,
    parse_json_object,
    parse_timestamp,
    string_fields,
    translate_response,
    unfinished_skip,
)
from tempen_ingest.domain.platforms.mapping import PlatformMapping
from tempen_shared.bounds import InputError, parse_json

RESPONSE_EVENTS = frozenset({"responseCreated", "responseUpdated", "responseFinished"})
TEST_PING = "testEndpoint"


def parse_formbricks(body: bytes, mapping: PlatformMapping) -> ParsedDelivery:
    """Turn one Formbricks webhook body into at most one submission.

    Unit and respondent fields may name a hidden field (`unit`), a contact attribute
    (`contactAttributes.unit`, or just `unit` when no hidden field has that name), `contact.id`,
    `contact.userId`, `meta.<key>`, `variables.<key>`, `singleUseId` or `language`.

    Raises:
        DeliveryError: the body is not a Formbricks delivery, is for another survey, or cannot be mapped.
    """
    document = parse_json_object(body)
    event = document.get("event")
    if event == TEST_PING:
        return ParsedDelivery(submissions=(), ignored="test ping")
    if not isinstance(event, str) or event not in RESPONSE_EVENTS:
        return ParsedDelivery(submissions=(), ignored=f"event {event!r} carries no response")
    response = document.get("data")
    if not isinstance(response, dict):
        raise DeliveryError("data", "malformed", "expected the response object")
    response_id = _required_text(response, "id")
    survey_id = _required_text(response, "surveyId")
    if survey_id != mapping.form_id:
        raise DeliveryError("data.surveyId", "form_mismatch", f"{survey_id!r} is not {mapping.form_id!r}")
    finished = response.get("finished") is True or event == "responseFinished"
    if skip := unfinished_skip(mapping, response_id, finished=finished):
        return ParsedDelivery(submissions=(), skipped=(skip,))
    answers = response.get("data") or {}
    if not isinstance(answers, dict):
        raise DeliveryError("data.data", "malformed", "expected answers keyed by question id")
    submitted_at = parse_timestamp(
        response.get("updatedAt") or response.get("createdAt"), field="data.updatedAt", naive_zone=UTC
    )
    translated = translate_response(
        mapping=mapping,
        submission_id=response_id,
        submitted_at=submitted_at,
        answers=_answers(answers),
        fields=_fields(response, answers),
    )
    if translated.submission is None:
        return ParsedDelivery(submissions=(), skipped=((response_id, translated.skip_reason or ""),))
    return ParsedDelivery(submissions=(translated.submission,), free_text=translated.free_text)


def is_formbricks_test_ping(body: bytes) -> bool:
    """Whether `body` is exactly the "Test Endpoint" ping, `{"event": "testEndpoint"}`, and nothing more.

    Formbricks will not save a new webhook until this ping succeeds, and signs it with a secret it
    shows only after saving (apps/web/modules/integrations/webhooks/components/add-webhook-modal.tsx).
    So the endpoint may answer 2xx to this exact body even when its signature cannot be verified yet:
    it carries no data and nothing is stored.
    """
    try:
        document = parse_json(body)
    except InputError:
        return False
    return bool(document == {"event": TEST_PING})


def _answers(answers: Mapping[str, object]) -> dict[str, RawAnswer]:
    found: dict[str, RawAnswer] = {}
    for question, value in answers.items():
        if isinstance(value, str | int | float):
            found[question] = value
        elif isinstance(value, list):
            found[question] = [item for item in value if isinstance(item, str | int | float)]
        elif isinstance(value, dict):
            found[question] = {str(row): column for row, column in value.items() if isinstance(column, str)}
    return found


def _fields(response: Mapping[str, object], answers: Mapping[str, object]) -> dict[str, str]:
    fields: dict[str, str] = {}
    attributes = response.get("contactAttributes")
    if isinstance(attributes, dict):
        fields.update(string_fields(attributes))
        fields.update(string_fields(attributes, prefix="contactAttributes."))
    # Hidden fields live among the answers (the survey starts its response data with them), and win
    # over a contact attribute of the same name because they were set for this very response.
    fields.update(string_fields(answers))
    for name in ("contact", "meta", "variables"):
        nested = response.get(name)
        if isinstance(nested, dict):
            fields.update(string_fields(nested, prefix=f"{name}."))
    fields.update(string_fields({key: response.get(key) for key in ("singleUseId", "language", "displayId")}))
    return fields


def _required_text(response: Mapping[str, object], key: str) -> str:
    value = response.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DeliveryError(f"data.{key}", "missing")
    return value.strip()
