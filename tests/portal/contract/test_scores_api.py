"""The contract of `ports.ScoresApi`: what the portal may expect of scoring, asked of the fake and of
the real service alike (see worlds.py). A block per method; add yours at the end."""

from __future__ import annotations

from tempen_portal.ports import Refusal
from tests.portal.contract.worlds import DIMENSION, MODEL, TENANT, UNIT, World

SERIES_KEYS = {"model", "dimension", "scope", "points"}

# --- unit_series ---------------------------------------------------------------------------------


async def test_a_unit_s_series_has_periods_with_an_index_or_marked_suppressed_never_both(world: World) -> None:
    answer = await world.scores.unit_series(TENANT, UNIT, model=MODEL, dimension=DIMENSION, scope="unit")
    assert answer is not None
    series = [s for s in answer["series"] if s["dimension"] == DIMENSION and s["scope"] == "unit"]
    assert len(series) == 1
    assert set(series[0]) >= SERIES_KEYS
    points = series[0]["points"]
    assert points
    for point in points:
        assert isinstance(point["period"], str)
        if point["suppressed"]:
            assert "index" not in point, "a suppressed period carries no figure"
            assert "respondents" not in point
        else:
            assert isinstance(point["index"], float | int)
    assert [p["period"] for p in points] == sorted(p["period"] for p in points), "oldest first"


async def test_an_unknown_unit_or_tenant_is_none(world: World) -> None:
    assert (
        await world.scores.unit_series(TENANT, "no-such-unit", model=MODEL, dimension=DIMENSION, scope="unit") is None
    )
    assert (
        await world.scores.unit_series("no-such-tenant", UNIT, model=MODEL, dimension=DIMENSION, scope="unit") is None
    )


# --- ready ---------------------------------------------------------------------------------------


async def test_scoring_is_ready(world: World) -> None:
    assert await world.scores.ready() is True


# --- hme_report ----------------------------------------------------------------------------------


async def test_a_tenant_without_an_hme_instrument_or_unknown_has_no_hme_report(world: World) -> None:
    # tests/fixtures/config measures no HME: scoring answers 404, the port None (the page says so).
    assert await world.scores.hme_report(TENANT, rounds=3) is None
    assert await world.scores.hme_report("no-such-tenant", rounds=3) is None


# --- tenant_scores -------------------------------------------------------------------------------

TENANT_SCORES_KEYS = {"tenant", "model", "period", "periods", "scored_periods", "min_group_size", "units"}


async def test_tenant_scores_give_the_units_asked_for_over_the_periods_asked_for(world: World) -> None:
    answer = await world.scores.tenant_scores(TENANT, model=MODEL, period=None, periods=4, scope="unit", units=[UNIT])
    assert not isinstance(answer, Refusal), answer
    assert set(answer) >= TENANT_SCORES_KEYS
    keys = answer["periods"]
    assert 1 <= len(keys) <= 4
    assert keys == sorted(keys), "oldest first"
    assert answer["period"] == keys[-1]
    assert [u["unit"] for u in answer["units"]] == [UNIT]
    unit = answer["units"][0]
    assert unit["scope"] == "unit"
    assert unit["unit_name"] == "Grupp A1"
    assert {p["period"] for p in unit["periods"]} <= set(keys)
    published = [p for p in unit["periods"] if p["published"]]
    hidden = [p for p in unit["periods"] if not p["published"]]
    assert published, "three months of eight answers"
    assert hidden, "a month of three answers"
    for point in published:
        assert isinstance(point["respondents"], int)
        assert point["respondents"] >= answer["min_group_size"]
    for point in hidden:
        assert "respondents" not in point
        assert "response_rate" not in point
    for point in unit["periods"]:
        for cell in point["dimensions"].values():
            assert ("index" in cell) != bool(cell.get("suppressed")), "an index or suppressed, never both"
            if cell.get("suppressed"):
                assert set(cell) == {"suppressed", "reason"}, "a hidden cell says only why"

    last = await world.scores.tenant_scores(TENANT, model=MODEL, period=keys[-2], periods=1, scope="unit", units=[UNIT])
    assert not isinstance(last, Refusal), last
    assert (last["period"], last["periods"]) == (keys[-2], [keys[-2]])
    assert all(p["period"] == keys[-2] for u in last["units"] for p in u["periods"])


async def test_tenant_scores_refuse_a_period_not_closed_and_a_unit_not_in_the_organisation(world: World) -> None:
    refused = await world.scores.tenant_scores(
        TENANT, model=MODEL, period="2999-01", periods=1, scope="unit", units=None
    )
    assert isinstance(refused, Refusal)
    assert [e["field"] for e in refused.errors] == ["period"]
    refused = await world.scores.tenant_scores(
        TENANT, model=MODEL, period=None, periods=1, scope="unit", units=["no-such-unit"]
    )
    assert isinstance(refused, Refusal)
    assert [e["field"] for e in refused.errors] == ["units"]


# --- hidden_units --------------------------------------------------------------------------------

HIDDEN_KEYS = {"tenant", "min_group_size", "sustained_periods", "reports"}
HIDDEN_REPORT_KEYS = {"instrument", "model", "cadence", "periods", "units"}


async def test_the_hidden_units_report_is_per_model_and_counts_no_one(world: World) -> None:
    answer = await world.scores.hidden_units(TENANT, model=MODEL)
    assert set(answer) >= HIDDEN_KEYS
    assert answer["tenant"] == TENANT
    assert answer["reports"]
    for report in answer["reports"]:
        assert set(report) >= HIDDEN_REPORT_KEYS
        assert report["model"] == MODEL
        assert all(set(p) == {"period", "measured"} for p in report["periods"])
        assert any(p["measured"] for p in report["periods"]), "the pulses were measured"
        for unit in report["units"]:
            assert not {"respondents", "index"} & set(unit), "never a respondent count"
