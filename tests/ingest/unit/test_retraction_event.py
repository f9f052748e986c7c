from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from tempen_shared.events import (
    SubmissionAcceptedV1,
    SubmissionRetractedV1,
    parse_submission_event,
    submission_event_id,
)
from tempen_shared.topics import SUBMISSIONS

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)


def retraction(**overrides: object) -> SubmissionRetractedV1:
    values: dict[str, object] = {
        "event_id": submission_event_id("hjo", "s-1", 3),
        "occurred_at": NOW,
        "tenant": "hjo",
        "unit": "hjo-vo-hemtjanst-norra",
        "submission_id": "s-1",
        "revision": 3,
        "respondent": "p-0123456789abcdef0123456789abcdef",
    }
    values.update(overrides)
    return SubmissionRetractedV1.model_validate(values)


def test_a_retraction_on_the_submissions_topic_is_read_as_a_retraction() -> None:
    event = parse_submission_event(retraction().model_dump_json())
    assert isinstance(event, SubmissionRetractedV1)
    assert (event.event_type, event.reason, event.revision) == ("submission_retracted", "erasure", 3)


def test_an_acceptance_is_still_read_as_an_acceptance() -> None:
    accepted = SubmissionAcceptedV1(
        event_id=uuid4(),
        occurred_at=NOW,
        tenant="hjo",
        instrument="hjo-puls",
        unit="hjo-klk-hr",
        submission_id="s-2",
        revision=1,
        submitted_at=NOW,
        answers={"hme-1": 4},
    )
    assert isinstance(parse_submission_event(accepted.model_dump_json().encode()), SubmissionAcceptedV1)


def test_a_retraction_never_carries_answers_and_is_never_a_first_revision() -> None:
    assert "answers" not in SubmissionRetractedV1.model_fields
    with pytest.raises(ValidationError):
        retraction(revision=1)


def test_a_retraction_is_not_accepted_as_a_submission_by_an_older_reader() -> None:
    with pytest.raises(ValidationError):
        SubmissionAcceptedV1.model_validate_json(retraction().model_dump_json())


def test_the_topic_registry_lists_retractions_on_the_submissions_topic() -> None:
    assert SubmissionRetractedV1 in SUBMISSIONS.also
