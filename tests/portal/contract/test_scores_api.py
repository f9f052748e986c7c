"""The contract of `ports.ScoresApi`: what the portal may expect of scoring, asked of the fake and of
the real service alike (see worlds.py). A block per method; add yours at the end."""

from __future__ import annotations

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
