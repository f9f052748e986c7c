"""Wires a BatchConsumer to a FastStream Kafka subscriber with tempen's delivery settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaMessage, KafkaRouter
from faststream.message import StreamMessage

from tempen_shared.clock import utc_now
from tempen_shared.consumer import BatchConsumer, Handle, Record, T, records_of
from tempen_shared.metrics import CommonMetrics
from tempen_shared.settings import ServiceSettings


def consume_topic(
    router: KafkaRouter,
    *,
    name: str,
    topic: str,
    group_id: str,
    settings: ServiceSettings,
    metrics: CommonMetrics,
    parse: Callable[[Record], T],
    handle: Handle[T],
) -> BatchConsumer[T]:
    """Subscribe `handle` to `topic` in batches, at least once, committing only after it returns. The
    consumer group is `group_id` under the deployment's topic prefix (`ServiceSettings.consumer_group`)."""
    consumer: BatchConsumer[T] = BatchConsumer(
        name=name,
        parse=parse,
        handle=handle,
        max_attempts=settings.retry_max_attempts,
        backoff_s=settings.retry_backoff_s,
        max_backoff_s=settings.retry_max_backoff_s,
        on_dead_letter=lambda d: metrics.dead_letters.labels(topic, d.reason).inc(),
        on_retry=lambda kind: metrics.retries.labels(kind).inc(),
    )

    metrics.consumed.labels(topic)  # the series exists (at 0) before the first record arrives
    # From start-up, so that a consumer stuck on its very first batch shows as stalled too.
    metrics.consumer_last_progress.labels(topic).set(utc_now().timestamp())

    # NACK_ON_ERROR: returning commits the batch's offsets; raising seeks back so Kafka redelivers it.
    # Offsets start at the earliest record for a new group: nothing published before a consumer
    # first joined may be skipped.
    @router.subscriber(
        topic,
        group_id=settings.consumer_group(group_id),
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
    )
    async def on_batch(msg: KafkaMessage) -> None:
        records = records_of(msg.raw_message)
        try:
            await consumer.consume(records)
        except BaseException:
            # Handed back to Kafka: every record from the batch's first one still waits. Without this
            # the lag would keep the value of the last batch that succeeded, 0, while nothing moves.
            _observe_lag(msg, records, metrics, committed=False)
            raise
        metrics.consumed.labels(topic).inc(len(records))
        metrics.consumer_last_progress.labels(topic).set(utc_now().timestamp())
        _observe_lag(msg, records, metrics)

    return consumer


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
