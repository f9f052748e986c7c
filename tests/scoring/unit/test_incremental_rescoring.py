"""Incremental rescoring (only the groups a batch can have changed, from aggregates kept in memory)
leaves exactly the rows that rescoring the whole slice from scratch (`rescore_slice`) computes,
batch after batch: additions, corrections that move a submission to another unit, retractions,
groups crossing the minimum size and the differencing rule switching verdicts across the tree."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from tempen_scoring.domain.incremental import Group, SliceState, StoredRow, Totals, deltas_by_slice, rescore
from tempen_scoring.domain.index import Contribution, contribution
from tempen_scoring.domain.rescoring import AggregateDelta, GroupKey, ScoreRow, SliceKey, rescore_slice
from tempen_shared.tenancy.loader import Tenant, load_catalog
from tempen_shared.tenancy.org import OrgTree, OrgUnit
from tests.conftest import FIXTURE_CONFIG
from tests.scoring.reference import reference_groups

PERIOD = "2026-10"
RowKey = tuple[str, str, str]  # (unit id, scope, dimension)
START, END = datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC)


def _deep_tree() -> OrgTree:
    """Two förvaltningar, units with people of their own above the work groups, a lone deep chain."""
    parents = {
        "kommun": None,
        "f1": "kommun",
        "f2": "kommun",
        "v1": "f1",
        "v2": "f1",
        "v3": "f2",
        "e1": "v1",
        "e2": "v1",
        "e3": "v2",
        "e4": "v3",
        "g1": "e1",
        "g2": "e1",
        "g3": "e2",
        "g4": "e3",
        "g5": "e3",
        "g6": "e4",
        "deep": "g6",
    }
    return OrgTree.build(OrgUnit(u, u, p, None) for u, p in parents.items())


def _tenant(tree: str) -> Tenant:
    tenant = load_catalog(FIXTURE_CONFIG).tenants["testkommun"]
    return dataclasses.replace(tenant, org=_deep_tree()) if tree == "deep" else tenant


@pytest.mark.parametrize(("tree", "seed"), [(t, s) for t in ("fixture", "deep") for s in range(6)])
def test_incremental_rows_equal_a_full_rescore_after_every_batch(tree: str, seed: int) -> None:
    tenant = _tenant(tree)
    instrument = tenant.instruments["test-puls"]
    model = tenant.models["test-model"]
    key = SliceKey("testkommun", instrument.id, model.id, PERIOD)
    units = [*tenant.org.units, "not-in-the-org"]
    rng = random.Random(seed)
    live: dict[str, tuple[str, Contribution]] = {}  # submission id -> (unit, contribution)
    stored: dict[RowKey, ScoreRow] = {}
    sequences: dict[RowKey, int] = {}
    state: SliceState | None = None
    serial = 0
    for batch in range(40):
        delta = AggregateDelta()
        for _ in range(rng.randint(1, 9)):
            roll = rng.random()
            if live and roll < 0.25:  # retraction
                sid = rng.choice(sorted(live))
                unit, old = live.pop(sid)
                delta.add(GroupKey("testkommun", unit, instrument.id, model.id, PERIOD), old, -1)
                continue
            answers = {q: rng.choice((1, 2, 3, 4, 5, 5, 6)) for q in ("q1", "q2", "q3") if rng.random() < 0.9}
            c = contribution(instrument, model, answers or {"q1": 3})
            unit = rng.choice(units)
            if live and roll < 0.45:  # a correction, possibly to another unit
                sid = rng.choice(sorted(live))
                old_unit, old = live[sid]
                delta.add(GroupKey("testkommun", old_unit, instrument.id, model.id, PERIOD), old, -1)
            else:
                serial += 1
                sid = f"s{serial}"
            live[sid] = (unit, c)
            delta.add(GroupKey("testkommun", unit, instrument.id, model.id, PERIOD), c, +1)
        # Every other batch consumes its deltas as the store does: the figures must not tell the two apart.
        per_unit = deltas_by_slice(delta, consume=batch % 2 == 0).get(key, {})

        if state is None or batch % 13 == 7:  # cold: built from what the database holds, every group rescored
            state = SliceState.build(
                tenant,
                version=batch,
                period_start=START,
                period_end=END,
                direct=_unit_totals(live),
                rows=_grouped(stored, sequences),
            )
            changed, _ = rescore(tenant, key, state, None)
        else:
            touched = state.advance(tenant.org, per_unit)
            changed, _ = rescore(tenant, key, state, touched)
        _write(changed, stored, sequences)
        state.rows = _grouped(stored, sequences)

        _assert_stored_equals_full_rescore(tenant, key, live, stored, changed, batch)


def _assert_stored_equals_full_rescore(
    tenant: Tenant,
    key: SliceKey,
    live: Mapping[str, tuple[str, Contribution]],
    stored: Mapping[RowKey, ScoreRow],
    changed: list[tuple[ScoreRow, int]],
    batch: int,
) -> None:
    # A row is rewritten only when its headline figures change (details alone never cause an event),
    # so compare what the database comparison compares.
    full, _ = rescore_slice(tenant, key, reference_groups(tenant, live))
    expected = {(r.unit, r.scope, r.dimension): r for r in full}
    for row_key, row in expected.items():
        assert row_key in stored, (batch, row)
        assert _stored(stored[row_key], 0).same(row), (batch, row, stored[row_key])
    # Every other stored row is withdrawn: no respondents, no figures, a reason.
    for row_key, row in stored.items():
        if row_key not in expected:
            assert (row.respondents, row.publishable, row.index) == (0, False, None), (batch, row)
            want = "no_responses" if row.unit in tenant.org else "outside_org"
            assert row.suppression_reason == want, (batch, row)
    written = {(r.unit, r.scope, r.dimension): r for r, _ in changed}
    assert all(written[k] == r for k, r in expected.items() if k in written)


def _moved(tree: OrgTree, rng: random.Random) -> OrgTree:
    """The tree after a reorganisation: a unit moved under another, one removed, one added."""
    units = dict(tree.units)
    movable = [u for u in units if u != tree.root]
    unit = rng.choice(movable)
    below = set(tree.subtree(unit))
    unit_parent = rng.choice([u for u in units if u not in below])
    units[unit] = dataclasses.replace(units[unit], parent=unit_parent)
    leaves = [u for u in units if u != tree.root and not any(v.parent == u for v in units.values())]
    del units[rng.choice(leaves)]
    units["ny-enhet"] = OrgUnit("ny-enhet", "Ny enhet", tree.root, None)
    return OrgTree.build(units.values())


@pytest.mark.parametrize(("tree", "seed"), [(t, s) for t in ("fixture", "deep") for s in range(4)])
def test_a_new_org_version_rescored_whole_equals_a_full_rescore_against_it(tree: str, seed: int) -> None:
    """Rows written against one tree, then the slice rolled up whole against a reorganised tree: every
    group is as a from-scratch rescore against the new tree says, and rows of removed units are withdrawn."""
    before = _tenant(tree)
    instrument = before.instruments["test-puls"]
    model = before.models["test-model"]
    key = SliceKey("testkommun", instrument.id, model.id, PERIOD)
    rng = random.Random(seed)
    after = dataclasses.replace(before, org=_moved(before.org, rng))
    units = sorted(set(before.org.units) | set(after.org.units))
    live: dict[str, tuple[str, Contribution]] = {}
    for n in range(rng.randint(20, 80)):
        answers = {q: rng.choice((1, 2, 3, 4, 5, 6)) for q in ("q1", "q2", "q3")}
        live[f"s{n}"] = (rng.choice(units), contribution(instrument, model, answers))

    stored: dict[RowKey, ScoreRow] = {}
    sequences: dict[RowKey, int] = {}
    for batch, tenant in enumerate((before, after)):
        state = SliceState.build(
            tenant,
            version=batch,
            period_start=START,
            period_end=END,
            direct=_unit_totals(live),
            rows=_grouped(stored, sequences),
        )
        assert state.shape == tenant.org.shape
        changed, _ = rescore(tenant, key, state, None)
        _write(changed, stored, sequences)
        _assert_stored_equals_full_rescore(tenant, key, live, stored, changed, batch)
    assert before.org.shape != after.org.shape


def _unit_totals(live: Mapping[str, tuple[str, Contribution]]) -> dict[str, Totals]:
    """What the database holds per unit: every live contribution added once."""
    delta = AggregateDelta()
    for unit, c in live.values():
        delta.add(GroupKey("testkommun", unit, "test-puls", "test-model", PERIOD), c, +1)
    per_unit = deltas_by_slice(delta).get(SliceKey("testkommun", "test-puls", "test-model", PERIOD), {})
    out = {}
    for unit, d in per_unit.items():
        out[unit] = Totals()
        out[unit].add(d)
    return out


def _write(changed: list[tuple[ScoreRow, int]], stored: dict[RowKey, ScoreRow], sequences: dict[RowKey, int]) -> None:
    """Store what a rescoring changed, as the adapter does: a group (unit, scope) is written whole, with
    one sequence number above every one its dimensions had."""
    groups: dict[tuple[str, str], list[tuple[ScoreRow, int]]] = {}
    for row, sequence in changed:
        groups.setdefault((row.unit, row.scope), []).append((row, sequence))
    for (unit, scope), rows in groups.items():
        before = {k: n for k, n in sequences.items() if k[:2] == (unit, scope)}
        assert {sequence for _, sequence in rows} == {max(before.values(), default=0) + 1}
        assert {k[2] for k in before} <= {row.dimension for row, _ in rows}, "a group is rewritten whole"
        for row, sequence in rows:
            stored[(unit, scope, row.dimension)], sequences[(unit, scope, row.dimension)] = row, sequence


def _grouped(stored: Mapping[RowKey, ScoreRow], sequences: Mapping[RowKey, int]) -> dict[Group, dict[str, StoredRow]]:
    out: dict[Group, dict[str, StoredRow]] = {}
    for (unit, scope, dimension), row in stored.items():
        out.setdefault((unit, scope), {})[dimension] = _stored(row, sequences[(unit, scope, dimension)])
    return out


def _stored(row: ScoreRow, sequence: int) -> StoredRow:
    return StoredRow(row.respondents, row.publishable, row.index, row.standard_error, row.favourable_pct, sequence)


@pytest.mark.parametrize("policy", ["fewest_people", "smallest_part"])
def test_both_rescoring_paths_hide_what_the_tenants_complementary_suppression_chooses(policy: str) -> None:
    # docs/privacy.md's parent of teams of 11, 9 and 3, under a verksamhet with 2 people of its own
    # and a team of 8: fewest_people hides the parent's roll-up, smallest_part the teams of 9 and 8.
    fixture = _tenant("fixture")
    parents = {"v": None, "enhet": "v", "t11": "enhet", "t9": "enhet", "t3": "enhet", "t8": "v"}
    tenant = dataclasses.replace(
        fixture,
        org=OrgTree.build(OrgUnit(u, u, p, None) for u, p in parents.items()),
        config=fixture.config.model_copy(update={"complementary_suppression": policy}),
    )
    instrument = tenant.instruments["test-puls"]
    model = tenant.models["test-model"]
    key = SliceKey("testkommun", instrument.id, model.id, PERIOD)
    answers = contribution(instrument, model, {"q1": 4, "q2": 3, "q3": 5})
    sizes = {"v": 2, "t11": 11, "t9": 9, "t3": 3, "t8": 8}
    live = {f"{unit}-{n}": (unit, answers) for unit, size in sizes.items() for n in range(size)}
    state = SliceState.build(tenant, version=0, period_start=START, period_end=END, direct=_unit_totals(live), rows={})

    full, _ = rescore_slice(tenant, key, reference_groups(tenant, live))
    incremental, _ = rescore(tenant, key, state, None)

    for rows in (full, [row for row, _ in incremental]):
        differencing = {(r.unit, r.scope) for r in rows if r.suppression_reason == "differencing"}
        if policy == "fewest_people":
            assert differencing == {("enhet", "subtree")}
        else:
            assert differencing == {(u, scope) for u in ("t9", "t8") for scope in ("unit", "subtree")}


def test_consuming_a_batch_s_deltas_regroups_the_same_totals_and_leaves_only_the_periods() -> None:
    tenant = load_catalog(FIXTURE_CONFIG).tenants["testkommun"]
    instrument, model = tenant.instruments["test-puls"], tenant.models["test-model"]
    rng = random.Random(7)

    def batch() -> AggregateDelta:
        delta = AggregateDelta()
        for n in range(200):
            c = contribution(instrument, model, {q: rng.choice((1, 3, 5, 6)) for q in ("q1", "q2", "q3")})
            delta.add(GroupKey("testkommun", f"unit-{n % 9}", instrument.id, model.id, PERIOD), c, 1 if n % 5 else -1)
        return delta

    state = rng.getstate()
    kept = deltas_by_slice(batch())
    rng.setstate(state)
    consumed_delta = batch()
    periods = dict(consumed_delta.periods)
    consumed = deltas_by_slice(consumed_delta, consume=True)
    assert consumed == kept
    assert consumed_delta.groups == {}, "each group's delta is taken out as it is regrouped"
    assert consumed_delta.periods == periods, "the periods stay: the store reads their ends after"
