"""Ingest's use cases: turn raw submissions into stored, published facts, or clear rejections."""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import msgspec
import structlog

from tempen_ingest.domain.canonical_csv import read_canonical_csv
from tempen_ingest.domain.fingerprint import content_fingerprint
from tempen_ingest.domain.platforms import (
    FETCHING_PLATFORMS,
    ParsedDelivery,
    PlatformMapping,
    ResponseNotice,
    skip_detail,
)
from tempen_ingest.domain.pseudonym import pseudonymise
from tempen_ingest.domain.validation import FieldError, check_submission
from tempen_ingest.domain.webhooks import (
    Refusal,
    is_unsigned_ping,
    parse_delivery,
    read_notice,
    verify_delivery,
    webhook_mapping,
)
from tempen_ingest.ports import (
    Comment,
    Delivery,
    FetchKey,
    FetchQueue,
    Outcome,
    PendingFetch,
    PreparedSubmission,
    Purged,
    Retraction,
    Settlement,
    StoredSubmission,
    SubmissionStore,
)
from tempen_shared.correlation import submission_correlation_id
from tempen_shared.events import DeadLetter
from tempen_shared.tenancy.loader import Catalog
from tempen_shared.tenancy.models import SecretRef

# How long delivery ids are remembered: far longer than platforms retry. Formbricks deliveries are
# refused after 5 minutes by their signed timestamp anyway; Typeform and KoboToolbox sign no time, so
# an older replay is refused only if it repeats the stored content (a duplicate).
DELIVERY_MEMORY = timedelta(days=7)

trace: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.ingest.trace")


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    submission_id: str | None
    outcome: Outcome
    revision: int | None = None
    errors: tuple[FieldError, ...] = ()
    line: int | None = None  # where the item starts in a CSV body (the header is line 1)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, "submission_id": self.submission_id, "status": self.outcome.value}
        if self.line is not None:
            body["line"] = self.line
        if self.revision is not None:
            body["revision"] = self.revision
        if self.errors:
            body["errors"] = [e.as_problem() for e in self.errors]
        return body


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """What became of one webhook delivery that was verified and read."""

    delivery_id: str | None
    results: tuple[ItemResult, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    ignored: str | None = None
    queued: bool = False  # an id-only webhook's response waits to be fetched

    @property
    def stored(self) -> bool:
        return bool(self.results)

    @property
    def accepted(self) -> bool:
        """Stored, or queued to be fetched: answered 202."""
        return self.stored or self.queued

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"delivery_id": self.delivery_id, "results": [r.as_json() for r in self.results]}
        if self.queued:
            body["queued"] = True
        if self.skipped:
            body["skipped"] = [
                {"response_id": rid, "reason": reason, "detail": skip_detail(reason)} for rid, reason in self.skipped
            ]
        if self.ignored:
            body["ignored"] = self.ignored
        return body


@dataclass(frozen=True, slots=True)
class Erasure:
    respondent: str  # the pseudonym
    retractions: tuple[Retraction, ...]


class UnknownMappingError(LookupError):
    """No mapping with this id feeds this tenant from this platform's webhooks; `refusal` says what to do."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


class SecretUnavailableError(RuntimeError):
    """The mapping's verification secret cannot be read here (a deployment problem, not the sender's)."""


class InvalidDeliveryError(ValueError):
    """A verified, readable delivery whose submission fails validation; nothing was stored."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))
        self.errors = tuple(errors)


