"""The contract of `ports.AlertsApi`: what the portal may expect of alerts, asked of the fake and of the
real service alike (see worlds.py). A block per method; add yours at the end."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.portal.contract.worlds import MANAGER, TENANT, UNIT, World

# What the portal reads of an alert (entrypoints/web.py and its templates).
ALERT_KEYS = {"alert_id", "unit", "model", "dimension", "state", "level", "action_plan", "opened_at", "history",
              "notifications"}  # fmt: skip
HISTORY_KEYS = {"from_state", "to_state", "level", "rule", "period", "actor", "created_at"}
NOTIFICATION_KEYS = {"notification_id", "recipient", "recipient_role", "channel", "state", "created_at", "sent_at",
                     "link_revoked_at"}  # fmt: skip


def _keys(answer: Mapping[str, Any]) -> set[str]:
    return set(answer)


# --- alert ---------------------------------------------------------------------------------------


async def test_an_alert_has_what_the_pages_read(world: World) -> None:
    known = world.any_alert()
    alert = await world.alerts.alert(TENANT, known.alert_id)
    assert alert is not None
    assert _keys(alert) >= ALERT_KEYS
    assert alert["alert_id"] == known.alert_id
    assert alert["unit"] == UNIT
    assert alert["state"] in ("open", "acknowledged", "escalated", "resolved")
    assert alert["history"], "at least its opening"
    assert all(_keys(h) >= HISTORY_KEYS for h in alert["history"])
    assert alert["history"][0]["to_state"] == "open"
    told = [n for n in alert["notifications"] if n["notification_id"] == known.notification_id]
    assert len(told) == 1
    assert _keys(told[0]) >= NOTIFICATION_KEYS
    assert told[0]["recipient"].lower() == MANAGER
    assert told[0]["channel"] != "webhook"


async def test_an_unknown_alert_or_tenant_is_none(world: World) -> None:
    assert await world.alerts.alert(TENANT, "no-such-alert") is None
    assert await world.alerts.alert("no-such-tenant", world.any_alert().alert_id) is None


# --- acknowledge ---------------------------------------------------------------------------------


async def test_acknowledging_records_the_plan_and_a_second_time_replaces_it(world: World) -> None:
    known = world.open_alert()
    done = await world.alerts.acknowledge(
        TENANT, known.alert_id, action_plan="Samtal med gruppen", follow_up_date=None, by=MANAGER
    )
    assert done.done
    alert = await world.alerts.alert(TENANT, known.alert_id)
    assert alert is not None
    assert alert["state"] == "acknowledged"
    assert alert["action_plan"] == "Samtal med gruppen"
    again = await world.alerts.acknowledge(
        TENANT, known.alert_id, action_plan="Workshop i maj", follow_up_date=None, by=MANAGER
    )
    assert again.done, "an acknowledged alert takes a new plan; only a resolved one is over"
    alert = await world.alerts.alert(TENANT, known.alert_id)
    assert alert is not None
    assert alert["action_plan"] == "Workshop i maj"


async def test_a_plan_too_short_is_refused_naming_the_field(world: World) -> None:
    known = world.any_alert()
    refused = await world.alerts.acknowledge(TENANT, known.alert_id, action_plan="ok", follow_up_date=None, by=MANAGER)
    assert not refused.done
    assert [e["field"] for e in refused.errors] == ["action_plan"]


async def test_acknowledging_an_unknown_alert_is_not_found(world: World) -> None:
    outcome = await world.alerts.acknowledge(
        TENANT, "no-such-alert", action_plan="Samtal med gruppen", follow_up_date=None, by=MANAGER
    )
    assert (outcome.done, outcome.not_found) == (False, True)


# --- ready ---------------------------------------------------------------------------------------


async def test_alerts_is_ready(world: World) -> None:
    assert await world.alerts.ready() is True


# --- revoked_links (deploy branch) ---------------------------------------------------------------


async def test_a_revoked_link_is_listed_from_its_revocation_on_and_its_alert_says_so(world: World) -> None:
    known = world.any_alert()
    before = datetime.now(UTC) - timedelta(minutes=1)
    assert known.notification_id not in await world.alerts.revoked_links(TENANT, since=before)
    await world.revoke_link(known.notification_id)
    assert known.notification_id in await world.alerts.revoked_links(TENANT, since=before)
    assert known.notification_id not in await world.alerts.revoked_links(
        TENANT, since=datetime.now(UTC) + timedelta(minutes=1)
    ), "only revocations since the time asked"
    alert = await world.alerts.alert(TENANT, known.alert_id)
    assert alert is not None
    told = next(n for n in alert["notifications"] if n["notification_id"] == known.notification_id)
    assert told["link_revoked_at"]
