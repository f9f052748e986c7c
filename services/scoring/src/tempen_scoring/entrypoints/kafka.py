"""Scoring's Kafka entry point: accepted submissions in, score events out (through the outbox)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from faststream.kafka import KafkaRouter

from tempen_scoring.adapters.postgres import PostgresScoringStore
from tempen_scoring.metrics import ScoringMetrics
from tempen_scoring.rescoring import IncomingContribution, IncomingRetraction
from tempen_scoring.service import contributions_of, flatten
from tempen_shared.consumer import Parsed, Record
from tempen_shared.events import DeadLetter, SubmissionRetracted, parse_submission_event
from tempen_shared.settings import ServiceSettings
from tempen_shared.subscribe import consume_topic
from tempen_shared.tenancy.loader import Catalog
from tempen_shared.topics import SUBMISSIONS


def build_router(
    settings: ServiceSettings,
    *,
    group_id: str,
    catalog: Catalog,
    store: Callable[[], PostgresScoringStore],
    metrics: ScoringMetrics,
) -> KafkaRouter:
    topic = settings.topic(SUBMISSIONS.name)

    def parse(record: Record) -> tuple[list[IncomingContribution | IncomingRetraction], str | None]:
        event = parse_submission_event(record.value)
        if isinstance(event, SubmissionRetracted):
            return [IncomingRetraction(event.tenant, event.submission_id, event.revision)], None
        return list(contributions_of(event, catalog)), record.header("ingested_at")

    async def handle(
        parsed: Sequence[Parsed[tuple[list[IncomingContribution | IncomingRetraction], str | None]]],
        dead: Sequence[DeadLetter],
    ) -> None:
        applied, ignored, published = await store().apply(flatten([p.value[0] for p in parsed]), dead)
        now = datetime.now(UTC)
        for p in parsed:
            if p.value[1]:
                metrics.latency.observe(max(0.0, (now - datetime.fromisoformat(p.value[1])).total_seconds()))
        metrics.submissions.labels("applied").inc(applied)
        metrics.submissions.labels("ignored").inc(ignored)
        metrics.scores_published.inc(published)

    router = KafkaRouter()
    consume_topic(
        router,
        name="scoring",
        topic=topic,
        group_id=group_id,
        settings=settings,
        metrics=metrics,
        parse=parse,
        handle=handle,
    )
    return router
