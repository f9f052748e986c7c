from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from tempen_shared.events import CanonicalSubmission, DeadLetter


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    CORRECTED = "corrected"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class PreparedSubmission:
    """A valid submission, its respondent already pseudonymised, ready to store."""

    submission: CanonicalSubmission
    respondent: str | None
    fingerprint: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class StoredSubmission:
    outcome: Outcome
    revision: int


class SubmissionStore(Protocol):
    async def store(
        self, submissions: Sequence[PreparedSubmission], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[StoredSubmission]:
        """Store submissions and their outbox messages in one transaction, in order.

        A submission id seen before with the same content is a DUPLICATE (nothing changes); with
        other content it is CORRECTED (revision + 1, published again). Dead letters are written to
        the outbox in the same transaction. Raises StoreUnavailableError when the database cannot
        be reached; nothing is stored then.
        """
        ...

    async def ping(self) -> bool: ...
