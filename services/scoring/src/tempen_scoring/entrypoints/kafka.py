"""Scoring's Kafka entry point: accepted submissions in, applied to the store in one transaction per batch
(score events follow on the store's tick, published from the score groups)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from faststream.kafka import KafkaRouter

from tempen_scoring.domain.rescoring import IncomingContribution
from tempen_scoring.metrics import ScoringMetrics
from tempen_scoring.ports import ScoringStore
from tempen_scoring.service import Change, apply_submissions, changes_of, score_causes
from tempen_shared import correlation
from tempen_shared.clock import utc_now
from tempen_shared.consumer import Parsed, Record
from tempen_shared.events import DeadLetter
from tempen_shared.events.wire import SubmissionRetractedRecord, read_submission_event
from tempen_shared.positions import KeptPositions, Position
from tempen_shared.settings import ServiceSettings
from tempen_shared.subscribe import consume_topic
from tempen_shared.tenancy.loader import Catalog
from tempen_shared.topics import SCORES, SUBMISSIONS


@dataclass(frozen=True, slots=True)
class Consumed:
    """One submission record, parsed: what the store applies and what its trace line names."""

    changes: list[Change]
    ingested_at: str | None
    correlation_id: str | None
    tenant: str
    unit: str
    period: str | None  # None for a retraction
    revision: int
    retracted: bool = False


def build_router(
    settings: ServiceSettings,
    *,
    group_id: str,
    catalog: Catalog,
    store: Callable[[], ScoringStore],
    metrics: ScoringMetrics,
) -> KafkaRouter:
    topic = settings.topic(SUBMISSIONS.name)
    scores_topic = settings.topic(SCORES.name)
    trace: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.scoring.trace")

    def parse(record: Record) -> Consumed:
        event = read_submission_event(record.value)
        cid = correlation.correlation_id_of(record)
        changes = changes_of(event, catalog)
        if isinstance(event, SubmissionRetractedRecord):
            return Consumed(changes, None, cid, event.tenant, event.unit, None, event.revision, retracted=True)
        period = changes[0].group.period if changes and isinstance(changes[0], IncomingContribution) else None
        return Consumed(changes, record.header("ingested_at"), cid, event.tenant, event.unit, period, event.revision)

    async def handle(
        parsed: Sequence[Parsed[Consumed]], dead: Sequence[DeadLetter], positions: Sequence[Position]
    ) -> None:
        causes = score_causes(((p.value.tenant, p.value.unit, p.value.correlation_id) for p in parsed), catalog)
        with correlation.stamping(scores_topic, causes):
            applied, ignored = await apply_submissions(
                store(), [p.value.changes for p in parsed], dead, max_batch=settings.max_batch, positions=positions
            )
        now = utc_now()
        for p in parsed:
            c = p.value
            if c.ingested_at:
                metrics.latency.observe(max(0.0, (now - datetime.fromisoformat(c.ingested_at)).total_seconds()))
            # One line per submission, once its batch is durable. Ids only: never answers or respondents.
            # A redelivered submission the store ignored as a duplicate is logged again.
            trace.info(
                "submission retracted" if c.retracted else "submission scored",
                correlation_id=c.correlation_id,
                tenant=c.tenant,
                unit=c.unit,
                period=c.period,
                revision=c.revision,
            )
        metrics.submissions.labels("applied").inc(applied)
        metrics.submissions.labels("ignored").inc(ignored)

    router = KafkaRouter()
    consume_topic(
        router,
        name="scoring",
        topic=topic,
        group_id=group_id,
        settings=settings,
        metrics=metrics,
        parse=parse,
        # Scoring's positions are its database's, saved in each batch's transaction: a batch that
        # committed is never applied again, whatever happened to Kafka's commit after it.
        positions=KeptPositions(
            claim=lambda group, partitions, cluster: store().claim(group, partitions, cluster=cluster),
            handle=handle,
            on_fenced=metrics.fenced_batches.inc,
        ),
    )
    return router
