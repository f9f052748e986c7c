"""Scoring's Kafka entry point: accepted submissions in, applied to the store in one transaction per batch
(score events follow on the store's tick, published from the score groups)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from faststream.kafka import KafkaRouter

from tempen_scoring.domain.rescoring import IncomingContribution, IncomingRetraction
from tempen_scoring.metrics import ScoringMetrics
from tempen_scoring.ports import ScoringStore
from tempen_scoring.service import contributions_of, flatten
from tempen_shared import correlation
from tempen_shared.clock import utc_now
from tempen_shared.consumer import Parsed, Record
from tempen_shared.events import DeadLetter
from tempen_shared.events.wire import SubmissionRetractedRecord, read_submission_event
from tempen_shared.settings import ServiceSettings
from tempen_shared.subscribe import consume_topic
from tempen_shared.tenancy.loader import Catalog
from tempen_shared.topics import SCORES, SUBMISSIONS, partition_key


@dataclass(frozen=True, slots=True)
class Consumed:
    """One submission record, parsed: what the store applies and what its trace line names."""

    changes: list[IncomingContribution | IncomingRetraction]
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
        if isinstance(event, SubmissionRetractedRecord):
            retraction = IncomingRetraction(event.tenant, event.submission_id, event.revision)
            return Consumed([retraction], None, cid, event.tenant, event.unit, None, event.revision, retracted=True)
        changes: list[IncomingContribution | IncomingRetraction] = list(contributions_of(event, catalog))
        period = changes[0].group.period if changes and isinstance(changes[0], IncomingContribution) else None
        return Consumed(changes, record.header("ingested_at"), cid, event.tenant, event.unit, period, event.revision)

    def causes(parsed: Sequence[Parsed[Consumed]]) -> correlation.Resolve:
        # A score event aggregates many submissions. It carries the id of the LAST submission of the
        # batch that touched its unit or a unit below it: the latest one the event reflects, so a trace
        # from an alert back through a score event ends at a submission that changed that score. An
        # event of a unit none of them reached that the batch still changed (the tenant index moved, or
        # the tree in force for the period differs from the configured one walked here) carries the
        # batch's last id of its tenant. Keying by unit, not by period too: an event's outbox key is
        # tenant:unit, and a batch holding two periods of one unit is rare outside a backfill.
        last: dict[tuple[str, str], str] = {}
        for p in parsed:
            if p.value.correlation_id is not None:
                key = (p.value.tenant, p.value.unit)
                last.pop(key, None)  # keeps the dict in order of each unit's last submission
                last[key] = p.value.correlation_id
        by_key: dict[bytes, str] = {}
        by_tenant: dict[bytes, str] = {}
        for (tenant, unit), cid in last.items():
            by_tenant[tenant.encode()] = cid
            by_key[partition_key(tenant, unit)] = cid
            org = catalog.tenants[tenant].org if tenant in catalog.tenants else None
            if org is not None and unit in org:
                for above in org.ancestors(unit):
                    by_key[partition_key(tenant, above.id)] = cid
        # Keys are tenant:unit and tenant ids hold no colon (TenantId), so the tenant is what precedes the first.
        return lambda key: by_key.get(key) or by_tenant.get(key.partition(b":")[0])

    async def handle(parsed: Sequence[Parsed[Consumed]], dead: Sequence[DeadLetter]) -> None:
        with correlation.stamping(scores_topic, causes(parsed)):
            # A full batch means more are waiting: the store then computes scores less often.
            backlog = len(parsed) + len(dead) >= settings.max_batch
            applied, ignored, _ = await store().apply(flatten([p.value.changes for p in parsed]), dead, backlog=backlog)
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
        handle=handle,
    )
    return router
