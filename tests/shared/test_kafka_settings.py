"""The Kafka settings every service shares: two deployments sharing one cluster under different topic
prefixes keep apart, each one's consumers in a group of its own (on the real broker), and the fetch and
linger settings are read from the environment within their bounds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker, KafkaRouter
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from tempen_shared.consumer import Parsed, Record
from tempen_shared.events import DeadLetter
from tempen_shared.kafka import ensure_topics
from tempen_shared.metrics import CommonMetrics
from tempen_shared.settings import ServiceSettings
from tempen_shared.subscribe import consume_topic
from tests.support import eventually

if TYPE_CHECKING:
    from tests.conftest import Infra


@pytest.mark.integration
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


def _settings(**environ: str) -> ServiceSettings:
    return ServiceSettings(DATABASE_URL="postgresql://unused/unused", **environ)


def test_fetch_wait_and_linger_default_to_what_the_embedded_broker_needs_and_can_be_set() -> None:
    assert (_settings().fetch_max_wait_ms, _settings().linger_ms) == (50, 5)
    chosen = _settings(TEMPEN_KAFKA_FETCH_MAX_WAIT_MS="500", TEMPEN_KAFKA_LINGER_MS="0")
    assert (chosen.fetch_max_wait_ms, chosen.linger_ms) == (500, 0)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TEMPEN_KAFKA_FETCH_MAX_WAIT_MS", "60000"),
        ("TEMPEN_KAFKA_FETCH_MAX_WAIT_MS", "-1"),
        ("TEMPEN_KAFKA_LINGER_MS", "5000"),
    ],
)
def test_a_fetch_wait_or_linger_out_of_bounds_is_refused_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        _settings(**{variable: value})
    assert variable in str(refused.value)
