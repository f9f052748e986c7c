from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Literal, Protocol

from tempen_shared.events import DeadLetter
from tempen_shared.events.wire import CanonicalSubmissionRecord
from tempen_shared.tenancy.org import OrgTree


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    CORRECTED = "corrected"
    REJECTED = "rejected"
    ERASED = "erased"  # the submission was erased on request (GDPR); it is never stored again


@dataclass(frozen=True, slots=True)
class PreparedSubmission:
    """A valid submission, its respondent already pseudonymised, ready to store."""

    submission: CanonicalSubmissionRecord
    respondent: str | None
    fingerprint: str
    correlation_id: str


@dataclass(frozen=True, slots=True)
class StoredSubmission:
    outcome: Outcome
    revision: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook call, named by the platform's delivery id, remembered to refuse replays."""

    tenant: str
    platform: str
    delivery_id: str


@dataclass(frozen=True, slots=True)
class Comment:
    """A free-text answer the tenant opted in to keep. Stored in ingest only, never published."""

    tenant: str
    submission_id: str
    question: str
    text: str


@dataclass(frozen=True, slots=True)
class Retraction:
    """A submission whose raw answers were erased, and the revision its retraction was published as."""

    tenant: str
    unit: str
    submission_id: str
    revision: int


@dataclass(frozen=True, slots=True)
class Purged:
    answers: int
    comments: int
    deliveries: int


@dataclass(frozen=True, slots=True)
class FetchKey:
    """One response a platform named in a webhook (SurveyMonkey, Qualtrics): queued once, fetched later."""

    tenant: str
    platform: str
    response_id: str


@dataclass(frozen=True, slots=True)
class PendingFetch:
    key: FetchKey
    mapping_id: str
    survey_id: str
    event_id: str | None = None
    attempts: int = 0  # failed attempts so far


@dataclass(frozen=True, slots=True)
class Settlement:
    """How a queued fetch ended: `done` (its submission stored), `skipped` (nothing to store, with why)
    or `dead` (dead-lettered, with why)."""

    key: FetchKey
    state: Literal["done", "skipped", "dead"]
    reason: str | None = None


class FetchFailedError(Exception):
    """The platform's API did not give the response. `reason` is short and low-cardinality (a metric
    label); `permanent` when asking again cannot help (401, 403, 404); `retry_after_s` when the
    platform said when to ask again."""

    def __init__(self, reason: str, detail: str, *, permanent: bool, retry_after_s: float | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.permanent = permanent
        self.retry_after_s = retry_after_s


class ReplayedDeliveryError(Exception):
    """This delivery id was received before; nothing of the repeated delivery was stored."""

    def __init__(self, delivery: Delivery) -> None:
        super().__init__(f"delivery {delivery.delivery_id!r} from {delivery.platform} was received before")
        self.delivery = delivery


class SubmissionStore(Protocol):
    async def store(
        self,
        submissions: Sequence[PreparedSubmission],
        dead_letters: Sequence[DeadLetter] = (),
        *,
        delivery: Delivery | None = None,
        comments: Sequence[Comment] = (),
        settles: Settlement | None = None,
    ) -> list[StoredSubmission]:
        """Store submissions and their outbox messages in one transaction, in order.

        A submission id seen before with the same content is a DUPLICATE (nothing changes); with
        other content it is CORRECTED (revision + 1, published again); an erased one is ERASED
        (nothing changes, nothing is published). Dead letters are written to the outbox in the same
        transaction. With `delivery`, the delivery id is recorded in the same transaction too, and
        `comments` (free text) are kept beside the submissions they belong to. With `settles`, that
        queued fetch is marked settled in the same transaction.

        Raises:
            ReplayedDeliveryError: `delivery` was recorded before; nothing is stored.
            StoreUnavailableError: the database cannot be reached; nothing is stored.
        """
        ...

    async def erase_respondent(self, *, tenant: str, respondent: str) -> list[Retraction]:
        """Erase the raw answers and free text of every submission of `respondent` (a pseudonym).

        In one transaction: each such submission gets revision + 1, loses its answers, respondent
        and comments, is marked erased, and a SubmissionRetracted at that revision goes to the
        outbox. Submissions erased before are left alone, so a repeated erasure returns nothing.

        Raises:
            StoreUnavailableError: the database cannot be reached; nothing is erased.
        """
        ...

    async def purge(
        self, *, answers_before: datetime, comments_before: datetime, deliveries_before: datetime
    ) -> Purged:
        """Delete raw answers stored before `answers_before` (keeping each row's id, revision and
        fingerprint, so redeliveries are still recognised), comments received before
        `comments_before` and delivery ids received before `deliveries_before`.

        Raises:
            StoreUnavailableError: the database cannot be reached.
        """
        ...

    async def ping(self) -> bool: ...


class OrgStore(Protocol):
    """Imported versions of each tenant's org tree, numbered 1, 2, … per tenant."""

    async def latest(self, tenant: str) -> tuple[int, date, OrgTree] | None:
        """The tenant's newest imported version as (version, effective from, tree); None when nothing was
        imported (the configured org file is all there is)."""
        ...

    async def store(self, tenant: str, tree: OrgTree, *, effective_from: date, source: str) -> int:
        """Store `tree` as the tenant's next version and, in the same transaction, an OrgUnitVersioned
        event per unit in the outbox. Returns the new version's number. Imports of one tenant are
        serialised, so two never get the same number.

        Raises:
            StoreUnavailableError: the database cannot be reached; nothing is stored.
        """
        ...


class FetchQueue(Protocol):
    """Responses named by id-only webhooks, waiting to be fetched from their platform."""

    async def enqueue(self, fetch: PendingFetch) -> bool:
        """Queue `fetch`, due now. False when this response was queued before (nothing changes).

        Raises:
            StoreUnavailableError: the database cannot be reached; nothing is queued.
        """
        ...

    async def claim(self, *, limit: int, lease_s: float) -> list[PendingFetch]:
        """Up to `limit` due fetches, oldest first, each held for `lease_s` (another replica does not
        take it meanwhile; a process that dies holding it only delays it)."""
        ...

    async def retry_later(self, key: FetchKey, *, delay_s: float, error: str) -> None:
        """Count one failed attempt and make the fetch due again after `delay_s`."""
        ...

    async def settle(self, settlement: Settlement) -> None:
        """Mark a fetch settled without storing anything (a response with nothing to store)."""
        ...

    async def backlog(self) -> int:
        """Fetches not yet settled."""
        ...

    async def prune(self, *, before: datetime) -> int:
        """Forget fetches done or skipped before `before` (a later repeat of the webhook then fetches
        the response again and stores it as a duplicate: nothing changes). Dead ones stay until an
        operator queues them again or deletes them."""
        ...


class ResponseSource(Protocol):
    """A platform's API, asked for one response."""

    async def get(self, url: str, headers: Mapping[str, str]) -> bytes:
        """The body of a successful GET of `url`.

        Raises:
            FetchFailedError: no response body (unreachable, timed out, refused, rate-limited, too large).
        """
        ...
