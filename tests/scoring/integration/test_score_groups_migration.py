"""Migration 0006 stores a group's score rows as one row: the read view gives back every row a deployment
had, to the last bit of each float, each group's sequence is above all its rows had, and a group with
any row still waiting to be published is published again, whole, by the next round. Migration 0009
makes the groups their own outbox: the broker the outbox relay last published to gets exactly the
groups that were still waiting; a broker new to scoring gets every group."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest

from tempen_scoring.adapters.postgres import SCHEMA, ScoreGroupsRelaySource
from tempen_shared.db import migrate
from tests.scoring.integration.migrations import migrate_before

pytestmark = pytest.mark.integration

START, END = datetime(2026, 8, 31, 22, 0, tzinfo=UTC), datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
COMPUTED = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
DETAILS = {"question_indices": {"q1": 1 / 3}, "distribution": {"2": 1, "3": 4}, "dimension_respondents": 5}

COLUMNS = (
    "tenant, unit, scope, instrument, model, model_version, dimension, period, period_start, period_end, respondents,"
    " publishable, suppression_reason, index, standard_error, favourable_pct, details, sequence, computed_at,"
    " published_sequence, tenant_index, correlation_id"
)


def _row(unit: str, scope: str, dimension: str, **figures: Any) -> tuple[Any, ...]:
    """A score row as migrations 0001-0004 stored it."""
    f = {
        "respondents": 5,
        "publishable": True,
        "reason": None,
        "index": 0.1 + 0.2,
        "se": 1 / 3,
        "fav": 2 / 3,
        "details": DETAILS,
        "sequence": 1,
        "published": 1,
        "tenant_index": 100 / 7,
        "cid": None,
    } | figures
    return (
        "testkommun",
        unit,
        scope,
        "test-puls",
        "test-model",
        "1",
        dimension,
        "2026-09",
        START,
        END,
        f["respondents"],
        f["publishable"],
        f["reason"],
        f["index"],
        f["se"],
        f["fav"],
        f["details"],
        f["sequence"],
        COMPUTED,
        f["published"],
        f["tenant_index"],
        f["cid"],
    )


OLD = [
    # published whole, one row withdrawn (its last respondent retracted)
    _row("grupp-a1", "unit", "ledarskap", sequence=3, published=3, cid="testkommun:s1"),
    _row("grupp-a1", "unit", "motivation", sequence=2, published=2, index=None, se=None),
    _row("grupp-a1", "unit", "total", sequence=4, published=4, respondents=0, publishable=False, reason="no_responses",
         index=None, se=None, fav=None, details={}, tenant_index=None),
    # one row written but not yet published when the deployment stopped
    _row("enhet-a", "subtree", "ledarskap", sequence=7, published=7, index=12.5, cid="testkommun:s2"),
    _row("enhet-a", "subtree", "total", sequence=9, published=8, index=87.5, cid="testkommun:s3"),
    # suppressed: never published, counts as published
    _row("grupp-a2", "unit", "ledarskap", publishable=False, reason="below_minimum", respondents=2, index=None,
         se=None, fav=None, details={}, tenant_index=None),
]  # fmt: skip


async def test_every_score_row_reads_back_exactly_and_unpublished_groups_are_published_whole(
    pool: asyncpg.Pool,
) -> None:
    await migrate_before(pool, "0006")
    await pool.executemany(
        f"INSERT INTO {SCHEMA}.scores ({COLUMNS}) VALUES ({', '.join(f'${n}' for n in range(1, 23))})", OLD
    )

    # The outbox relay's last broker, as a deployment that published score events has it.
    await pool.execute(
        f"INSERT INTO {SCHEMA}.outbox (topic, key, payload, headers, published_at, broker_epoch)"
        " VALUES ('tempen.scores', 'k', 'x', '{}', now(), 'cluster-a')"
    )

    applied = await migrate(pool, schema=SCHEMA, package="tempen_scoring")
    assert {"0006_score_groups.sql", "0009_score_groups_as_outbox.sql"} <= set(applied)

    groups = {
        (r["unit"], r["scope"]): (r["sequence"], r["correlation_id"])
        for r in await pool.fetch(f"SELECT * FROM {SCHEMA}.score_groups")
    }
    assert groups == {
        ("grupp-a1", "unit"): (4, "testkommun:s1"),  # the newest correlation id of any of its rows
        ("enhet-a", "subtree"): (9, "testkommun:s3"),
        ("grupp-a2", "unit"): (1, None),
    }
    columns = COLUMNS.replace(" published_sequence,", "")
    read = await pool.fetch(f"SELECT {columns} FROM {SCHEMA}.scores ORDER BY unit, scope, dimension")
    sequences = {("grupp-a1", "unit"): 4, ("enhet-a", "subtree"): 9, ("grupp-a2", "unit"): 1}
    cids = {("grupp-a1", "unit"): "testkommun:s1", ("enhet-a", "subtree"): "testkommun:s3", ("grupp-a2", "unit"): None}
    expected = sorted((*r[:17], sequences[r[1], r[2]], r[18], r[20], cids[r[1], r[2]]) for r in OLD)
    assert [tuple(r) for r in read] == [tuple(e) for e in sorted(expected, key=lambda e: (e[1], e[2], e[6]))]

    relay = ScoreGroupsRelaySource(pool, topic=lambda name: f"test.{name}")
    batch = await relay.take("cluster-a", 100)
    events = [orjson.loads(m.payload) for m in batch.messages]
    assert [(e["unit"], e["scope"], e["sequence"]) for e in events] == [("enhet-a", "subtree", 9)]
    assert {d: f["index"] for d, f in events[0]["dimensions"].items()} == {"ledarskap": 12.5, "total": 87.5}
    await batch.mark_published()
    assert (await relay.take("cluster-a", 100)).rows == 0, "nothing twice"

    again = await relay.take("cluster-b", 100)  # a broker scoring has not published to
    assert sorted((orjson.loads(m.payload)["unit"], orjson.loads(m.payload)["scope"]) for m in again.messages) == [
        ("enhet-a", "subtree"),
        ("grupp-a1", "unit"),
    ], "every group with a publishable figure; the suppressed one has no event"
    assert again.rows == 3

    await pool.execute(f"SELECT nextval('{SCHEMA}.score_revision')")  # the sequence continues past the rows
    assert await pool.fetchval(f"SELECT max(revision) FROM {SCHEMA}.score_groups") < await pool.fetchval(
        f"SELECT nextval('{SCHEMA}.score_revision')"
    )
