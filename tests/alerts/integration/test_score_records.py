"""Score records on `tempen.scores` as alerts' consumer reads them, through the real broker and PostgreSQL:
what scoring's relay writes now (read as a msgspec struct), a V1 record from before the upgrade and one
with a field a newer producer added (both read by the pydantic reference), and records that can never be
read, dead-lettered with the reason and detail the pydantic event gives them (tempen_shared.events.wire)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from tempen_shared.consumer import validation_detail
from tempen_shared.events import UnitScoredV1, parse_unit_scored
from tempen_shared.events.wire import DimensionScoreRecord, UnitScoredRecord, encode_event
from tempen_shared.topics import SCORES, partition_key
from tests.alerts.integration.support import TENANT, UNIT, SmtpSink, month, running_alerts
from tests.conftest import Infra
from tests.support import eventually, read_topic

pytestmark = pytest.mark.integration

EVENT_ID = UUID("5125dadb-070f-405d-82fd-edb12e9b564b")


def _group(number: int) -> dict[str, Any]:
    period, start, end = month(2026, number)
    return {
        "tenant": TENANT,
        "unit": UNIT,
        "scope": "unit",
        "model": "test-model",
        "model_version": "1",
        "instrument": "test-puls",
        "period": period,
        "period_start": start,
        "period_end": end,
        "respondents": 8,
        "sequence": 3,
    }


def _records() -> list[bytes]:
    now = datetime(2026, 4, 1, 0, 5, 0, 123456, tzinfo=UTC)
    current = UnitScoredRecord(
        event_id=EVENT_ID,
        occurred_at=now,
        **_group(1),
        dimensions={
            "ledarskap": DimensionScoreRecord(index=71.25, standard_error=2.0412414523193148, tenant_index=69.8)
        },
    )
    v1 = UnitScoredV1(
        event_id=EVENT_ID,
        occurred_at=now,
        **_group(2),
        dimension="motivation",
        index=55.5,
        standard_error=None,
    )
    newer = json.loads(encode_event(current))
    newer.update(period="2026-03", period_start="2026-03-01T00:00:00Z", period_end="2026-04-01T00:00:00Z")
    invalid = {**newer, "dimensions": {"ledarskap": {"index": 150.0}}}
    return [
        encode_event(current),
        v1.model_dump_json().encode(),
        json.dumps({**newer, "trend": "falling"}).encode(),
        json.dumps(invalid).encode(),
        b'{"schema_version": 2, "tenant": ',
    ]


async def test_score_records_are_stored_or_dead_lettered_as_the_pydantic_event_reads_them(
    infra: Infra, database_url: str, topic_prefix: str
) -> None:
    records = _records()
    with SmtpSink() as sink:
        async with running_alerts(
            bootstrap_servers=infra.bootstrap_servers,
            database_url=database_url,
            topic_prefix=topic_prefix,
            smtp_port=sink.port,
        ):
            producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
            await producer.start()
            try:
                for value in records:
                    await producer.send_and_wait(f"{topic_prefix}{SCORES.name}", value, key=partition_key(TENANT, UNIT))
            finally:
                await producer.stop()
            conn = await asyncpg.connect(database_url)
            try:
                await eventually(lambda: conn.fetchval("SELECT count(*) = 3 FROM alerts.period_scores"), timeout_s=30)
                rows = await conn.fetch(
                    "SELECT dimension, period, index, respondents, standard_error, tenant_index, sequence"
                    " FROM alerts.period_scores ORDER BY period"
                )
            finally:
                await conn.close()
            dead = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SCORES.name}.dlq", count=2)

    assert [tuple(r) for r in rows] == [
        ("ledarskap", "2026-01", 71.25, 8, 2.0412414523193148, 69.8, 3),
        ("motivation", "2026-02", 55.5, 8, None, None, 3),  # the V1 record, upcast
        ("ledarskap", "2026-03", 71.25, 8, 2.0412414523193148, 69.8, 3),  # the unknown field ignored
    ]
    with pytest.raises(ValidationError) as refused:
        parse_unit_scored(records[3])
    with pytest.raises(ValueError, match="not valid JSON") as malformed:
        parse_unit_scored(records[4])
    assert sorted((d["value"]["reason"], d["value"]["detail"]) for d in dead) == [
        ("invalid", validation_detail(refused.value)),
        ("malformed", str(malformed.value)),
    ]
    assert "dimensions.ledarskap.index" in validation_detail(refused.value)
