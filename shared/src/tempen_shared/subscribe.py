"""Wires a BatchConsumer to a FastStream Kafka subscriber with tempen's delivery settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaMessage, KafkaRouter
from faststream.message import StreamMessage

from tempen_shared.clock import utc_now
from tempen_shared.consumer import (
    BatchConsumer,
    Handle,
    Offsets,
    Parsed,
    PartitionFencedError,
    PositionedHandle,
    Record,
    T,
    records_of,
)
from tempen_shared.db import StoreUnavailableError
from tempen_shared.events import DeadLetter
from tempen_shared.kafka import fetch_cluster_id
from tempen_shared.metrics import CommonMetrics
from tempen_shared.positions import KeptPositions, Ownership
from tempen_shared.settings import ServiceSettings

logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)


def consume_topic(
    router: KafkaRouter,
    *,
    name: str,
    topic: str,
    group_id: str,
    settings: ServiceSettings,
    metrics: CommonMetrics,
    parse: Callable[[Record], T],
    handle: Handle[T] | None = None,
    positions: KeptPositions[T] | None = None,
) -> BatchConsumer[T]:
    """Subscribe `handle` to `topic` in batches, at least once, committing only after it returns. The
    consumer group is `group_id` under the deployment's topic prefix (`ServiceSettings.consumer_group`).

    With `positions` instead, the positions live in the service's store (`tempen_shared.positions`): the
    subscriber claims its partitions on assignment and seeks to their stored offsets, `positions.handle`
    writes each batch's positions with it, and a batch fenced by another owner is handed back uncommitted.
    """
    group = settings.consumer_group(group_id)  # the group Kafka knows, and the key of stored positions
    cluster: list[str] = []  # the cluster's id, once asked

    async def cluster_id() -> str:
        # An offset means something on one cluster only. The consumer's own client is aiokafka's
        # private `_client`. Without an answer the id is "unknown": the claim then forgets the stored
        # offset and Kafka's committed one stands (at least once, as before positions were kept).
        client = getattr(getattr(subscriber, "consumer", None), "_client", None)
        if not cluster:
            if client is None:
                return "unknown"
            try:
                cluster.append(await fetch_cluster_id(client))
            except KafkaError as exc:
                logger.warning("could not read the Kafka cluster id; stored offsets not used", error=str(exc))
                return "unknown"
        return cluster[0]

    ownership = Ownership(group, positions.claim, cluster_id) if positions is not None else None
    consumer: BatchConsumer[T] = BatchConsumer(
        name=name,
        parse=parse,
        handle=handle,
        handle_at=_owned(ownership, positions) if ownership is not None and positions is not None else None,
        max_attempts=settings.retry_max_attempts,
        backoff_s=settings.retry_backoff_s,
        max_backoff_s=settings.retry_max_backoff_s,
        on_dead_letter=lambda d: metrics.dead_letters.labels(topic, d.reason).inc(),
        on_retry=lambda kind: metrics.retries.labels(kind).inc(),
        on_fenced=positions.on_fenced if positions is not None else None,
    )

    metrics.consumed.labels(topic)  # the series exists (at 0) before the first record arrives
    # From start-up, so that a consumer stuck on its very first batch shows as stalled too.
    metrics.consumer_last_progress.labels(topic).set(utc_now().timestamp())

    # NACK_ON_ERROR: returning commits the batch's offsets; raising seeks back so Kafka redelivers it.
    # Offsets start at the earliest record for a new group: nothing published before a consumer
    # first joined may be skipped.
    subscriber = router.subscriber(
        topic,
        group_id=group,
        batch=True,
        max_records=settings.max_batch,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        title=f"{name}:{topic}",
        decoder=_undecoded,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,  # why 50 ms by default: ServiceSettings
        max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
        listener=_Claiming(ownership, lambda: getattr(subscriber, "consumer", None)) if ownership else None,
    )

    @subscriber
    async def on_batch(msg: KafkaMessage) -> None:
        records = records_of(msg.raw_message)
        try:
            await consumer.consume(records)
        except PartitionFencedError:
            # Neither committed nor counted as an error: the partition's new owner applies the batch.
            _observe_lag(msg, records, metrics, committed=False)
            raise NackMessage() from None
        except BaseException:
            # Handed back to Kafka: every record from the batch's first one still waits. Without this
            # the lag would keep the value of the last batch that succeeded, 0, while nothing moves.
            _observe_lag(msg, records, metrics, committed=False)
            raise
        metrics.consumed.labels(topic).inc(len(records))
        metrics.consumer_last_progress.labels(topic).set(utc_now().timestamp())
        _observe_lag(msg, records, metrics)

    return consumer


def _owned(ownership: Ownership, positions: KeptPositions[T]) -> PositionedHandle[T]:
    """The batch's handle with its positions, epochs and all. Records below a partition's stored offset
    were applied before and are left out: a batch fetched before a late claim, or delivered again by a
    rebalance's seek racing the batch in flight."""

    async def handle_at(
        parsed: Sequence[Parsed[T]], dead: Sequence[DeadLetter], offsets: Offsets
    ) -> Sequence[DeadLetter]:
        at = await ownership.positions(offsets)  # refuses a partition already fenced
        fresh_dead = [d for d in dead if d.offset >= ownership.stored(d.source_topic, d.partition)]
        try:
            await positions.handle(
                [p for p in parsed if p.record.offset >= ownership.stored(p.record.topic, p.record.partition)],
                fresh_dead,
                at,
            )
        except PartitionFencedError as exc:
            ownership.fenced(p for p in at if (p.topic, p.partition) in exc.partitions)
            raise
        ownership.advanced(at)
        return fresh_dead

    return handle_at


