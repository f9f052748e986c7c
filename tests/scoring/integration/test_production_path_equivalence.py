"""The production path gives the figures of a from-scratch recomputation, to the last digit.

Scoring's store (`PostgresScoringStore.apply`, what the Kafka entry point calls for every batch) is
driven with any delivery order of submissions: redeliveries, corrections that move a submission to
another unit or month, revisions arriving after a newer one, GDPR retractions and resubmissions after
them, batches of any size handed to two replicas in turn (each one's slices in memory go stale
whenever the other writes, as after a rebalance), a reorganisation half-way through and another one
once everything is in, each followed by the realigner as on an org event. Afterwards every score row
in the database must equal what `rescore_slice` computes from scratch from the submissions that
count, with the tree then in force: respondents, publishability and its reason, index, standard
error and favourable share compared with ==, and every other stored row withdrawn.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from tempen_scoring.adapters import postgres as scoring_postgres
from tempen_scoring.adapters.postgres import SCHEMA, PostgresScoringStore
from tempen_scoring.domain.index import contribution
from tempen_scoring.domain.periods import period_of
from tempen_scoring.domain.rescoring import IncomingContribution, IncomingRetraction, SliceKey, rescore_slice
from tempen_scoring.realign import realign_once
from tempen_scoring.service import contributions_of
from tempen_shared.events import SubmissionAccepted, submission_event_id
from tempen_shared.tenancy.loader import Tenant, load_catalog
from tempen_shared.tenancy.org import OrgTree, OrgUnit
from tests.conftest import FIXTURE_CONFIG
from tests.scoring.reference import reference_groups

pytestmark = pytest.mark.integration

CATALOG = load_catalog(FIXTURE_CONFIG)
TENANT = CATALOG.tenants["testkommun"]
INSTRUMENT = TENANT.instruments["test-puls"]
MODEL = TENANT.models["test-model"]
# Two closed months, whatever today is.
MONTHS = (datetime(2025, 3, 12, 9, tzinfo=UTC), datetime(2025, 4, 15, 9, tzinfo=UTC))
BEFORE = TENANT.org
# The reorganisation: Grupp B1 moves under Enhet A, and a unit that submissions already named joins.
AFTER = OrgTree.build(
    [
        *(dataclasses.replace(u, parent="enhet-a") if u.id == "grupp-b1" else u for u in BEFORE.units.values()),
        OrgUnit("grupp-x", "Grupp X", "enhet-b", None),
    ]
)
# And again: Enhet B with everything below it is closed, its units gone from the tree.
FINAL = OrgTree.build(u for u in AFTER.units.values() if u.id not in ("enhet-b", "grupp-x"))
UNITS = ("grupp-a1", "grupp-a1", "grupp-b1", "grupp-b1", "enhet-a", "enhet-b", "forv", "grupp-x")


@dataclasses.dataclass
class Submission:
    revision: int
    unit: str
    month: datetime
    answers: dict[str, int]
    retracted_at: int | None = None  # the revision of its retraction, while no newer one came


def _answers(rng: random.Random) -> dict[str, int]:
    answers = {q: rng.choice((1, 2, 3, 4, 5, 5, 4, 6)) for q in ("q1", "q2", "q3") if rng.random() < 0.9}
    return answers or {"q1": rng.randint(1, 5)}


def _accepted(sid: str, revision: int, unit: str, month: datetime, answers: dict[str, int]) -> SubmissionAccepted:
    return SubmissionAccepted(
        event_id=submission_event_id("testkommun", sid, revision),
        occurred_at=month,
        tenant="testkommun",
        instrument=INSTRUMENT.id,
        unit=unit,
        submission_id=sid,
        revision=revision,
        submitted_at=month + timedelta(hours=revision),
        answers=answers,
    )


def _deliveries(
    rng: random.Random, count: int
) -> tuple[list[SubmissionAccepted | IncomingRetraction], dict[str, Submission]]:
    """`count` deliveries in the order the broker hands them over, and what counts once all arrived."""
    truth: dict[str, Submission] = {}
    out: list[SubmissionAccepted | IncomingRetraction] = []
    sent: list[SubmissionAccepted] = []
    for n in range(count):
        roll = rng.random()
        if not truth or roll < 0.45:  # a new submission
            sid = f"s{n}"
            s = truth[sid] = Submission(1, rng.choice(UNITS), rng.choice(MONTHS), _answers(rng))
            event = _accepted(sid, 1, s.unit, s.month, s.answers)
            out.append(event)
            sent.append(event)
            continue
        sid = rng.choice(sorted(truth))
        s = truth[sid]
        if roll < 0.55:  # redelivered, unchanged
            out.append(rng.choice(sent))
        elif roll < 0.75:  # corrected, maybe to another unit and month
            s.revision += 1
            s.unit, s.month, s.answers, s.retracted_at = rng.choice(UNITS), rng.choice(MONTHS), _answers(rng), None
            event = _accepted(sid, s.revision, s.unit, s.month, s.answers)
            out.append(event)
            sent.append(event)
        elif roll < 0.85:  # erased (GDPR); a later resubmission may bring it back
            s.revision += 1
            s.retracted_at = s.revision
            out.append(IncomingRetraction("testkommun", sid, s.revision))
        else:  # an older revision arriving after a newer one: changes nothing
            s.revision += 2
            s.unit, s.month, s.answers, s.retracted_at = rng.choice(UNITS), rng.choice(MONTHS), _answers(rng), None
            newer = _accepted(sid, s.revision, s.unit, s.month, s.answers)
            older = _accepted(sid, s.revision - 1, rng.choice(UNITS), rng.choice(MONTHS), _answers(rng))
            out.extend((newer, older))
            sent.extend((newer, older))
    return out, truth


def _incoming(
    deliveries: list[SubmissionAccepted | IncomingRetraction],
) -> list[IncomingContribution | IncomingRetraction]:
    out: list[IncomingContribution | IncomingRetraction] = []
    for d in deliveries:
        out.extend([d] if isinstance(d, IncomingRetraction) else contributions_of(d, CATALOG))
    return out


async def _stored_rows(scoring_pool: asyncpg.Pool, key: SliceKey) -> dict[tuple[str, str, str], asyncpg.Record]:
    rows = await scoring_pool.fetch(
        f"SELECT unit, scope, dimension, respondents, publishable, suppression_reason, index, standard_error,"
        f" favourable_pct FROM {SCHEMA}.scores WHERE tenant = $1 AND instrument = $2 AND model = $3 AND period = $4",
        key.tenant,
        key.instrument,
        key.model,
        key.period,
    )
    return {(r["unit"], r["scope"], r["dimension"]): r for r in rows}


@pytest.mark.parametrize(
    ("seed", "ticks"),
    [(seed, ticks) for ticks in ("every batch", "now and then", "now and then, one replica") for seed in range(4)],
)
async def test_any_delivery_order_over_two_replicas_and_a_reorganisation_gives_the_from_scratch_figures(
    scoring_pool: asyncpg.Pool, seed: int, ticks: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`now and then`: the replicas compute scores only when told (as their tick does, here at random
    points between batches), so scores lag the totals across batches, replicas and a reorganisation;
    with one replica, only its memory of which units changed since says what to rescore. Odd seeds stage
    one record per COPY, so the stores cross a chunk boundary at every record."""
    if seed % 2:
        monkeypatch.setattr(scoring_postgres, "STAGE_CHUNK", 1)
    rng = random.Random(seed)
    tree = {"now": BEFORE}

    async def org_at(tenant: str, day: date) -> OrgTree:
        return tree["now"]

    interval = 0.0 if ticks == "every batch" else 3600.0
    replicas = [
        PostgresScoringStore(
            scoring_pool,
            catalog=CATALOG,
            topic=lambda name: f"test.{name}",
            on_commit=lambda: None,
            org_at=org_at,
            score_interval_s=interval,
            slice_cache=cache,
        )
        for cache in (4, 1)  # the second keeps one slice: the other month's leaves memory unscored
    ][: 1 if ticks.endswith("one replica") else 2]
    deliveries, truth = _deliveries(rng, 160)
    reorganise_at = len(deliveries) // 2
    position = 0
    while position < len(deliveries):
        if tree["now"] is BEFORE and position >= reorganise_at:
            tree["now"] = AFTER
            await realign_once(rng.choice(replicas))
        size = rng.choice((1, 1, 2, 3, 5, 8, 13, 40))
        await rng.choice(replicas).apply(_incoming(deliveries[position : position + size]), [])
        position += size
        if rng.random() < 0.2:
            await rng.choice(replicas).score_pending(force=True)
    for replica in replicas:
        await replica.score_pending(force=True)
    compared = await _assert_from_scratch(scoring_pool, truth, AFTER, seed)

    # Reorganised again once every submission is in: only the realigner brings the slices in line.
    tree["now"] = FINAL
    realigned, _ = await realign_once(rng.choice(replicas))
    assert realigned == len(MONTHS), "both months were rolled up against the closed unit's tree"
    compared += await _assert_from_scratch(scoring_pool, truth, FINAL, seed)
    assert compared > 0


