from tempen_shared.events.alerts import AlertState, AlertTransitioned, AlertTransitionedV1
from tempen_shared.events.base import Event
from tempen_shared.events.dead_letters import DeadLetter, DeadLetterV1
from tempen_shared.events.org import OrgUnitVersioned, OrgUnitVersionedV1, org_event_id
from tempen_shared.events.retractions import SubmissionRetracted, SubmissionRetractedV1, parse_submission_event
from tempen_shared.events.scores import DimensionScore, UnitScored, UnitScoredV1, UnitScoredV2, parse_unit_scored
from tempen_shared.events.submissions import (
    CanonicalSubmission,
    SubmissionAccepted,
    SubmissionAcceptedV1,
    submission_event_id,
)

__all__ = [
    "AlertState",
    "AlertTransitioned",
    "AlertTransitionedV1",
    "CanonicalSubmission",
    "DeadLetter",
    "DeadLetterV1",
    "DimensionScore",
    "Event",
    "OrgUnitVersioned",
    "OrgUnitVersionedV1",
    "SubmissionAccepted",
    "SubmissionAcceptedV1",
    "SubmissionRetracted",
    "SubmissionRetractedV1",
    "UnitScored",
    "UnitScoredV1",
    "UnitScoredV2",
    "org_event_id",
    "parse_submission_event",
    "parse_unit_scored",
    "submission_event_id",
]
