"""Straight to Kafka: the intake topic reads submissions as a tolerant reader."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tempen_ingest.app import create_app
from tempen_shared.kafka import ensure_topics
from tempen_shared.topics import INTAKE, SUBMISSIONS, all_topic_names
from tests.conftest import Infra
from tests.ingest.support import TENANT, canonical, count, settings
from tests.support import read_topic, serving

pytestmark = pytest.mark.integration


async def test_an_intake_record_with_an_unknown_extra_field_is_accepted_and_the_field_ignored(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    await ensure_topics(infra.bootstrap_servers, {f"{topic_prefix}{n}": p for n, p in all_topic_names().items()})
    record = {**canonical("x-1"), "tenant": TENANT, "platform_extra": {"campaign": "vår-2026"}, "schema_hint": 7}
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(f"{topic_prefix}{INTAKE.name}", orjson.dumps(record), key=b"testkommun:grupp-a1")
    finally:
        await producer.stop()
    app = create_app(settings(infra, database_url, topic_prefix, fixture_config))
    async with serving(app):
        accepted = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}", count=1)
        dead = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{INTAKE.name}.dlq", count=1, timeout_s=2)
    assert [a["value"]["submission_id"] for a in accepted] == ["x-1"]
    assert "platform_extra" not in accepted[0]["value"]
    assert dead == []
    assert await count(database_url, "submissions") == 1
