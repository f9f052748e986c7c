"""The background task that fetches the responses id-only webhooks name (SurveyMonkey, Qualtrics).

A verified webhook only queues its response (`IngestService.receive_webhook`) and is answered at
once. This task takes due rows, asks the platform's API for each response with the mapping's token,
parses it, and stores its submission through `IngestService.store_parsed` in the transaction that
marks the row done: a crash before that commit leaves the row pending (it is fetched again when its
lease ends, and a fetch is a GET), a crash after it leaves nothing to redo.

Errors, as everywhere in tempen: the platform unreachable, timing out, 429 or 5xx -> retry with a
doubling backoff (at least the platform's Retry-After); a permanent answer (401, 403, 404), a
response that cannot be mapped or is not valid, or too many attempts -> a dead letter on ingest's
dead-letter topic with its reason, in the transaction that marks the row dead; the database
unreachable -> wait, count nothing, and try again. A response not completed is skipped with why.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import orjson
import structlog

from tempen_ingest.domain.platforms import DeliveryError, ResponseNotice
from tempen_ingest.domain.webhooks import parse_fetched, response_request
from tempen_ingest.metrics import IngestMetrics
from tempen_ingest.ports import FetchFailedError, FetchQueue, PendingFetch, ResponseSource, Settlement
from tempen_ingest.service import DELIVERY_MEMORY, IngestService, InvalidDeliveryError
from tempen_shared.clock import Clock, utc_now
from tempen_shared.correlation import submission_correlation_id
from tempen_shared.db import OUTAGE_ERRORS
from tempen_shared.events import DeadLetter

logger = logging.getLogger(__name__)
trace: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.ingest.trace")

CONSUMER = "ingest-fetcher"
# What to do about a dead letter, by the start of its reason (docs/platforms.md explains queueing again).
NEXT_STEP = (
    (("fetch_http_401", "fetch_http_403"), "check the mapping's api.token and its scopes, then queue it again"),
    (("fetch_http_404", "fetch_http_410"), "the platform has no such response (deleted?)"),
    (("fetch_",), "the platform's API did not give the response; queue it again once it does"),
    (("delivery_", "invalid_submission"), "fix the mapping or the survey, then queue it again"),
    (("unknown_mapping",), "restore the mapping, then queue it again"),
    (("token_unavailable",), "set api.token where ingest runs, then queue it again"),
    (("bug",), "file an issue with ingest's log lines"),
)
MAX_RETRY_AFTER_S = 24 * 3600.0  # a day quota's reset is the longest wait a platform asks for
PRUNE_INTERVAL_S = 3600.0


class ResponseFetcher:
    def __init__(
        self,
        service: Callable[[], IngestService],
        queue: FetchQueue,
        source: ResponseSource,
        metrics: IngestMetrics,
        *,
        dead_letter_topic: str,
        max_attempts: int,
        backoff_s: float,
        max_backoff_s: float,
        lease_s: float,
        idle_s: float = 1.0,
        clock: Clock = utc_now,
    ) -> None:
        """`dead_letter_topic`: the source topic of ingest's dead letters (they go to its `.dlq`)."""
        self._service = service
        self._queue = queue
        self._source = source
        self._metrics = metrics
        self._dead_letter_topic = dead_letter_topic
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._lease_s = lease_s
        self._idle_s = idle_s
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping = False
        self._last_backlog = 0.0
        self._last_prune = 0.0

    def notify(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the fetch in hand, then return from `run` without taking another."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            try:
                done = await self.fetch_due()
            except OUTAGE_ERRORS as exc:
                logger.warning("response fetcher paused: database unavailable (%r)", exc)
                done = 0
            if done == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._idle_s)
                self._wake.clear()

    async def fetch_due(self, limit: int = 10) -> int:
        """Fetch up to `limit` due responses; returns how many were taken."""
        if time.monotonic() - self._last_backlog > 5.0:
            self._last_backlog = time.monotonic()
            self._metrics.fetch_backlog.set(await self._queue.backlog())
        if time.monotonic() - self._last_prune > PRUNE_INTERVAL_S:
            self._last_prune = time.monotonic()
            await self._queue.prune(before=self._clock() - DELIVERY_MEMORY)
        claimed = await self._queue.claim(limit=limit, lease_s=self._lease_s)
        for pending in claimed:
            if self._stopping:
                break  # the rest come back when their lease ends
            try:
                await self._fetch(pending)
            except OUTAGE_ERRORS:
                raise
            except Exception as exc:
                # A bug: a few retries (the same path as a failed fetch), then a dead letter naming it.
                logger.exception("fetching response %s of %s failed", pending.key.response_id, pending.key.tenant)
                await self._failed(pending, "bug", type(exc).__name__, permanent=False)
        return len(claimed)

    async def _fetch(self, pending: PendingFetch) -> None:
        key = pending.key
        service = self._service()
        mapping = service.mapping(key.tenant, pending.mapping_id)
        if mapping is None or mapping.platform != key.platform or mapping.api is None:
            await self._dead(pending, "unknown_mapping", f"mapping {pending.mapping_id} is no longer configured")
            return
        token = service.secret(mapping.api.token)
        if not token:
            await self._failed(pending, "token_unavailable", "api.token resolves to nothing here", permanent=False)
            return
        notice = ResponseNotice(key.response_id, pending.survey_id, pending.event_id)
        request = response_request(mapping, notice, token=token)
        started = time.monotonic()
        try:
            body = await self._source.get(request.url, request.headers)
        except FetchFailedError as exc:
            self._metrics.fetch_failures.labels(key.platform, exc.reason).inc()
            await self._failed(
                pending, f"fetch_{exc.reason}", exc.detail, permanent=exc.permanent, retry_after_s=exc.retry_after_s
            )
            return
        finally:
            self._metrics.fetch_duration.labels(key.platform).observe(time.monotonic() - started)
        try:
            parsed = parse_fetched(mapping, body, notice)
            if not parsed.submissions:
                reason = parsed.skipped[0][1] if parsed.skipped else "nothing to store"
                await self._queue.settle(Settlement(key, "skipped", reason))
                self._metrics.fetches.labels(key.platform, "skipped").inc()
                trace.info("fetched response skipped", tenant=key.tenant, response_id=key.response_id, reason=reason)
                return
            await service.store_parsed(mapping, parsed, settles=Settlement(key, "done"))
        except DeliveryError as exc:
            # Field and reason only: a detail may quote an answer.
            await self._dead(pending, f"delivery_{exc.reason}", f"{exc.field}: {exc.reason}")
            return
        except InvalidDeliveryError as exc:
            await self._dead(pending, "invalid_submission", "; ".join(f"{e.field}: {e.reason}" for e in exc.errors))
            return
        self._metrics.fetches.labels(key.platform, "stored").inc()

    async def _failed(
        self, pending: PendingFetch, reason: str, detail: str, *, permanent: bool, retry_after_s: float | None = None
    ) -> None:
        attempts = pending.attempts + 1
        if permanent or attempts >= self._max_attempts:
            await self._dead(pending, reason, f"{detail} (attempt {attempts})")
            return
        delay = min(self._max_backoff_s, self._backoff_s * 2 ** (attempts - 1))
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
        await self._queue.retry_later(pending.key, delay_s=delay, error=f"{reason}: {detail}")
        self._metrics.fetches.labels(pending.key.platform, "retried").inc()
        trace.info(
            "response fetch failed; retrying",
            tenant=pending.key.tenant,
            platform=pending.key.platform,
            response_id=pending.key.response_id,
            reason=reason,
            attempt=attempts,
            retry_in_s=round(delay, 1),
        )

    async def _dead(self, pending: PendingFetch, reason: str, detail: str) -> None:
        key = pending.key
        letter = DeadLetter(
            source_topic=self._dead_letter_topic,
            partition=-1,  # not a Kafka record: `tempen dlq replay` leaves it; see docs/platforms.md
            offset=-1,
            key=key.tenant,
            value=orjson.dumps(
                {
                    "tenant": key.tenant,
                    "platform": key.platform,
                    "mapping_id": pending.mapping_id,
                    "survey_id": pending.survey_id,
                    "response_id": key.response_id,
                    "attempts": pending.attempts + 1,
                }
            ).decode(),
            reason=reason,
            detail=f"{detail}; {next_step(reason)}"[:500],
            consumer=CONSUMER,
            dead_lettered_at=self._clock(),
            correlation_id=submission_correlation_id(key.tenant, key.response_id),
        )
        await self._service().store([], [letter], settles=Settlement(key, "dead", f"{reason}: {detail}"[:1000]))
        self._metrics.dead_letters.labels(self._dead_letter_topic, reason).inc()
        self._metrics.fetches.labels(key.platform, "dead_lettered").inc()
        trace.warning(
            "response dead-lettered",
            tenant=key.tenant,
            platform=key.platform,
            response_id=key.response_id,
            reason=reason,
            detail=detail,
        )


def next_step(reason: str) -> str:
    return next((step for prefixes, step in NEXT_STEP if reason.startswith(prefixes)), "see docs/platforms.md")