class _Claiming(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka's listener base is untyped
    """Claims each partition the group assigns and seeks it to its stored offset; forgets revoked ones."""

    def __init__(self, ownership: Ownership, client: Callable[[], AIOKafkaConsumer | None]) -> None:
        self._ownership = ownership
        self._client = client

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._ownership.revoked((tp.topic, tp.partition) for tp in revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if not assigned:
            return
        try:
            seeks = await self._ownership.assigned((tp.topic, tp.partition) for tp in assigned)
        except StoreUnavailableError as exc:
            # The first batch of each partition claims it then, once the database answers.
            logger.warning("could not claim assigned partitions; claiming at their first batch", error=str(exc))
            return
        client = self._client()
        for (topic, partition), offset in sorted(seeks.items()):
            if client is not None:
                client.seek(TopicPartition(topic, partition), offset)
        logger.info(
            "claimed partitions",
            group=self._ownership.group,
            partitions=sorted(f"{t}:{p}" for t, p in {(tp.topic, tp.partition) for tp in assigned}),
            seeks={f"{t}:{p}": offset for (t, p), offset in sorted(seeks.items())},
        )


async def _undecoded(_msg: StreamMessage[Any]) -> None:
    """The handler reads the raw records (`records_of`). Without this FastStream would first build a
    message object for every record of the batch and JSON-decode its body, only to throw both away:
    a tenth of a consumer's time on large batches."""
    return


def _observe_lag(msg: KafkaMessage, records: list[Record], metrics: CommonMetrics, *, committed: bool = True) -> None:
    """Records behind the end of each partition of the batch, from the consumer's own highwater marks:
    after the batch's last record when it was committed, from its first one when it was not."""
    client = getattr(msg, "consumer", None)
    highwater = getattr(client, "highwater", None)
    if highwater is None:
        return  # an in-memory test broker has no highwater marks
    position: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        if committed:
            position[key] = max(position.get(key, -1), record.offset + 1)
        else:
            position[key] = min(position.get(key, record.offset), record.offset)
    for (topic, partition), next_offset in position.items():
        end = highwater(TopicPartition(topic, partition))
        if isinstance(end, int):
            metrics.consumer_lag.labels(topic, str(partition)).set(max(0, end - next_offset))
