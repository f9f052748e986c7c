"""`tempen dlq replay` moves a fixed message back into processing, on the real broker."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tempen.commands.dlq import read_dead_letters, replay
from tempen_ingest.app import create_app
from tempen_ingest.config import IngestSettings
from tempen_shared.kafka import ensure_topics
from tempen_shared.topics import INTAKE, SUBMISSIONS, all_topic_names
from tests.conftest import Infra
from tests.support import eventually, read_topic, serving

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # runs the whole system: not in `make test-fast`


def _settings(infra: Infra, database_url: str, prefix: str, config: Path) -> IngestSettings:
    return IngestSettings(
        KAFKA_BOOTSTRAP_SERVERS=infra.bootstrap_servers,
        DATABASE_URL=database_url,
        TEMPEN_CONFIG_DIR=config,
        TEMPEN_TOPIC_PREFIX=prefix,
        TEMPEN_KAFKA_SESSION_TIMEOUT_MS=2000,
        TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS=300,
    )


async def test_a_dead_letter_fixed_by_config_is_replayed_into_processing(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(fixture_config, config)
    await ensure_topics(infra.bootstrap_servers, {f"{topic_prefix}{n}": p for n, p in all_topic_names().items()})
    submission = {
        "tenant": "testkommun",
        "instrument": "test-puls",
        "unit": "grupp-ny",
        "submission_id": "late-unit-1",
        "submitted_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "answers": {"q1": 4},
    }
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(
            f"{topic_prefix}{INTAKE.name}",
            orjson.dumps(submission),
            key=b"testkommun:grupp-ny",
            headers=[("correlation_id", b"testkommun:late-unit-1")],  # as a bridge in front of tempen may set it
        )
    finally:
        await producer.stop()
    dlq = f"{topic_prefix}{INTAKE.name}.dlq"

    async with serving(create_app(_settings(infra, database_url, topic_prefix, config))):
        letters = await eventually(lambda: read_dead_letters(infra.bootstrap_servers, dlq, limit=10))
    assert [(letter.reason, letter.correlation_id) for _, letter, _ in letters if letter] == [
        ("unknown_unit", "testkommun:late-unit-1")
    ]
    (stored,) = await read_topic(infra.bootstrap_servers, dlq, count=1)
    assert stored["headers"]["correlation_id"] == b"testkommun:late-unit-1"

    # The HR admin adds the missing unit to the org file; ingest restarts with the new config.
    with (config / "org" / "testkommun.csv").open("a") as org:
        org.write("grupp-ny,Grupp Ny,enhet-a,Cecilia Chef,cecilia@testkommun.example,7\n")
    async with serving(create_app(_settings(infra, database_url, topic_prefix, config))):
        replayed, skipped = await replay(infra.bootstrap_servers, dlq, offset=None)
        accepted = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SUBMISSIONS.name}", count=1)
        again, _ = await replay(infra.bootstrap_servers, dlq, offset=None)
        intake = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{INTAKE.name}", count=2)
    assert (replayed, skipped) == (1, 0)
    assert intake[-1]["headers"] == {
        "replayed_from": f"{dlq}".encode(),
        "correlation_id": b"testkommun:late-unit-1",  # traced under the same id as the first attempt
    }
    assert [a["value"]["submission_id"] for a in accepted] == ["late-unit-1"]
    assert again == 0  # --all replays each dead letter once
