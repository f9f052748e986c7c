"""Migration 0007 folds a submission's contribution rows and tombstone into one ledger row: the view gives
back every row a deployment had, and the store goes on deciding from the ledger exactly as before:
a redelivery and a revision older than a retraction change nothing, and a correction takes back
exactly what the migrated row had added."""

from __future__ import annotations

from datetime import UTC, datetime

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
SCORED = datetime(2026, 9, 10, 10, 0, tzinfo=UTC)
START, END = datetime(2026, 8, 31, 22, 0, tzinfo=UTC), datetime(2026, 9, 30, 22, 0, tzinfo=UTC)
COLUMNS = (
    "tenant, submission_id, model, revision, instrument, unit, period, item_values, dimension_scores, respondent,"
    " scored_at"
)
# s1 answered q1 4, q2 5, q3 3: ledarskap (75 + 100) / 2, motivation 50, total (75 + 100 + 50) / 3.
S1 = {"q1": 4, "q2": 5, "q3": 3}
S1_SCORES = {"ledarskap": 87.5, "motivation": 50.0, "total": 75.0}
OLD = [
    ("testkommun", "s1", "test-model", 1, "test-puls", "grupp-a1", "2026-09", S1, S1_SCORES, "p-1", SCORED),
    # retracted (GDPR): only its tombstone is left
    ("testkommun", "s2", "", 2, "", "", "", {}, {}, None, SCORED),
    # retracted at revision 3, then submitted again at revision 4
    ("testkommun", "s3", "", 3, "", "", "", {}, {}, None, SCORED),
    ("testkommun", "s3", "test-model", 4, "test-puls", "grupp-a2", "2026-09", {"q1": 1}, {"ledarskap": 0.0}, "p-3",
     SCORED),
]  # fmt: skip


def _event(submission: str, revision: int, unit: str, answers: dict[str, int]) -> SubmissionAccepted:
    return SubmissionAccepted(
        event_id=submission_event_id("testkommun", submission, revision),
        occurred_at=WHEN,
        tenant="testkommun",
        instrument="test-puls",
        unit=unit,
        submission_id=submission,
        revision=revision,
        submitted_at=WHEN,
        answers=answers,
    )


async def test_the_ledger_holds_what_the_contribution_rows_did_and_decides_as_they_did(pool: asyncpg.Pool) -> None:
    await migrate_before(pool, "0007")
    await pool.executemany(
        f"INSERT INTO {SCHEMA}.contributions ({COLUMNS}) VALUES ({', '.join(f'${n}' for n in range(1, 12))})", OLD
    )
    # The aggregates s1 and s3 made, as migration 0005 left them.
    await pool.executemany(
        f"INSERT INTO {SCHEMA}.unit_totals VALUES ('testkommun', 'test-puls', 'test-model', '2026-09', $1, $2, $3,"
        " 1, $4, $5)",
        [
            (
                "grupp-a1",
                START,
                END,
                {"q1": {"4": 1}, "q2": {"5": 1}, "q3": {"3": 1}},
                {"ledarskap": [1, "87.5", "7656.25"], "motivation": [1, "50", "2500"], "total": [1, "75", "5625"]},
            ),
            ("grupp-a2", START, END, {"q1": {"1": 1}}, {"ledarskap": [1, "0", "0"]}),
        ],
    )

    assert "0007_ledger.sql" in await migrate(pool, schema=SCHEMA, package="tempen_scoring")

    read = await pool.fetch(f"SELECT {COLUMNS} FROM {SCHEMA}.contributions ORDER BY submission_id, model")
    assert [tuple(r) for r in read] == sorted(OLD, key=lambda r: (r[1], r[2]))

    store = PostgresScoringStore(pool, catalog=CATALOG, topic=lambda name: f"test.{name}", on_commit=lambda: None)
    stale = [
        *contributions_of(_event("s1", 1, "grupp-a1", S1), CATALOG),  # redelivered
        *contributions_of(_event("s2", 1, "grupp-a1", S1), CATALOG),  # older than its retraction
        *contributions_of(_event("s3", 2, "grupp-a1", S1), CATALOG),  # older than its resubmission
    ]
    assert (await store.apply(stale, []))[:2] == (0, 3)

    correction = contributions_of(_event("s1", 2, "grupp-a2", {"q1": 2}), CATALOG)
    assert (await store.apply(correction, []))[:2] == (1, 0)
    totals = {
        r["unit"]: (r["respondents"], r["counts"], r["moments"])
        for r in await pool.fetch(f"SELECT unit, respondents, counts, moments FROM {SCHEMA}.unit_totals")
    }
    assert totals["grupp-a1"] == (0, {}, {}), "exactly what the migrated row had added is taken back"
    assert totals["grupp-a2"][:2] == (2, {"q1": {"1": 1, "2": 1}})
    row = await pool.fetchrow(f"SELECT * FROM {SCHEMA}.ledger WHERE submission_id = 's1'")
    assert row is not None
    assert row["retracted_revision"] is None
    assert row["contributions"]["test-model"]["revision"] == 2
    assert row["contributions"]["test-model"]["unit"] == "grupp-a2"
