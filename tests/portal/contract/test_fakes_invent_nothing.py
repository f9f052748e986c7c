"""The fakes answer nothing the real services do not: every key of a fake's answer, at every depth,
is one the real service's answer has too. A page tested only against a fake field would break on
the real one; this fails first."""

from __future__ import annotations

from typing import Any

import pytest

from tests.portal.contract.worlds import DIMENSION, MANAGER, MODEL, TENANT, UNIT, FakeWorld, RealWorld

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]


def _paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON-like value: `history[].to_state`, lists merged."""
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in {f"{prefix}{k}", *_paths(v, f"{prefix}{k}.")}}
    if isinstance(value, list):
        return {p for item in value for p in _paths(item, prefix.rstrip(".") + "[].")}
    return set()


async def test_the_fake_alert_and_series_use_only_keys_the_real_ones_have(real_world: RealWorld) -> None:
    fake = FakeWorld()
    fake_alert = await fake.alerts.alert(TENANT, fake.open_alert().alert_id)
    real_alert = await real_world.alerts.alert(TENANT, real_world.any_alert().alert_id)
    assert fake_alert is not None
    assert real_alert is not None
    assert _paths(fake_alert) - _paths(real_alert) == set()

    query = {"model": MODEL, "dimension": DIMENSION, "scope": "unit"}
    fake_series = await fake.scores.unit_series(TENANT, UNIT, **query)
    real_series = await real_world.scores.unit_series(TENANT, UNIT, **query)
    assert fake_series is not None
    assert real_series is not None
    assert _paths(fake_series) - _paths(real_series) == set()


async def test_the_fake_plan_list_and_overview_answers_use_only_keys_the_real_ones_have(real_world: RealWorld) -> None:
    fake = FakeWorld()
    pairs: list[tuple[Any, Any]] = []
    for world in (fake, real_world):
        known = world.any_alert() if world is real_world else world.open_alert()
        await world.alerts.acknowledge(
            TENANT, known.alert_id, action_plan="Samtal med gruppen", follow_up_date=None, by=MANAGER
        )
        await world.alerts.comment_on_plan(TENANT, known.alert_id, text="Första samtalet hölls", by=MANAGER)
    fake_alert = await fake.alerts.alert(TENANT, fake.alerts.acknowledged[-1][1])
    real_alert = await real_world.alerts.alert(TENANT, real_world.any_alert().alert_id)
    assert fake_alert is not None
    assert real_alert is not None
    pairs.append((fake_alert["plan"], real_alert["plan"]))
    pairs.append(
        (
            await fake.alerts.alerts_in_state(TENANT, "acknowledged"),
            await real_world.alerts.alerts_in_state(TENANT, "acknowledged"),
        )
    )
    overviews = [
        await scores.tenant_scores(TENANT, model=MODEL, period=None, periods=4, scope="unit", units=[UNIT])
        for scores in (fake.scores, real_world.scores)
    ]
    pairs.append((overviews[0], overviews[1]))
    pairs.append(
        (await fake.scores.hidden_units(TENANT, model=MODEL), await real_world.scores.hidden_units(TENANT, model=MODEL))
    )
    for fake_answer, real_answer in pairs:
        assert fake_answer
        assert real_answer
        assert _paths(fake_answer) - _paths(real_answer) == set()
