"""Ingest's Kafka entry point: canonical submissions published straight to the intake topic."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson
from faststream import AckPolicy
from faststream.kafka import KafkaMessage, KafkaRouter

from tempen_ingest.metrics import IngestMetrics
from tempen_ingest.ports import PreparedSubmission
from tempen_ingest.service import IngestService
from tempen_shared.consumer import BatchConsumer, Parsed, PoisonMessageError, Record, records_of
from tempen_shared.events import DeadLetter
from tempen_shared.settings import ServiceSettings
from tempen_shared.topics import INTAKE


def build_router(settings: ServiceSettings, *, group_id: str, service: Callable[[], IngestService],
                 metrics: IngestMetrics) -> KafkaRouter:
    topic = settings.topic(INTAKE.name)

    def parse(record: Record) -> PreparedSubmission:
        raw = orjson.loads(record.value)
        tenant = raw.get("tenant") if isinstance(raw, dict) else None
        if not isinstance(tenant, str) or tenant not in service().catalog.tenants:
            raise PoisonMessageError("unknown_tenant", "field tenant: missing or unknown tenant")
        prepared = service().prepare(raw, tenant_id=tenant)
        if isinstance(prepared, PreparedSubmission):
            return prepared
        raise PoisonMessageError(prepared[0].code, "; ".join(f"{e.field}: {e.reason}" for e in prepared))

    async def handle(parsed: Sequence[Parsed[PreparedSubmission]], dead: Sequence[DeadLetter]) -> None:
        outcomes = await service().store([p.value for p in parsed], dead)
        for outcome in outcomes:
            metrics.submissions.labels(outcome.outcome.value).inc()
        metrics.consumed.labels(topic).inc(len(parsed) + len(dead))

    consumer: BatchConsumer[PreparedSubmission] = BatchConsumer(
        name="ingest",
        parse=parse,
        handle=handle,
        max_attempts=settings.retry_max_attempts,
        backoff_s=settings.retry_backoff_s,
        max_backoff_s=settings.retry_max_backoff_s,
        on_dead_letter=lambda d: metrics.dead_letters.labels(topic, d.reason).inc(),
        on_retry=lambda kind: metrics.retries.labels(kind).inc(),
    )
    router = KafkaRouter()

    # NACK_ON_ERROR: returning commits the batch's offsets; raising seeks back so Kafka redelivers it.
    @router.subscriber(
        topic,
        group_id=group_id,
        batch=True,
        max_records=settings.max_batch,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
    )
    async def on_intake(msg: KafkaMessage) -> None:
        await consumer.consume(records_of(msg.raw_message))

    return router
