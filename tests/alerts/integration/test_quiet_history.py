"""Importing a year of history: every transition recorded, nothing sent about old periods; the alerts still
open notify once at their current level, and HR gets one summary. Real PostgreSQL, a real SMTP server,
the service's clock set months after the imported periods."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from tempen_alerts.adapters.postgres import PostgresAlertReader, PostgresAlertsStore, PostgresLinkStore
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.sweeper import sweep_once
from tests.alerts.integration.support import (
    GRUPP_B1,
    IMPORTED_AT,
    LEVEL_TWO,
    NEXT_LEVEL,
    UNIT_MANAGER,
    SettableClock,
    SmtpSink,
    alerts_service,
    alerts_store,
    deliver_all,
    import_2025,
    quiet_history_catalog,
    smtp_notifier,
    unit_scores,
    with_tenant_settings,
)
from tests.support import eventually

pytestmark = pytest.mark.integration

HR = "hr@testkommun.example"
GROUP_B1_MANAGER = "dan@testkommun.example"
SETTLE_MINUTES = 10  # AlertsService's default: no quiet transition for this long ends the import


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresAlertsStore]:
    async with alerts_store(database_url) as opened:
        yield opened


def _plain(message: object) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())  # type: ignore[attr-defined]


async def test_a_year_of_imported_history_sends_nothing_old_and_each_open_alert_once_at_its_level(
    store: PostgresAlertsStore,
) -> None:
    clock = SettableClock(IMPORTED_AT)
    service = alerts_service(clock, catalog=quiet_history_catalog())
    metrics = AlertsMetrics(CollectorRegistry())
    await import_2025(store)

    made = await sweep_once(store, service, metrics)
    assert sorted(made) == sorted(["open", "escalated", "open", "resolved"]), made
    clock.advance(minutes=SETTLE_MINUTES - 1)
    assert await sweep_once(store, service, metrics) == []
    waiting = await store.pool.fetchval("SELECT count(*) FROM alerts.notifications")
    clock.advance(minutes=1)
    await sweep_once(store, service, metrics)
    clock.advance(days=1)
    await sweep_once(store, service, metrics)  # again, later: the summary is made once

    with SmtpSink() as sink:
        await eventually(lambda: deliver_all(smtp_notifier(store, sink, metrics), store), timeout_s=20)

    subjects = [(str(m["To"]), str(m["Subject"])) for m in sink.messages]
    assert sink.to(NEXT_LEVEL) == [], f"level 1 of grupp-a1 was only in the history: {subjects}"
    assert sink.to(GROUP_B1_MANAGER) == [], f"grupp-b1's alert opened and resolved in the history: {subjects}"
    assert waiting == 0, "nothing is queued while the import may still be running"

    [to_level_two] = sink.to(LEVEL_TWO)
    assert "importerade" in str(to_level_two["Subject"]).lower(), str(to_level_two["Subject"])
    body = _plain(to_level_two)
    assert "nivå 2" in body
    assert "2025-06: öppnat på nivå 1" in body, body
    assert "2025-08: eskalerat till nivå 2" in body, body
    # Why, as the escalation the import made explained it then, in Swedish.
    assert "Vad vi såg och hur säkra vi är:" in body, body
    assert "När ärendet nådde nivå 1 var indexet 41,0 (2025-06). Efter två månader är det 41,0 (2025-08), " in body
    assert "Därför har det gått vidare till nivå 2." in body, body
    [informed] = sink.to(UNIT_MANAGER)
    assert "För kännedom" in str(informed["Subject"])

    [summary] = sink.to(HR)
    text = _plain(summary)
    open_now = text.split("Öppna ärenden nu:")[1].split("\n\n")[0]
    assert "Grupp A1 – Ledarskap: eskalerat, nivå 2 (Kim Kommundirektör), öppnat 2025-06" in open_now, text
    assert "Grupp B1" not in open_now, text
    assert "4 övergångar" in text, text

    history = await store.pool.fetch("SELECT to_state, notified, quiet_reason FROM alerts.transitions")
    assert len(history) == 4
    assert all(not h["notified"] and "closed on" in h["quiet_reason"] for h in history), history
    assert await store.pool.fetchval("SELECT count(*) FROM alerts.notifications") == 3

    # What the API's GET .../alerts/{id} shows as the alert's history.
    a1 = await store.pool.fetchval("SELECT alert_id FROM alerts.alerts WHERE unit = 'grupp-a1'")
    shown = await PostgresAlertReader(lambda: store.pool).transitions(a1)
    assert [(h["to_state"], h["level"], h["period"], h["notified"]) for h in shown] == [
        ("open", 1, "2025-06", False),
        ("escalated", 2, "2025-08", False),
    ]
    assert shown[0]["quiet_reason"].startswith("history: 2025-06 closed on 2025-07-01, 252 day(s) before")

    # HR's summary carries API addresses, not a personal link: `tempen links list` does not offer it.
    links = PostgresLinkStore(lambda: store.pool)
    assert await links.links_of("testkommun", HR) == []
    assert [link["recipient_role"] for link in await links.links_of("testkommun", LEVEL_TWO)] != []


async def test_a_crash_while_summarising_sends_nothing_and_the_next_sweep_summarises_once(
    store: PostgresAlertsStore,
) -> None:
    clock = SettableClock(IMPORTED_AT)
    service = alerts_service(clock, catalog=quiet_history_catalog())
    metrics = AlertsMetrics(CollectorRegistry())
    await import_2025(store)
    await sweep_once(store, service, metrics)
    clock.advance(minutes=SETTLE_MINUTES)

    [history_import] = await store.pool.fetch("SELECT import_id FROM alerts.history_imports")

    async def summarise_then_crash() -> None:
        async with store.transaction() as repo:
            assert await service.summarise_history(repo, history_import["import_id"], now=clock()) is True
            raise RuntimeError("crashed before the commit")

    with pytest.raises(RuntimeError, match="crashed"):
        await summarise_then_crash()
    assert await store.pool.fetchval("SELECT count(*) FROM alerts.notifications") == 0
    assert await store.pool.fetchval("SELECT summarised_at IS NULL FROM alerts.history_imports")

    await sweep_once(store, service, metrics)
    queued = await store.pool.fetch("SELECT notification_id, recipient FROM alerts.notifications")
    assert sorted(r["recipient"] for r in queued) == sorted([LEVEL_TWO, UNIT_MANAGER, HR])
    async with store.transaction() as repo:  # a second sweeper (another replica) that read the import too
        assert await service.summarise_history(repo, history_import["import_id"], now=clock()) is False
    await sweep_once(store, service, metrics)
    assert await store.pool.fetch("SELECT notification_id, recipient FROM alerts.notifications") == queued


async def test_a_backfill_up_to_last_month_tells_an_alert_nobody_heard_of_once_as_found_in_history(
    store: PostgresAlertsStore,
) -> None:
    # Imported on 20 January 2026: December closed 19 days ago and is news; the months before are history.
    clock = SettableClock(datetime(2026, 1, 20, 8, 0, tzinfo=UTC))
    service = alerts_service(clock, catalog=quiet_history_catalog())
    metrics = AlertsMetrics(CollectorRegistry())
    low_from_september = [75, 76, 74, 75, 76, 75, 74, 75, 40, 41, 42, 41]  # opens on October, escalates on December
    async with store.transaction() as repo:
        for number, (a1, b1) in enumerate(zip(low_from_september, GRUPP_B1, strict=True), start=1):
            await repo.upsert_scores(
                [
                    *unit_scores(2025, number, a1, dimensions=("ledarskap",)),
                    *unit_scores(2025, number, b1, unit="grupp-b1", dimensions=("ledarskap",)),
                ]
            )
    assert sorted(await sweep_once(store, service, metrics)) == sorted(["open", "escalated", "open", "resolved"])
    clock.advance(minutes=SETTLE_MINUTES)
    await sweep_once(store, service, metrics)

    with SmtpSink() as sink:
        await eventually(lambda: deliver_all(smtp_notifier(store, sink, metrics), store), timeout_s=20)

    subjects = [(str(m["To"]), str(m["Subject"])) for m in sink.messages]
    assert sink.to(NEXT_LEVEL) == [], f"level 1 never heard of it, and is not told now: {subjects}"
    [to_level_two] = sink.to(LEVEL_TWO)
    assert "Öppet ärende i importerade resultat" in str(to_level_two["Subject"]), subjects
    body = _plain(to_level_two)
    assert "2025-10: öppnat på nivå 1" in body, body
    assert "2025-12: eskalerat till nivå 2" in body, body
    assert "Eskalerat" not in str(to_level_two["Subject"]), "level 1 was never told, so it did not fail to act"
    assert len(sink.to(UNIT_MANAGER)) == 1
    assert sink.to(GROUP_B1_MANAGER) == []
    [summary] = sink.to(HR)
    assert "3 övergångar" in _plain(summary), "the recent escalation notified; the three others were history"
    escalation = await store.pool.fetchrow("SELECT notified, quiet_reason FROM alerts.transitions WHERE level = 2")
    assert (escalation["notified"], escalation["quiet_reason"]) == (True, None)


async def test_an_alert_that_went_to_hr_within_the_history_is_told_when_it_recovers_later(
    store: PostgresAlertsStore,
) -> None:
    # grupp-a1 stays at 41 after August, so within the history it also goes past the top of its chain to HR.
    # With no copies to unit managers, HR's summary is the only word of it anyone gets; its recovery in
    # January 2026 is news, not history, and HR must hear of it (it used to count as "never told", so the
    # resolution was silenced and HR got a second summary of an import that never happened).
    clock = SettableClock(IMPORTED_AT)
    catalog = with_tenant_settings(quiet_history_catalog(), alert_policy={"inform_unit_manager": False})
    service = alerts_service(clock, catalog=catalog)
    metrics = AlertsMetrics(CollectorRegistry())
    async with store.transaction() as repo:
        for number, value in enumerate([75, 76, 74, 75, 40, 41, 42, 41, 41, 41, 41, 41], start=1):
            await repo.upsert_scores(unit_scores(2025, number, value, dimensions=("ledarskap",)))
    assert "escalated" in await sweep_once(store, service, metrics)
    levels = await store.pool.fetch("SELECT level FROM alerts.transitions ORDER BY seq")
    assert max(r["level"] for r in levels) == 3, "the alert went past level 2, the top of grupp-a1's chain, to HR"
    clock.advance(minutes=SETTLE_MINUTES)
    await sweep_once(store, service, metrics)  # the summary

    async with store.transaction() as repo:
        await repo.upsert_scores(unit_scores(2026, 1, 80, dimensions=("ledarskap",)))
    assert await sweep_once(store, service, metrics) == ["resolved"]
    clock.advance(minutes=SETTLE_MINUTES)
    await sweep_once(store, service, metrics)

    with SmtpSink() as sink:
        await eventually(lambda: deliver_all(smtp_notifier(store, sink, metrics), store), timeout_s=20)
    subjects = [str(m["Subject"]) for m in sink.to(HR)]
    assert len(subjects) == 2, subjects
    assert sum("Återhämtat" in subject for subject in subjects) == 1, subjects
    assert sum("importerade" in subject.lower() for subject in subjects) == 1, subjects
