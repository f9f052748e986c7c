"""Ingest's Kafka entry point: canonical submissions published straight to the intake topic."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import orjson
from faststream.kafka import KafkaRouter

from tempen_ingest.metrics import IngestMetrics
from tempen_ingest.ports import PreparedSubmission
from tempen_ingest.service import IngestService
from tempen_shared.consumer import Parsed, PoisonMessageError, Record
from tempen_shared.events import DeadLetter
from tempen_shared.settings import ServiceSettings
from tempen_shared.subscribe import consume_topic
from tempen_shared.topics import INTAKE


def build_router(
    settings: ServiceSettings, *, group_id: str, service: Callable[[], IngestService], metrics: IngestMetrics
) -> KafkaRouter:
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

    router = KafkaRouter()
    consume_topic(
        router,
        name="ingest",
        topic=topic,
        group_id=group_id,
        settings=settings,
        metrics=metrics,
        parse=parse,
        handle=handle,
    )
    return router
