from typing import Annotated, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict, Field

from tempen_shared.bounds import IdentifierText, Timestamp
from tempen_shared.events.base import Event

SUBMISSION_NAMESPACE = uuid5(NAMESPACE_URL, "https://tempen.example/submissions")

Identifier = str  # documented shape: 1-128 chars of letters, digits and . _ - :


class CanonicalSubmission(BaseModel):
    """One respondent's answers to one instrument, as a survey platform hands them to tempen.

    This is the body of ingest's HTTP API and of the intake topic. `answers` maps item ids to the
    raw value on the item's scale (or a "vet ej" code the instrument declares). `respondent` is the
    platform's respondent identifier; ingest replaces it with a keyed pseudonym before storing it.
    """

    # Ingest reads bodies as `wire.CanonicalSubmissionRecord` where that gives the same result, and this
    # model where it may not: a limit or check added here must be added there (tests/shared/test_wire.py
    # fails until it is). A comment, not the docstring: the docstring is the API's published description.

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    tenant: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    instrument: IdentifierText = Field(min_length=1, max_length=128)
    unit: IdentifierText = Field(min_length=1, max_length=128)
    submission_id: IdentifierText = Field(min_length=1, max_length=200)
    submitted_at: Timestamp  # an aware datetime within tempen_shared.bounds' window
    answers: dict[Annotated[str, Field(max_length=128)], int] = Field(min_length=1, max_length=500)
    respondent: IdentifierText | None = Field(default=None, max_length=200)


class SubmissionAcceptedV1(Event):
    """A validated submission, stored by ingest. Published on `tempen.submissions`, keyed tenant:unit.

    `revision` grows each time the platform corrects the same `submission_id` ("response updated");
    consumers keep the highest revision and replace the earlier contribution. Free-text answers never
    appear here, and `respondent` is already a keyed per-tenant pseudonym.
    """

    schema_version: Literal[1] = 1
    tenant: str
    instrument: str
    unit: str
    submission_id: str
    revision: int = Field(ge=1)
    # Bounded here too: a record published before ingest refused such dates is dead-lettered as
    # invalid by scoring instead of failing its period arithmetic.
    submitted_at: Timestamp
    answers: dict[str, int]
    respondent: str | None = None


SubmissionAccepted = SubmissionAcceptedV1


def submission_event_id(tenant: str, submission_id: str, revision: int) -> UUID:
    """The event id of one revision of a submission: the same on every re-publish, so duplicates are recognised."""
    return uuid5(SUBMISSION_NAMESPACE, f"{tenant}\x1f{submission_id}\x1f{revision}")
