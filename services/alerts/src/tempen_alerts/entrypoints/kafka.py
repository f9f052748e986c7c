"""Alerts' Kafka entry point: score events in; judged at once where their period has closed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from faststream.kafka import KafkaRouter

from tempen_alerts.adapters.postgres import PostgresAlertsStore
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.service import AlertsService
from tempen_shared.consumer import Parsed, Record
from tempen_shared.events import DeadLetter, UnitScored
from tempen_shared.outbox import dead_letter_messages
from tempen_shared.settings import ServiceSettings
from tempen_shared.subscribe import consume_topic
from tempen_shared.topics import SCORES


def build_router(
    settings: ServiceSettings,
    *,
    group_id: str,
    store: Callable[[], PostgresAlertsStore],
    service: AlertsService,
    metrics: AlertsMetrics,
) -> KafkaRouter:
    topic = settings.topic(SCORES.name)

    def parse(record: Record) -> tuple[UnitScored, str | None]:
        return UnitScored.model_validate_json(record.value), record.header("computed_at")

    async def handle(parsed: Sequence[Parsed[tuple[UnitScored, str | None]]], dead: Sequence[DeadLetter]) -> None:
        now = service.clock()
        async with store().transaction() as repo:
            await repo.publish(dead_letter_messages(dead))
            touched = await repo.upsert_scores([p.value[0] for p in parsed])
            made: list[str] = []
            for key in touched:
                made.extend((await service.judge(repo, key, now=now)).transitions)
        for state in made:
            metrics.transitions.labels(state).inc()
        decided = datetime.now(UTC)
        for p in parsed:
            if p.value[1]:
                metrics.decision_latency.observe(
                    max(0.0, (decided - datetime.fromisoformat(p.value[1])).total_seconds())
                )

    router = KafkaRouter()
    consume_topic(
        router,
        name="alerts",
        topic=topic,
        group_id=group_id,
        settings=settings,
        metrics=metrics,
        parse=parse,
        handle=handle,
    )
    return router
