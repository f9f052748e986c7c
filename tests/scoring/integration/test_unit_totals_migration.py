"""Migration 0005 moves a deployment's aggregates from one row per answer value and dimension into one
row per unit, exactly: the old tables' contents come back unchanged through the views that replace them,
and the store goes on from the migrated totals."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from tempen_scoring.adapters.postgres import SCHEMA, PostgresScoringStore
from tempen_scoring.service import contributions_of
from tempen_shared.db import migrate
from tempen_shared.events import SubmissionAccepted, submission_event_id
from tempen_shared.tenancy.loader import load_catalog
from tests.conftest import FIXTURE_CONFIG
from tests.scoring.integration.migrations import migrate_before

pytestmark = pytest.mark.integration

CATALOG = load_catalog(FIXTURE_CONFIG)
WHEN = datetime(2026, 9, 10, 9, 0, tzinfo=UTC)
START, END = datetime(2026, 8, 31, 22, 0, tzinfo=UTC), datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
SLICE = ("testkommun", "test-puls", "test-model", "2026-09")

# What a deployment wrote before: two units, one of them with a retracted value left at count 0 and a
# dimension whose last respondent was retracted (n 0), which the new row leaves out. grupp-a1's three
# respondents answered q1 with 2, 2 and 4: ledarskap scores 25, 25 and 75.
OLD_GROUPS = [("grupp-a1", 3), ("grupp-a2", 1)]
OLD_COUNTS = [("grupp-a1", "q1", 2, 2), ("grupp-a1", "q1", 4, 1), ("grupp-a1", "q2", 5, 0), ("grupp-a2", "q3", 1, 1)]
OLD_MOMENTS = [
    ("grupp-a1", "ledarskap", 3, Decimal("125"), Decimal("6875.000000000")),
    ("grupp-a1", "motivation", 0, Decimal("0"), Decimal("0")),
    ("grupp-a2", "motivation", 1, Decimal("0"), Decimal("0")),
]


async def test_old_aggregates_come_back_unchanged_through_the_views_and_the_store_continues_from_them(
    pool: asyncpg.Pool,
) -> None:
    await migrate_before(pool, "0005")
    tenant, instrument, model, period = SLICE
    await pool.executemany(
        f"INSERT INTO {SCHEMA}.groups VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [(tenant, unit, instrument, model, period, START, END, n) for unit, n in OLD_GROUPS],
    )
    await pool.executemany(
        f"INSERT INTO {SCHEMA}.item_counts VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        [(tenant, unit, instrument, model, period, item, value, n) for unit, item, value, n in OLD_COUNTS],
    )
    await pool.executemany(
        f"INSERT INTO {SCHEMA}.dimension_moments VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        [(tenant, unit, instrument, model, period, d, n, s, q) for unit, d, n, s, q in OLD_MOMENTS],
    )

    assert "0005_unit_totals.sql" in await migrate(pool, schema=SCHEMA, package="tempen_scoring")

    rows = await pool.fetch(f"SELECT unit, respondents, counts, moments FROM {SCHEMA}.unit_totals ORDER BY unit")
    assert [(r["unit"], r["respondents"], r["counts"], r["moments"]) for r in rows] == [
        (
            "grupp-a1",
            3,
            {"q1": {"2": 2, "4": 1}},
            {"ledarskap": [3, "125", "6875.000000000"]},
        ),
        ("grupp-a2", 1, {"q3": {"1": 1}}, {"motivation": [1, "0", "0"]}),
    ]
    groups = await pool.fetch(f"SELECT unit, respondents, period_start, period_end FROM {SCHEMA}.groups ORDER BY 1")
    assert [tuple(r) for r in groups] == [(unit, n, START, END) for unit, n in OLD_GROUPS]
    counts = await pool.fetch(f"SELECT unit, item, value, count FROM {SCHEMA}.item_counts ORDER BY 1, 2, 3")
    assert [tuple(r) for r in counts] == [c for c in OLD_COUNTS if c[3]]
    moments = await pool.fetch(f"SELECT unit, dimension, n, sum, sumsq FROM {SCHEMA}.dimension_moments ORDER BY 1, 2")
    assert [tuple(r) for r in moments] == [m for m in OLD_MOMENTS if m[2]]

    store = PostgresScoringStore(pool, catalog=CATALOG, topic=lambda name: f"test.{name}", on_commit=lambda: None)
    event = SubmissionAccepted(
        event_id=submission_event_id(tenant, "s-new", 1),
        occurred_at=WHEN,
        tenant=tenant,
        instrument=instrument,
        unit="grupp-a1",
        submission_id="s-new",
        revision=1,
        submitted_at=WHEN,
        answers={"q1": 4, "q2": 5},
    )
    incoming = [c for c in contributions_of(event, CATALOG) if c.group.model == model]
    applied, ignored, _ = await store.apply(incoming, [])
    assert (applied, ignored) == (1, 0)

    after = await pool.fetchrow(
        f"SELECT respondents, counts, moments FROM {SCHEMA}.unit_totals WHERE unit = 'grupp-a1' AND model = $1",
        model,
    )
    assert after is not None
    assert after["respondents"] == 4
    assert after["counts"] == {"q1": {"2": 2, "4": 2}, "q2": {"5": 1}}
    n, total, squares = after["moments"]["ledarskap"]  # the new respondent's score is (75 + 100) / 2
    assert (n, Decimal(total), Decimal(squares)) == (4, Decimal("212.5"), Decimal("14531.25"))
    scored = await pool.fetchval(
        f"SELECT respondents FROM {SCHEMA}.scores"
        " WHERE unit = 'grupp-a1' AND scope = 'unit' AND dimension = 'ledarskap'"
    )
    assert scored == 4, "the score row counts the migrated respondents and the new one"
