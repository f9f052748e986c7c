"""Retractions: a submission taken back, so that everything derived from it is removed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tempen_shared.bounds import parse_json
from tempen_shared.events.base import Event
from tempen_shared.events.submissions import SubmissionAcceptedV1

RETRACTED: Literal["submission_retracted"] = "submission_retracted"


class SubmissionRetractedV1(Event):
    """A stored submission withdrawn from everything computed from it (a respondent's GDPR erasure).

    Published by ingest on `tempen.submissions`, keyed `tenant:unit` like the submission's own
    SubmissionAccepted events (the unit of its last revision), after ingest deleted the raw answers
    in the same transaction. It carries no answers.

    `revision` is one more than the last revision ingest published for the submission, so it
    outranks every SubmissionAccepted of it. A consumer removes the submission's stored contribution
    and keeps the retraction as a tombstone at this revision, so that a late or re-published older
    revision is ignored. Ingest never publishes the submission again afterwards: later deliveries
    of the same id are refused as erased. `respondent` is the keyed per-tenant pseudonym.

    Told apart from SubmissionAccepted on the same topic by `event_type` (also sent as the
    `event_type` record header); see `parse_submission_event`.
    """

    schema_version: Literal[1] = 1
    event_type: Literal["submission_retracted"] = RETRACTED
    tenant: str
    unit: str
    submission_id: str
    revision: int = Field(ge=2)
    respondent: str | None = None
    reason: Literal["erasure"] = "erasure"


SubmissionRetracted = SubmissionRetractedV1


def parse_submission_event(value: bytes | str) -> SubmissionAcceptedV1 | SubmissionRetractedV1:
    """Validate a record of `tempen.submissions` into the event it carries.

    A record whose `event_type` is `submission_retracted` is a SubmissionRetracted; anything else is
    read as a SubmissionAccepted (which has no `event_type`).

    Raises:
        pydantic.ValidationError: the record is neither event.
        ValueError: the record is not JSON (tempen_shared.bounds.InputError).
    """
    document = parse_json(value)
    if isinstance(document, dict) and document.get("event_type") == RETRACTED:
        return SubmissionRetractedV1.model_validate(document)
    return SubmissionAcceptedV1.model_validate(document)
