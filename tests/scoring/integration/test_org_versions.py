"""Scoring rolls each period up against the org as it was, from its own copy of `tempen.org`.

A reorganisation effective 1 October 2026 moves Grupp B1 from Enhet B to Enhet A and adds Grupp C1.
Submissions for August and October are scored before the org event arrives (it travels on another
topic, so that happens); once it arrives, October is rolled up again against the new tree with no new
submission, and August stays as it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tempen_scoring.app import create_app
from tempen_shared.events import OrgUnitVersioned, SubmissionAccepted, org_event_id, submission_event_id
from tempen_shared.kafka import ensure_topics
from tempen_shared.tenancy.loader import read_org_file
from tempen_shared.tenancy.org import OrgUnit
from tempen_shared.topics import ORG, SUBMISSIONS, all_topic_names, partition_key
from tests.auth.helpers import admin_headers
from tests.conftest import Infra
from tests.support import eventually, scoring_settings, serving

pytestmark = pytest.mark.integration

AUGUST = datetime(2026, 8, 12, 9, 0, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)
REORGANISED = date(2026, 10, 1)


def _submission(n: int, unit: str, when: datetime) -> bytes:
    sid = f"{unit}-{when:%m}-{n}"
    return (
        SubmissionAccepted(
            event_id=submission_event_id("testkommun", sid, 1),
            occurred_at=when,
            tenant="testkommun",
            instrument="test-puls",
            unit=unit,
            submission_id=sid,
            revision=1,
            submitted_at=when,
            answers={"q1": 4, "q2": 3, "q3": 5},
        )
        .model_dump_json()
        .encode()
    )


def _reorganised(config: Path) -> list[OrgUnit]:
    units = [
        OrgUnit(u.id, u.name, "enhet-a", u.manager, u.headcount) if u.id == "grupp-b1" else u
        for u in read_org_file(config / "org" / "testkommun.csv")
    ]
    return [*units, OrgUnit("grupp-c1", "Grupp C1", "forv", None, 9)]


def _scores_caught_up(conn: asyncpg.Connection) -> Callable[[], Awaitable[bool]]:
    """Scores follow a batch's totals on scoring's next tick: every slice's scores are as new as its totals."""

    async def check() -> bool:
        return bool(await conn.fetchval("SELECT bool_and(scored_version = version) FROM scoring.slice_versions"))

    return check


async def _produce(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def test_each_period_rolls_up_against_the_org_in_force_then(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path
) -> None:
    bootstrap = infra.bootstrap_servers
    await ensure_topics(bootstrap, {f"{topic_prefix}{n}": p for n, p in all_topic_names().items()})
    submissions = [
        (partition_key("testkommun", unit), _submission(n, unit, when))
        for when in (AUGUST, OCTOBER)
        for unit in ("grupp-a1", "grupp-b1")
        for n in range(5)
    ]
    # Ingest accepted these against the imported version; scoring has not seen it yet.
    submissions += [(partition_key("testkommun", "grupp-c1"), _submission(n, "grupp-c1", OCTOBER)) for n in range(5)]
    settings = scoring_settings(
        bootstrap_servers=bootstrap,
        database_url=database_url,
        config_dir=fixture_config,
        topic_prefix=topic_prefix,
    )
    conn = await asyncpg.connect(database_url)

    async def respondents(unit: str, scope: str, period: str) -> int | None:
        value: int | None = await conn.fetchval(
            "SELECT max(respondents) FROM scoring.scores WHERE unit = $1 AND scope = $2 AND period = $3",
            unit,
            scope,
            period,
        )
        return value

    try:
        async with serving(create_app(settings)) as base:
            await _produce(bootstrap, f"{topic_prefix}{SUBMISSIONS.name}", submissions)
            await eventually(lambda: conn.fetchval("SELECT count(*) = 25 FROM scoring.contributions"))
            await eventually(_scores_caught_up(conn))
            # The configured tree: B1 under Enhet B; Grupp C1 is nobody's yet, kept but rolled up into nothing.
            assert await respondents("enhet-a", "subtree", "2026-10") == 5
            assert await respondents("enhet-b", "subtree", "2026-10") == 5
            assert await respondents("grupp-c1", "unit", "2026-10") is None
            assert await respondents("forv", "subtree", "2026-10") == 10

            units = _reorganised(fixture_config)
            await _produce(
                bootstrap,
                f"{topic_prefix}{ORG.name}",
                [
                    (
                        partition_key("testkommun", u.id),
                        OrgUnitVersioned(
                            event_id=org_event_id("testkommun", 1, u.id),
                            occurred_at=datetime.now(UTC),
                            tenant="testkommun",
                            version=1,
                            effective_from=REORGANISED,
                            unit_count=len(units),
                            unit=u.id,
                            name=u.name,
                            parent=u.parent,
                            manager_name=u.manager.name if u.manager else None,
                            manager_email=u.manager.email if u.manager else None,
                            headcount=u.headcount,
                        )
                        .model_dump_json()
                        .encode(),
                    )
                    for u in units
                ],
            )

            # October, rolled up again against the new tree with no new submission.
            async def october_realigned() -> bool:
                return await respondents("enhet-a", "subtree", "2026-10") == 10

            await eventually(october_realigned, timeout_s=30)
            assert await respondents("grupp-c1", "unit", "2026-10") == 5
            assert await respondents("forv", "subtree", "2026-10") == 15
            withdrawn = await conn.fetch(
                "SELECT DISTINCT respondents, publishable, suppression_reason FROM scoring.scores"
                " WHERE unit = 'enhet-b' AND scope = 'subtree' AND period = '2026-10'"
            )
            assert [tuple(r) for r in withdrawn] == [(0, False, "no_responses")]
            # August, before the reorganisation: as it was.
            assert await respondents("enhet-a", "subtree", "2026-08") == 5
            assert await respondents("enhet-b", "subtree", "2026-08") == 5
            assert await respondents("forv", "subtree", "2026-08") == 10
            shapes = await conn.fetch("SELECT period, org_shape FROM scoring.slice_versions ORDER BY period")
            assert len({r["org_shape"] for r in shapes if r["period"] == "2026-08"}) == 1
            assert {r["org_shape"] for r in shapes if r["period"] == "2026-08"} != {
                r["org_shape"] for r in shapes if r["period"] == "2026-10"
            }

            async with httpx.AsyncClient(base_url=base, headers=await admin_headers(database_url)) as http:
                c1 = await http.get("/v1/tenants/testkommun/units/grupp-c1/scores", params={"scope": "unit"})
                b = await http.get("/v1/tenants/testkommun/units/enhet-b/scores", params={"scope": "subtree"})
        dead = await conn.fetchval("SELECT count(*) FROM scoring.outbox WHERE topic LIKE '%.dlq'")
    finally:
        await conn.close()
    assert dead == 0, "a submission for a unit scoring has not seen yet is kept, not dead-lettered"
    assert c1.status_code == 200, c1.text
    assert {p["period"] for s in c1.json()["series"] for p in s["points"]} == {"2026-10"}
    # Headcount 9 in the version that added it: 5 of 9 answered.
    assert {p.get("response_rate") for s in c1.json()["series"] for p in s["points"]} == {round(5 / 9, 4)}
    # Enhet B's withdrawn October row is not served; August is.
    assert {p["period"] for s in b.json()["series"] for p in s["points"]} == {"2026-08"}
