"""Ingest's use cases: turn raw submissions into stored, published facts, or clear rejections."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from tempen_ingest.domain.fingerprint import content_fingerprint
from tempen_ingest.domain.pseudonym import pseudonymise
from tempen_ingest.domain.validation import FieldError, validate_submission
from tempen_ingest.ports import Outcome, PreparedSubmission, StoredSubmission, SubmissionStore
from tempen_shared.events import CanonicalSubmission, DeadLetter
from tempen_shared.tenancy.loader import Catalog


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    submission_id: str | None
    outcome: Outcome
    revision: int | None = None
    errors: tuple[FieldError, ...] = ()

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, "submission_id": self.submission_id, "status": self.outcome.value}
        if self.revision is not None:
            body["revision"] = self.revision
        if self.errors:
            body["errors"] = [e.as_problem() for e in self.errors]
        return body


class IngestService:
    def __init__(
        self,
        *,
        catalog: Catalog,
        store: SubmissionStore,
        pseudonym_keys: Mapping[str, bytes],
        clock: Callable[[], datetime],
        max_clock_skew: timedelta,
    ) -> None:
        self.catalog = catalog
        self._store = store
        self._keys = pseudonym_keys
        self._clock = clock
        self._skew = max_clock_skew

    def prepare(self, raw: Any, *, tenant_id: str) -> PreparedSubmission | list[FieldError]:
        """Validate one raw submission for `tenant_id` (from the URL or the record); pure apart from the clock."""
        if not isinstance(raw, dict):
            return [FieldError("(body)", "a submission must be a JSON object", "malformed")]
        body = dict(raw)
        if body.setdefault("tenant", tenant_id) != tenant_id:
            return [FieldError("tenant", "does not match the tenant in the URL", "tenant_mismatch")]
        try:
            submission = CanonicalSubmission.model_validate(body)
        except ValidationError as exc:
            return [
                FieldError(".".join(str(p) for p in e["loc"]) or "(body)", e["msg"], "invalid")
                for e in exc.errors(include_input=False, include_url=False)
            ]
        tenant = self.catalog.tenants.get(tenant_id)
        if tenant is None:
            return [FieldError("tenant", "unknown tenant", "unknown_tenant")]
        errors = validate_submission(submission, tenant, now=self._clock(), max_clock_skew=self._skew)
        if errors:
            return errors
        respondent = (
            pseudonymise(key=self._keys[tenant_id], tenant=tenant_id, respondent=submission.respondent)
            if submission.respondent
            else None
        )
        return PreparedSubmission(
            submission=submission.model_copy(update={"respondent": None}),
            respondent=respondent,
            fingerprint=content_fingerprint(submission, respondent),
            correlation_id=f"{tenant_id}:{submission.submission_id}",
        )

    async def store(
        self, prepared: Sequence[PreparedSubmission], dead_letters: Sequence[DeadLetter] = ()
    ) -> list[StoredSubmission]:
        return await self._store.store(prepared, dead_letters)

    async def ping(self) -> bool:
        return await self._store.ping()

    async def submit(self, raws: Sequence[Any], *, tenant_id: str) -> list[ItemResult]:
        """Validate all, store the valid ones in one transaction, report a status per item."""
        results: list[ItemResult | None] = [None] * len(raws)
        valid: list[tuple[int, PreparedSubmission]] = []
        for index, raw in enumerate(raws):
            prepared = self.prepare(raw, tenant_id=tenant_id)
            if isinstance(prepared, PreparedSubmission):
                valid.append((index, prepared))
            else:
                sid = raw.get("submission_id") if isinstance(raw, dict) else None
                results[index] = ItemResult(
                    index, sid if isinstance(sid, str) else None, Outcome.REJECTED, errors=tuple(prepared)
                )
        stored = await self._store.store([p for _, p in valid]) if valid else []
        for (index, prepared), outcome in zip(valid, stored, strict=True):
            results[index] = ItemResult(index, prepared.submission.submission_id, outcome.outcome, outcome.revision)
        return [r for r in results if r is not None]
