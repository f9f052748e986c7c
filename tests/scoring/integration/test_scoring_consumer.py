"""Scoring's consumer on the real broker and PostgreSQL: idempotent, corrections, retractions, DLQ."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tempen_scoring.app import create_app
from tempen_shared.events import SubmissionAccepted, SubmissionRetracted, submission_event_id
from tempen_shared.kafka import ensure_topics
from tempen_shared.topics import SCORES, SUBMISSIONS, all_topic_names
from tests.auth.helpers import admin_headers
from tests.conftest import Infra
from tests.support import eventually, read_all, read_topic, scoring_settings, serving

pytestmark = pytest.mark.integration

WHEN = datetime(2026, 9, 10, 9, 0, tzinfo=UTC)


def accepted(sid: str, revision: int, answers: dict[str, int], unit: str = "grupp-a1") -> bytes:
    return (
        SubmissionAccepted(
            event_id=submission_event_id("testkommun", sid, revision),
            occurred_at=WHEN,
            tenant="testkommun",
            instrument="test-puls",
            unit=unit,
            submission_id=sid,
            revision=revision,
            submitted_at=WHEN + timedelta(minutes=revision),
            answers=answers,
        )
        .model_dump_json()
        .encode()
    )


async def publish(infra: Infra, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"testkommun:grupp-a1")
    finally:
        await producer.stop()


async def test_duplicates_corrections_and_retractions_leave_exactly_the_right_aggregates(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    await ensure_topics(infra.bootstrap_servers, {f"{topic_prefix}{n}": p for n, p in all_topic_names().items()})
    topic = f"{topic_prefix}{SUBMISSIONS.name}"
    # First on the partition: a submission from year 1, which once halted all scoring (OverflowError in
    # the period arithmetic, redelivered for ever). Everything after it must still be scored.
    year_1 = orjson.loads(accepted("ancient", 1, {"q1": 2, "q2": 2, "q3": 2}))
    year_1["submitted_at"] = "0001-01-01T00:00:00+14:00"
    events = [orjson.dumps(year_1)]
    events += [accepted(f"s{i}", 1, {"q1": 2, "q2": 2, "q3": 2}) for i in range(6)]
    events += [accepted("s0", 1, {"q1": 2, "q2": 2, "q3": 2})]  # redelivery
    events += [accepted("s1", 2, {"q1": 5, "q2": 5, "q3": 5})]  # correction
    events += [accepted("s1", 1, {"q1": 2, "q2": 2, "q3": 2})]  # an older revision, late
    retraction = SubmissionRetracted(
        event_id=submission_event_id("testkommun", "s2", 2),
        occurred_at=WHEN,
        tenant="testkommun",
        unit="grupp-a1",
        submission_id="s2",
        revision=2,
    )
    events += [retraction.model_dump_json().encode()]
    events += [b"{not json", orjson.dumps({"tenant": "testkommun", "schema_version": 99})]
    await publish(infra, topic, events)
    settings = scoring_settings(
        bootstrap_servers=infra.bootstrap_servers,
        database_url=database_url,
        config_dir=fixture_config,
        topic_prefix=topic_prefix,
    )
    async with serving(create_app(settings)) as base:
        dead = await read_topic(infra.bootstrap_servers, f"{topic}.dlq", count=3)
        conn = await asyncpg.connect(database_url)
        try:
            await eventually(
                lambda: conn.fetchval(
                    "SELECT count(*) = 1 FROM scoring.contributions WHERE model = '' AND submission_id = 's2'"
                )
            )
            respondents = await conn.fetchval(
                "SELECT respondents FROM scoring.groups WHERE unit = 'grupp-a1' AND model = 'test-model'"
            )
            q1 = {
                r["value"]: r["count"]
                for r in await conn.fetch(
                    "SELECT value, count FROM scoring.item_counts"
                    " WHERE unit = 'grupp-a1' AND item = 'q1' AND count <> 0"
                )
            }
            index = await conn.fetchval(
                "SELECT index FROM scoring.scores WHERE unit = 'grupp-a1' AND scope = 'unit' AND dimension = 'total'"
            )
        finally:
            await conn.close()
        scores = await read_topic(infra.bootstrap_servers, f"{topic_prefix}{SCORES.name}", count=1)
        async with httpx.AsyncClient(base_url=base, headers=await admin_headers(database_url)) as http:
            served = (await http.get("/v1/tenants/testkommun/units/grupp-a1/scores", params={"scope": "unit"})).json()
    # Six submitted, s2 retracted: five people; s1 counts once, with its corrected answers.
    assert respondents == 5
    assert q1 == {2: 4, 5: 1}
    # Four people at 25 and one at 100 on every item: the index is their plain mean, 40.
    assert index == pytest.approx(40.0)
    assert sorted(d["value"]["reason"] for d in dead) == ["invalid", "invalid", "malformed"]
    assert any("submitted_at" in d["value"]["detail"] and "2000-01-01" in d["value"]["detail"] for d in dead)
    assert scores, "a publishable group (5 >= the minimum) publishes its scores"
    # Grupp A1 has a headcount of 12 in the fixture org: 5 of 12 answered.
    rates = {point["response_rate"] for series in served["series"] for point in series["points"]}
    assert rates == {round(5 / 12, 4)}


async def test_score_events_carry_the_correlation_id_of_the_last_submission_that_touched_their_unit(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    await ensure_topics(infra.bootstrap_servers, {f"{topic_prefix}{n}": p for n, p in all_topic_names().items()})
    topic = f"{topic_prefix}{SUBMISSIONS.name}"
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    try:
        for i in range(5):  # two units' submissions, interleaved; each unit shows from its fifth
            for unit, prefix in (("grupp-a1", "a"), ("grupp-b1", "b")):
                await producer.send_and_wait(
                    topic,
                    accepted(f"{prefix}{i}", 1, {"q1": 3, "q2": 4, "q3": 2}, unit=unit),
                    key=f"testkommun:{unit}".encode(),
                    headers=[("correlation_id", f"testkommun:{prefix}{i}".encode())],
                )
    finally:
        await producer.stop()
    settings = scoring_settings(
        bootstrap_servers=infra.bootstrap_servers,
        database_url=database_url,
        config_dir=fixture_config,
        topic_prefix=topic_prefix,
    )
    async with serving(create_app(settings)):
        scores = await eventually(
            lambda: _units_scored(infra, f"{topic_prefix}{SCORES.name}", {"grupp-a1", "grupp-b1", "enhet-a", "enhet-b"})
        )

    causes = {(s["value"]["unit"], s["headers"].get("correlation_id")) for s in scores}
    # A unit and the units above it that only its submissions reached: its last submission's id.
    assert {(unit, cid) for unit, cid in causes if unit in {"grupp-a1", "enhet-a"}} == {
        ("grupp-a1", b"testkommun:a4"),
        ("enhet-a", b"testkommun:a4"),
    }
    assert {(unit, cid) for unit, cid in causes if unit in {"grupp-b1", "enhet-b"}} == {
        ("grupp-b1", b"testkommun:b4"),
        ("enhet-b", b"testkommun:b4"),
    }
    # Units both reached carry one of their submissions' ids, never none.
    assert {cid for _, cid in causes} <= {f"testkommun:{p}{i}".encode() for p in "ab" for i in range(5)}


async def _units_scored(infra: Infra, topic: str, units: set[str]) -> list[dict[str, Any]] | None:
    scores = await read_all(infra.bootstrap_servers, topic)
    return scores if units <= {s["value"]["unit"] for s in scores} else None
