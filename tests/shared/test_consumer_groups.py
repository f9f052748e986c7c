"""Two deployments sharing one Kafka cluster under different topic prefixes keep apart: each one's
consumers are in a group of its own (tempen_shared.subscribe.consume_topic), on the real broker."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker, KafkaRouter
from prometheus_client import CollectorRegistry

from tempen_shared.consumer import Parsed, Record
from tempen_shared.events import DeadLetter
from tempen_shared.kafka import ensure_topics
from tempen_shared.metrics import CommonMetrics
from tempen_shared.settings import ServiceSettings
from tempen_shared.subscribe import consume_topic
from tests.support import eventually

if TYPE_CHECKING:
    from tests.conftest import Infra

pytestmark = [pytest.mark.integration]


async def test_deployments_under_different_prefixes_consume_in_groups_of_their_own(infra: Infra) -> None:
    run = uuid.uuid4().hex[:8]
    prefixes = (f"a{run}.", f"b{run}.")
    brokers: list[KafkaBroker] = []

    async def handle(_parsed: Sequence[Parsed[bytes]], _dead: Sequence[DeadLetter]) -> None:
        return

    def parse(record: Record) -> bytes:
        return record.value

    try:
        for prefix in prefixes:
            settings = ServiceSettings(
                KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
                DATABASE_URL="postgresql://unused/unused",
                TEMPEN_TOPIC_PREFIX=prefix,
                TEMPEN_KAFKA_SESSION_TIMEOUT_MS=2000,
                TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS=300,
            )
            topic = settings.topic("tempen.submissions")
            await ensure_topics(infra.bootstrap_servers, {topic: 1})
            router = KafkaRouter()
            consume_topic(
                router,
                name="scoring",
                topic=topic,
                group_id="scoring",
                settings=settings,
                metrics=CommonMetrics(CollectorRegistry(), "scoring"),
                parse=parse,
                handle=handle,
            )
            broker = KafkaBroker(infra.bootstrap_servers)
            broker.include_router(router)
            await broker.start()
            brokers.append(broker)

        admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
        await admin.start()
        try:
            # Each group has one member, its own deployment's consumer, on its own topic.
            async def members(group: str) -> list[str]:
                (response,) = await admin.describe_consumer_groups([group])
                # DescribeGroups v2: groups of (error_code, group_id, state, protocol_type, protocol, members)
                return [m[0] for g in response.groups if g[0] == 0 and g[1] == group for m in g[5]]

            for prefix in prefixes:
                found = await eventually(lambda p=prefix: members(f"{p}scoring"), timeout_s=30)
                assert len(found) == 1, f"{prefix}scoring has the members {found}"
            assert await members("scoring") == [], "no deployment consumes in the unprefixed group"
        finally:
            await admin.close()
    finally:
        for broker in brokers:
            await broker.stop()
