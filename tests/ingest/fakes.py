"""An in-memory SubmissionStore: the fake the contract suite holds to the same behaviour as PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tempen_ingest.ports import (
    Comment,
    Delivery,
    FetchKey,
    Outcome,
    PreparedSubmission,
    Purged,
    ReplayedDeliveryError,
    Retraction,
    Settlement,
    StoredSubmission,
)
from tempen_shared.events import DeadLetter


@dataclass
class _Row:
    revision: int
    fingerprint: str
    unit: str
    respondent: str | None
    answers: dict[str, int] | None
    stored_at: datetime
    erased: bool = False


@dataclass
class InMemorySubmissionStore:
    rows: dict[tuple[str, str], _Row] = field(default_factory=dict)
    deliveries: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    comments: dict[tuple[str, str, str], tuple[str, datetime]] = field(default_factory=dict)
    published: list[tuple[str, int]] = field(default_factory=list)  # (submission id, revision), in order
    dead_letters: list[DeadLetter] = field(default_factory=list)
    settled: dict[FetchKey, Settlement] = field(default_factory=dict)

    async def store(
        self,
        submissions: Sequence[PreparedSubmission],
        dead_letters: Sequence[DeadLetter] = (),
        *,
        delivery: Delivery | None = None,
        comments: Sequence[Comment] = (),
        settles: Settlement | None = None,
    ) -> list[StoredSubmission]:
        now = datetime.now(UTC)
        if delivery is not None:
            key = (delivery.tenant, delivery.platform, delivery.delivery_id)
            if key in self.deliveries:
                raise ReplayedDeliveryError(delivery)
            self.deliveries[key] = now
        outcomes: list[StoredSubmission] = []
        for prepared in submissions:
            s = prepared.submission
            key2 = (s.tenant, s.submission_id)
            row = self.rows.get(key2)
            if row is not None and row.erased:
                outcomes.append(StoredSubmission(Outcome.ERASED, row.revision))
                continue
            if row is not None and row.fingerprint == prepared.fingerprint:
                outcomes.append(StoredSubmission(Outcome.DUPLICATE, row.revision))
                continue
            revision = 1 if row is None else row.revision + 1
            self.rows[key2] = _Row(revision, prepared.fingerprint, s.unit, prepared.respondent, dict(s.answers), now)
            self.published.append((s.submission_id, revision))
            outcomes.append(StoredSubmission(Outcome.ACCEPTED if row is None else Outcome.CORRECTED, revision))
        for comment in comments:
            row = self.rows.get((comment.tenant, comment.submission_id))
            if row is not None and not row.erased:
                self.comments[(comment.tenant, comment.submission_id, comment.question)] = (comment.text, now)
        self.dead_letters.extend(dead_letters)
        if settles is not None:
            self.settled[settles.key] = settles
        return outcomes

    async def erase_respondent(self, *, tenant: str, respondent: str) -> list[Retraction]:
        retractions: list[Retraction] = []
        for (row_tenant, submission_id), row in sorted(self.rows.items()):
            if row_tenant != tenant or row.respondent != respondent or row.erased:
                continue
            row.revision += 1
            row.answers, row.respondent, row.fingerprint, row.erased = None, None, "erased", True
            retractions.append(Retraction(tenant, row.unit, submission_id, row.revision))
            self.published.append((submission_id, row.revision))
            for key in [k for k in self.comments if k[:2] == (tenant, submission_id)]:
                del self.comments[key]
        return retractions

    async def purge(
        self, *, answers_before: datetime, comments_before: datetime, deliveries_before: datetime
    ) -> Purged:
        answers = 0
        for row in self.rows.values():
            if row.answers is not None and row.stored_at < answers_before:
                row.answers = None
                answers += 1
        old_comments = [k for k, (_text, at) in self.comments.items() if at < comments_before]
        for key in old_comments:
            del self.comments[key]
        old_deliveries = [k for k, at in self.deliveries.items() if at < deliveries_before]
        for key in old_deliveries:
            del self.deliveries[key]
        return Purged(answers=answers, comments=len(old_comments), deliveries=len(old_deliveries))

    async def ping(self) -> bool:
        return True