class IngestService:
    def __init__(
        self,
        *,
        catalog: Catalog,
        store: SubmissionStore,
        pseudonym_keys: Mapping[str, bytes],
        clock: Callable[[], datetime],
        max_clock_skew: timedelta,
        mappings: Mapping[tuple[str, str], PlatformMapping] | None = None,
        resolve_secret: Callable[[SecretRef], str | None] = lambda _ref: None,
        known_units: Callable[[str], Container[str]] | None = None,
        fetches: FetchQueue | None = None,
    ) -> None:
        self.catalog = catalog
        self._store = store
        self._keys = pseudonym_keys
        self._clock = clock
        self._skew = max_clock_skew
        self._mappings = dict(mappings or {})
        self._resolve_secret = resolve_secret
        self._known_units = known_units
        self._fetches = fetches

    def mapping(self, tenant_id: str, mapping_id: str) -> PlatformMapping | None:
        return self._mappings.get((tenant_id, mapping_id))

    def secret(self, ref: SecretRef) -> str | None:
        return self._resolve_secret(ref)

    def prepare(self, raw: Any, *, tenant_id: str) -> PreparedSubmission | list[FieldError]:
        """Validate one raw submission for `tenant_id` (from the URL or the record); pure apart from the clock."""
        submission = check_submission(
            raw,
            tenant_id=tenant_id,
            catalog=self.catalog,
            now=self._clock(),
            max_clock_skew=self._skew,
            known_units=self._known_units(tenant_id) if self._known_units else None,
        )
        if isinstance(submission, list):
            return submission
        respondent = (
            pseudonymise(key=self._keys[tenant_id], tenant=tenant_id, respondent=submission.respondent)
            if submission.respondent
            else None
        )
        return PreparedSubmission(
            submission=msgspec.structs.replace(submission, respondent=None),
            respondent=respondent,
            fingerprint=content_fingerprint(submission, respondent),
            correlation_id=submission_correlation_id(tenant_id, submission.submission_id),
        )

    async def store(
        self,
        prepared: Sequence[PreparedSubmission],
        dead_letters: Sequence[DeadLetter] = (),
        *,
        settles: Settlement | None = None,
    ) -> list[StoredSubmission]:
        return await self._stored(prepared, dead_letters, settles=settles)

    async def _stored(
        self,
        prepared: Sequence[PreparedSubmission],
        dead_letters: Sequence[DeadLetter] = (),
        *,
        delivery: Delivery | None = None,
        comments: Sequence[Comment] = (),
        settles: Settlement | None = None,
    ) -> list[StoredSubmission]:
        """Store, then log one line per submission once its transaction committed: where a trace starts.

        Ids only: never the answers or the respondent (not even the pseudonym).
        """
        stored = await self._store.store(prepared, dead_letters, delivery=delivery, comments=comments, settles=settles)
        for p, s in zip(prepared, stored, strict=True):
            trace.info(
                "submission ingested",
                correlation_id=p.correlation_id,
                tenant=p.submission.tenant,
                unit=p.submission.unit,
                outcome=s.outcome.value,
                revision=s.revision,
            )
        return stored

    async def receive_webhook(
        self, *, tenant_id: str, platform: str, mapping_id: str, headers: Mapping[str, str], body: bytes
    ) -> WebhookResult:
        """Verify one webhook delivery on its raw bytes, read it with its mapping, validate and store it.

        The delivery id, the submission and the opted-in free text are stored in one transaction, or
        nothing is. A bare test ping (Formbricks) is answered without a signature and stores nothing.
        A webhook that only names a response (SurveyMonkey, Qualtrics) queues that response once, to
        be fetched by `tempen_ingest.fetching`; a repeat is ignored.

        Raises:
            UnknownMappingError: this URL takes no delivery (an unknown platform, one that sends no webhooks,
                no such mapping for this tenant and platform); its refusal says what to do instead.
            SecretUnavailableError, VerificationConfigError: verification is misconfigured here.
            SignatureError: the delivery is not shown to come from the platform.
            DeliveryError: the body cannot be read or mapped.
            InvalidDeliveryError: the submission it carries is not valid for the tenant.
            ReplayedDeliveryError: this delivery was received before.
            StoreUnavailableError: the database cannot be reached.
        """
        found = self._mappings.get((tenant_id, mapping_id))
        mapping = webhook_mapping(platform, tenant=tenant_id, mapping_id=mapping_id, mapping=found)
        if isinstance(mapping, Refusal):
            raise UnknownMappingError(mapping)
        if is_unsigned_ping(platform, body):
            return WebhookResult(delivery_id=None, ignored="test ping")
        secret = self._resolve_secret(mapping.verification.secret) if mapping.verification else None
        if not secret:
            raise SecretUnavailableError(f"the secret of mapping {tenant_id}/{mapping_id} is not set")
        header_id = verify_delivery(mapping, secret=secret, headers=headers, body=body, now=self._clock())
        if platform in FETCHING_PLATFORMS:
            return await self._queue_fetch(mapping, read_notice(mapping, body))
        parsed = parse_delivery(mapping, body)
        delivery_id = header_id or parsed.delivery_id
        if parsed.ignored:
            return WebhookResult(delivery_id=delivery_id, ignored=parsed.ignored)
        return await self.store_parsed(
            mapping, parsed, delivery=Delivery(tenant_id, platform, delivery_id) if delivery_id else None
        )

    async def store_parsed(
        self,
        mapping: PlatformMapping,
        parsed: ParsedDelivery,
        *,
        delivery: Delivery | None = None,
        settles: Settlement | None = None,
    ) -> WebhookResult:
        """Validate and store what a platform delivery or fetched response carried, in one transaction
        with its delivery id (`delivery`) or the queued fetch it settles (`settles`).

        Raises:
            InvalidDeliveryError: a submission is not valid for the tenant; nothing was stored.
            ReplayedDeliveryError: `delivery` was received before.
            StoreUnavailableError: the database cannot be reached.
        """
        tenant_id = mapping.tenant
        prepared: list[PreparedSubmission] = []
        errors: list[FieldError] = []
        for submission in parsed.submissions:
            checked = self.prepare(submission.model_dump(mode="json"), tenant_id=tenant_id)
            if isinstance(checked, PreparedSubmission):
                prepared.append(checked)
            else:
                errors.extend(checked)
        if errors:
            raise InvalidDeliveryError(errors)
        comments = (
            [Comment(tenant_id, text.submission_id, text.question, text.text) for text in parsed.free_text]
            if mapping.keep_free_text
            else []
        )
        stored = await self._stored(prepared, delivery=delivery, comments=comments, settles=settles)
        results = tuple(
            ItemResult(index, p.submission.submission_id, s.outcome, s.revision)
            for index, (p, s) in enumerate(zip(prepared, stored, strict=True))
        )
        return WebhookResult(
            delivery_id=delivery.delivery_id if delivery else None, results=results, skipped=parsed.skipped
        )

    async def _queue_fetch(self, mapping: PlatformMapping, notice: ResponseNotice | str) -> WebhookResult:
        if isinstance(notice, str):
            return WebhookResult(delivery_id=None, ignored=notice)
        if self._fetches is None:
            raise SecretUnavailableError(f"{mapping.platform} responses cannot be fetched here")
        queued = await self._fetches.enqueue(
            PendingFetch(
                key=FetchKey(mapping.tenant, mapping.platform, notice.response_id),
                mapping_id=mapping.id,
                survey_id=notice.survey_id,
                event_id=notice.event_id,
            )
        )
        if not queued:
            return WebhookResult(delivery_id=notice.response_id, ignored="this response was received before")
        return WebhookResult(delivery_id=notice.response_id, queued=True)

    async def erase_respondent(self, *, tenant_id: str, respondent: str) -> Erasure:
        """Erase everything ingest keeps of one respondent (by the id the platform sent) and retract it downstream."""
        pseudonym = pseudonymise(key=self._keys[tenant_id], tenant=tenant_id, respondent=respondent.strip())
        retractions = await self._store.erase_respondent(tenant=tenant_id, respondent=pseudonym)
        return Erasure(respondent=pseudonym, retractions=tuple(retractions))

    async def purge(self, *, answers_after: timedelta, comments_after: timedelta) -> Purged:
        """Apply the retention periods: raw answers and free text older than these go, and old delivery ids."""
        now = self._clock()
        return await self._store.purge(
            answers_before=now - answers_after,
            comments_before=now - comments_after,
            deliveries_before=now - DELIVERY_MEMORY,
        )

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
        stored = await self._stored([p for _, p in valid]) if valid else []
        for (index, prepared), outcome in zip(valid, stored, strict=True):
            results[index] = ItemResult(index, prepared.submission.submission_id, outcome.outcome, outcome.revision)
        return [r for r in results if r is not None]

    async def submit_csv(self, data: bytes, *, tenant_id: str, max_rows: int) -> list[ItemResult]:
        """Canonical CSV (`domain/canonical_csv.py`): the rows that read as submissions are validated and
        stored as `submit` does, in one transaction; a row that does not is rejected with its reasons. One
        result per row, in order, carrying its line.

        Raises:
            CsvFileError: the body is not canonical CSV, or has more than `max_rows` rows; nothing is stored.
        """
        rows = list(read_canonical_csv(data, max_rows=max_rows))
        readable = [(index, row) for index, row in enumerate(rows) if row.submission is not None and not row.errors]
        submitted = await self.submit([row.submission for _, row in readable], tenant_id=tenant_id) if readable else []
        results: list[ItemResult] = [
            ItemResult(
                index,
                row.submission_id,
                Outcome.REJECTED,
                errors=tuple(FieldError(field, reason, "malformed") for field, reason in row.errors),
                line=row.line,
            )
            for index, row in enumerate(rows)
        ]
        for (index, row), result in zip(readable, submitted, strict=True):
            results[index] = replace(result, index=index, line=row.line)
        return results
