"""The contract of `ports.AlertsApi`: what the portal may expect of alerts, asked of the fake and of the
real service alike (see worlds.py). A block per method; add yours at the end."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
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


# --- revise_plan ---------------------------------------------------------------------------------

PLAN_KEYS = {"current", "revisions", "comments", "takes_changes"}
REVISION_KEYS = {"revision", "what", "owner", "due_date", "status", "written_by", "written_at"}


async def _plan(world: World, alert_id: str) -> Mapping[str, Any]:
    alert = await world.alerts.alert(TENANT, alert_id)
    assert alert is not None
    assert _keys(alert["plan"]) >= PLAN_KEYS
    plan: Mapping[str, Any] = alert["plan"]
    return plan


async def _opened_on(world: World, alert_id: str) -> date:
    alert = await world.alerts.alert(TENANT, alert_id)
    assert alert is not None
    return datetime.fromisoformat(alert["opened_at"]).date()


async def test_a_plan_revision_is_recorded_and_the_same_one_sent_twice_adds_nothing(world: World) -> None:
    known = world.any_alert()
    await world.alerts.acknowledge(
        TENANT, known.alert_id, action_plan="Samtal med gruppen", follow_up_date=None, by=MANAGER
    )
    before = len((await _plan(world, known.alert_id))["revisions"])
    due = (await _opened_on(world, known.alert_id) + timedelta(days=30)).isoformat()
    change = {"what": "Samtal varje vecka", "owner": "Bo Berg", "due_date": due, "status": "in_progress"}
    done = await world.alerts.revise_plan(TENANT, known.alert_id, **change, by=MANAGER)
    assert done.done, done.errors
    plan = await _plan(world, known.alert_id)
    assert len(plan["revisions"]) == before + 1
    assert _keys(plan["current"]) >= REVISION_KEYS
    assert {k: plan["current"][k] for k in change} == change
    assert plan["current"]["written_by"] == MANAGER
    assert plan["current"]["revision"] == before + 1
    again = await world.alerts.revise_plan(TENANT, known.alert_id, **change, by=MANAGER)
    assert again.done, "a form sent twice is not an error"
    assert len((await _plan(world, known.alert_id))["revisions"]) == before + 1, "and writes no revision"
    kept = await world.alerts.revise_plan(
        TENANT, known.alert_id, what=None, owner=None, due_date=None, status="done", by=MANAGER
    )
    assert kept.done
    current = (await _plan(world, known.alert_id))["current"]
    assert (current["what"], current["owner"], current["due_date"], current["status"]) == (
        "Samtal varje vecka",
        "Bo Berg",
        due,
        "done",
    ), "a part left out stays as it was"


async def test_a_plan_part_out_of_bounds_is_refused_naming_it(world: World) -> None:
    known = world.any_alert()
    await world.alerts.acknowledge(
        TENANT, known.alert_id, action_plan="Samtal med gruppen", follow_up_date=None, by=MANAGER
    )
    opened_on = await _opened_on(world, known.alert_id)
    refusals = {
        "what": {"what": "x"},
        "due_date": {"due_date": (opened_on - timedelta(days=1)).isoformat()},
    }
    for field_name, part in refusals.items():
        change: dict[str, str | None] = {"what": None, "owner": None, "due_date": None, "status": None, **part}
        refused = await world.alerts.revise_plan(TENANT, known.alert_id, **change, by=MANAGER)
        assert not refused.done
        assert [e["field"] for e in refused.errors] == [field_name]


async def test_revising_an_unknown_alert_or_tenant_is_not_found(world: World) -> None:
    change = {"what": "Samtal varje vecka", "owner": "Bo Berg", "due_date": None, "status": None}
    outcome = await world.alerts.revise_plan(TENANT, "no-such-alert", **change, by=MANAGER)
    assert (outcome.done, outcome.not_found) == (False, True)
    outcome = await world.alerts.revise_plan("no-such-tenant", world.any_alert().alert_id, **change, by=MANAGER)
    assert (outcome.done, outcome.not_found) == (False, True)


# --- comment_on_plan -----------------------------------------------------------------------------


async def test_a_comment_is_added_to_the_plan_after_the_others(world: World) -> None:
    known = world.any_alert()
    before = list((await _plan(world, known.alert_id))["comments"])
    done = await world.alerts.comment_on_plan(TENANT, known.alert_id, text="  Första samtalet hölls  ", by=MANAGER)
    assert done.done, done.errors
    comments = (await _plan(world, known.alert_id))["comments"]
    assert comments[:-1] == before
    assert _keys(comments[-1]) >= {"text", "written_by", "written_at"}
    assert (comments[-1]["text"], comments[-1]["written_by"]) == ("Första samtalet hölls", MANAGER)


async def test_a_comment_too_short_is_refused_and_an_unknown_alert_is_not_found(world: World) -> None:
    refused = await world.alerts.comment_on_plan(TENANT, world.any_alert().alert_id, text=" x ", by=MANAGER)
    assert not refused.done
    assert [e["field"] for e in refused.errors] == ["text"]
    outcome = await world.alerts.comment_on_plan(TENANT, "no-such-alert", text="Första samtalet", by=MANAGER)
    assert (outcome.done, outcome.not_found) == (False, True)


# --- alerts_in_state -----------------------------------------------------------------------------

LISTED_KEYS = {"alert_id", "unit", "model", "dimension", "state", "level", "action_plan", "opened_at", "plan_status"}


async def test_the_alerts_in_a_state_carry_their_plan_s_status_and_no_history(world: World) -> None:
    known = world.any_alert()
    await world.alerts.acknowledge(
        TENANT, known.alert_id, action_plan="Samtal med gruppen", follow_up_date=None, by=MANAGER
    )
    plan = await _plan(world, known.alert_id)
    listed = await world.alerts.alerts_in_state(TENANT, "acknowledged")
    rows = [a for a in listed if a["alert_id"] == known.alert_id]
    assert len(rows) == 1
    assert _keys(rows[0]) >= LISTED_KEYS
    assert not _keys(rows[0]) & {"history", "notifications", "plan"}
    assert rows[0]["state"] == "acknowledged"
    assert rows[0]["plan_status"] == plan["current"]["status"]
    assert all(a["state"] == "acknowledged" for a in listed)
    assert known.alert_id not in {a["alert_id"] for a in await world.alerts.alerts_in_state(TENANT, "open")}