async def _assert_from_scratch(
    scoring_pool: asyncpg.Pool, truth: dict[str, Submission], tree: OrgTree, seed: int
) -> int:
    """Every stored score row equals the from-scratch result with `tree`; returns the rows compared."""
    tenant: Tenant = dataclasses.replace(TENANT, org=tree)
    compared = 0
    for month in MONTHS:
        period = period_of(month, INSTRUMENT.cadence, TENANT.config.zone)
        key = SliceKey("testkommun", INSTRUMENT.id, MODEL.id, period.key)
        live = {
            sid: (s.unit, contribution(INSTRUMENT, MODEL, s.answers))
            for sid, s in truth.items()
            if s.retracted_at is None and period_of(s.month, INSTRUMENT.cadence, TENANT.config.zone).key == period.key
        }
        expected_rows, _ = rescore_slice(tenant, key, reference_groups(tenant, live))
        expected = {(r.unit, r.scope, r.dimension): r for r in expected_rows}
        stored = await _stored_rows(scoring_pool, key)
        for row_key, want in expected.items():
            assert row_key in stored, (seed, period.key, row_key)
            got = stored[row_key]
            assert (
                got["respondents"],
                got["publishable"],
                got["suppression_reason"],
                got["index"],
                got["standard_error"],
                got["favourable_pct"],
            ) == (
                want.respondents,
                want.publishable,
                want.suppression_reason,
                want.index,
                want.standard_error,
                want.favourable_pct,
            ), (seed, period.key, row_key)
            compared += 1
        for withdrawn in stored.keys() - expected.keys():
            got = stored[withdrawn]
            assert (got["respondents"], got["publishable"], got["index"]) == (0, False, None), (seed, withdrawn)
        respondents = await scoring_pool.fetchval(
            f"SELECT coalesce(sum(respondents), 0) FROM {SCHEMA}.unit_totals WHERE period = $1", period.key
        )
        assert respondents == len(live), "every submission that counts is counted once, outside the tree too"
    return compared
