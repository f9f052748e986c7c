"""Alerts' Kafka entry point: score events in; judged at once where their period has closed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from faststream.kafka import KafkaRouter

from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.ports import AlertsStore, SeriesKey
from tempen_alerts.service import AlertsService, Change, log_changes
from tempen_shared import correlation
from tempen_shared.clock import utc_now
from tempen_shared.consumer import Parsed, Record
from tempen_shared.events import DeadLetter
from tempen_shared.events.wire import UnitScoredRecord, read_unit_scored
from tempen_shared.outbox import dead_letter_messages
from tempen_shared.positions import KeptPositions, Position
from tempen_shared.settings import ServiceSettings
from tempen_shared.subscribe import consume_topic
from tempen_shared.topics import SCORES


@dataclass(frozen=True, slots=True)
class Consumed:
    score: UnitScoredRecord
    computed_at: str | None
    correlation_id: str | None


def causes(parsed: Sequence[Parsed[Consumed]]) -> dict[SeriesKey, str]:
    """The correlation id of the score event behind each series the batch may change.

    Of several events of one series in a batch, the newest sequence counts, as it does when they are
    stored (`upsert_scores`); an equal sequence of a later record wins.
    """
    newest: dict[SeriesKey, tuple[int, str]] = {}
    for p in parsed:
        s, cid = p.value.score, p.value.correlation_id
        if s.scope != "unit" or cid is None:
            continue
        for dimension in s.dimensions:
            key = SeriesKey(s.tenant, s.unit, s.instrument, s.model, dimension)
            kept = newest.get(key)
            if kept is None or kept[0] <= s.sequence:
                newest[key] = (s.sequence, cid)
    return {key: cid for key, (_, cid) in newest.items()}


def build_router(
    settings: ServiceSettings,
    *,
    group_id: str,
    store: Callable[[], AlertsStore],
    service: AlertsService,
    metrics: AlertsMetrics,
) -> KafkaRouter:
    topic = settings.topic(SCORES.name)

    def parse(record: Record) -> Consumed:
        return Consumed(
            read_unit_scored(record.value),  # as parse_unit_scored reads it, refusals and their reasons included
            record.header("computed_at"),
            correlation.correlation_id_of(record),
        )

    async def handle(
        parsed: Sequence[Parsed[Consumed]], dead: Sequence[DeadLetter], positions: Sequence[Position]
    ) -> None:
        now = service.clock()
        cause = causes(parsed)
        made: list[Change] = []
        async with store().transaction() as repo:
            await repo.save_positions(positions)  # first: a batch fenced off is refused before it writes anything
            await repo.publish(dead_letter_messages(dead))
            changed = await repo.upsert_scores([p.value.score for p in parsed], judging=True)
            due = service.due(changed, now=now)
            await repo.prefetch(due)
            for key in due:
                cid = cause.get(key)
                with correlation.bound(cid):
                    made.extend((await service.judge(repo, key, now=now, correlation_id=cid)).changes)
        log_changes(made)
        for change in made:
            metrics.transitions.labels(change.to_state).inc()
        decided = utc_now()
        for p in parsed:
            if p.value.computed_at:
                metrics.decision_latency.observe(
                    max(0.0, (decided - datetime.fromisoformat(p.value.computed_at)).total_seconds())
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
        # Alerts' positions are its database's, saved in each batch's transaction with the judgements, the
        # transitions, notifications and events they make: a batch that committed is never applied again,
        # whatever happened to Kafka's commit after it.
        positions=KeptPositions(
            claim=lambda group, partitions, cluster: store().claim(group, partitions, cluster=cluster),
            handle=handle,
            on_fenced=metrics.fenced_batches.inc,
        ),
    )
    return router
