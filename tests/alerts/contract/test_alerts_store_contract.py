"""What alerts' store does, whatever it is built on: one behaviour spec of `AlertsStore` (and the
`AlertsRepository` its transactions yield), `AlertReader`, `PeriodScoreReader` and `LinkStore`, held by the
in-memory fakes (tests/alerts/fakes.py) and by PostgreSQL. A few cases go through `AlertsService`, so the
fake is held to what the use cases need of it, not only to what each method returns. At the end, fakes that
are wrong on purpose show that the suite catches a fake that drifts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from tempen_alerts.adapters.postgres import PostgresAlertReader, PostgresLinkStore
from tempen_alerts.domain.backtest import SeriesId
from tempen_alerts.domain.history import TimelineEntry
from tempen_alerts.domain.plans import Plan, PlanChange, PlanComment, PlanRevision
from tempen_alerts.domain.rules import AlertSnapshot
from tempen_alerts.metrics import AlertsMetrics
from tempen_alerts.ports import (
    HR_SUMMARY_ROLE,
    AlertReader,
    AlertsRepository,
    AlertsStore,
    LinkStore,
    NotificationRow,
    PeriodScoreReader,
    PlanReminder,
    SeriesKey,
)
from tempen_alerts.sweeper import sweep_once
from tempen_shared.clock import utc_now
from tempen_shared.consumer import PartitionFencedError
from tempen_shared.db import StoreUnavailableError
from tempen_shared.events import AlertTransitioned, UnitScored
from tempen_shared.events.wire import UnitScoredRecord, read_unit_scored
from tempen_shared.outbox import OutboxMessage
from tempen_shared.positions import Claim, Partition, Position
from tests.alerts.fakes import InMemoryAlertsRepository, InMemoryAlertsStore, InMemoryLinkStore
from tests.alerts.integration.support import (
    NEXT_LEVEL,
    TENANT,
    UNIT,
    SettableClock,
    alerts_service,
    alerts_store,
    fixture_catalog,
    month,
    unit_scores,
)

OTHER_TENANT = "annan-kommun"
CATALOG = fixture_catalog()
JAN_START, JAN_END = month(2026, 1)[1:]
FEB_END, MAR_END, APR_END = (month(2026, n)[2] for n in (2, 3, 4))  # March ends when April begins
OPENED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # January and February 2026 were challenged
GROUP, TOPIC, CLUSTER = "alerts", "test.tempen.scores", "kafka-1"  # a consumer's positions


def key(dimension: str = "ledarskap", *, unit: str = UNIT, tenant: str = TENANT) -> SeriesKey:
    return SeriesKey(tenant, unit, "test-puls", "test-model", dimension)


KEY = key()


def snapshot(state: str = "open", *, level: int = 1, opened_at: datetime = OPENED, **changes: Any) -> AlertSnapshot:
    if state == "acknowledged":
        changes.setdefault("acknowledged_at", opened_at)
    if state == "escalated":
        changes.setdefault("last_escalated_at", opened_at)
    return AlertSnapshot(
        state=state,  # type: ignore[arg-type]  # the cases name states as the schema does
        level=level,
        opened_period="2026-02",
        opened_at=opened_at,
        baseline_period="2026-02",
        baseline_index=41.0,
        **changes,
    )


def email(recipient: str, *, role: str = "next_level", channel: str = "email") -> NotificationRow:
    return NotificationRow(
        notification_id=uuid4(),
        channel=channel,
        recipient=recipient,
        recipient_role=role,
        subject=f"Ärende till {recipient}",
        body_text="text",
        body_html="<p>html</p>",
    )


def revision(number: int, *, due: date | None = date(2026, 3, 10), status: str = "in_progress") -> PlanRevision:
    return PlanRevision(
        revision=number,
        what=f"Prata i APT, version {number}",
        owner="Bo Ek",
        due=due,
        status=status,  # type: ignore[arg-type]  # as the schema's check names them
        written_by=NEXT_LEVEL,
        written_at=OPENED + timedelta(days=number),
    )


async def transition(
    repo: AlertsRepository,
    alert_id: str,
    *,
    to_state: str = "open",
    quiet_reason: str | None = None,
    history_import: UUID | None = None,
    period: str = "2026-02",
    tenant: str = TENANT,
) -> UUID:
    transition_id = uuid4()
    await repo.add_transition(
        transition_id=transition_id,
        alert_id=alert_id,
        tenant=tenant,
        from_state=None if to_state == "open" else "open",
        to_state=to_state,
        level=1,
        rule="sustained_challenge",
        reason=f"{to_state} in {period}",
        period=period,
        actor="tempen",
        evidence=[{"period": period, "index": 41.0, "respondents": 8}],
        correlation_id=f"{tenant}:s-1",
        quiet_reason=quiet_reason,
        history_import=history_import,
        explanation={"kind": "opened", "index": 41.0},
    )
    return transition_id


async def opened(
    store: AlertsStore, alert_id: str = "a1", series: SeriesKey = KEY, *, notify: tuple[str, ...] = ()
) -> UUID:
    """An open alert with its opening transition (and notifications to `notify`), committed."""
    async with store.transaction() as repo:
        await repo.save_alert(alert_id, series, snapshot(), now=OPENED)
        transition_id = await transition(repo, alert_id, tenant=series.tenant)
        if notify:
            rows = [email(r) for r in notify]
            await repo.add_notifications(
                transition_id=transition_id, alert_id=alert_id, tenant=series.tenant, rows=rows
            )
    return transition_id


def as_read(scores: list[UnitScored]) -> list[UnitScoredRecord]:
    """The events as alerts' consumer reads them off the topic: msgspec structs (`read_unit_scored`)."""
    read = [read_unit_scored(s.model_dump_json().encode()) for s in scores]
    assert all(isinstance(r, UnitScoredRecord) for r in read), "the fast path reads these"
    return read  # type: ignore[return-value]


@dataclass(frozen=True)
class Subject:
    store: AlertsStore
    reader: AlertReader
    scores: PeriodScoreReader
    links: LinkStore
    outbox: Callable[[], Awaitable[list[OutboxMessage]]]  # what the relay would send, in order
    queued: Callable[[], Awaitable[list[dict[str, Any]]]]  # the notification rows as the notifiers read them
    go_down: Callable[[], Awaitable[None]]  # the database becomes unreachable


class AlertsStoreContract:
    """Not collected itself (no Test prefix); subclasses supply `subject`."""

    @pytest.fixture
    def subject(self) -> Subject:
        raise NotImplementedError

    # --- Scores and series

    async def test_scores_are_kept_per_series_and_period_and_the_changed_series_come_back_in_key_order(
        self, subject: Subject
    ) -> None:
        subtree = [s.model_copy(update={"scope": "subtree", "unit": "enhet-a"}) for s in unit_scores(2026, 1, 60.0)]
        async with subject.store.transaction() as repo:
            changed = await repo.upsert_scores([*unit_scores(2026, 2, 41.0), *unit_scores(2026, 1, 40.0), *subtree])
        assert changed == {key(d): JAN_END for d in ("ledarskap", "motivation", "total")}, "units only, in key order"
        assert list(changed) == sorted(changed, key=lambda k: (k.tenant, k.unit, k.instrument, k.model, k.dimension))
        async with subject.store.transaction() as repo:
            both = await repo.history(KEY, closed_before=FEB_END)
            january = await repo.history(KEY, closed_before=FEB_END - timedelta(seconds=1))
            assert await repo.lock_series(KEY) == (True, None)
            assert await repo.lock_series(key(unit="enhet-a")) == (False, None)
        assert [(p.period, p.period_end, p.index, p.respondents, p.standard_error) for p in both] == [
            ("2026-01", JAN_END, 40.0, 8, 2.0),
            ("2026-02", FEB_END, 41.0, 8, 2.0),
        ]
        assert [p.period for p in january] == ["2026-01"], "a period belongs to the history once it has ended"

    async def test_score_events_as_the_consumer_reads_them_are_kept_as_the_events_are(self, subject: Subject) -> None:
        async with subject.store.transaction() as repo:
            await repo.upsert_scores(as_read(unit_scores(2026, 1, 45.0, sequence=2)))
        async with subject.store.transaction() as repo:
            assert await repo.upsert_scores(as_read(unit_scores(2026, 1, 30.0, sequence=1))) == {}, "older, late"
            newer = await repo.upsert_scores(as_read(unit_scores(2026, 2, 50.0, sequence=3, respondents=9)))
            stored = await repo.history(KEY, closed_before=FEB_END)
        assert newer == {key(d): FEB_END for d in ("ledarskap", "motivation", "total")}
        assert [(p.period, p.period_end, p.index, p.respondents, p.standard_error) for p in stored] == [
            ("2026-01", JAN_END, 45.0, 8, 2.0),
            ("2026-02", FEB_END, 50.0, 9, 2.0),
        ]

    async def test_a_redelivered_or_older_score_changes_nothing_and_a_newer_one_replaces_it(
        self, subject: Subject
    ) -> None:
        async with subject.store.transaction() as repo:
            await repo.upsert_scores(unit_scores(2026, 1, 45.0, sequence=2))
        async with subject.store.transaction() as repo:
            assert await repo.upsert_scores(unit_scores(2026, 1, 45.0, sequence=2)) == {}, "the same event again"
            assert await repo.upsert_scores(unit_scores(2026, 1, 30.0, sequence=1)) == {}, "an older one, late"
            assert [p.index for p in await repo.history(KEY, closed_before=JAN_END)] == [45.0]
        async with subject.store.transaction() as repo:
            newer = await repo.upsert_scores(unit_scores(2026, 1, 50.0, sequence=3, respondents=9))
            [stored] = await repo.history(KEY, closed_before=JAN_END)
        assert newer == {key(d): JAN_END for d in ("ledarskap", "motivation", "total")}
        assert (stored.index, stored.respondents) == (50.0, 9)

    async def test_one_batch_keeps_the_newest_sequence_of_each_period(self, subject: Subject) -> None:
        async with subject.store.transaction() as repo:
            await repo.upsert_scores([*unit_scores(2026, 1, 55.0, sequence=4), *unit_scores(2026, 1, 35.0, sequence=2)])
            assert [p.index for p in await repo.history(KEY, closed_before=JAN_END)] == [55.0]

    async def test_a_series_is_due_when_flagged_when_a_period_closes_or_while_it_has_an_alert(
        self, subject: Subject
    ) -> None:
        async with subject.store.transaction() as repo:
            await repo.upsert_scores(unit_scores(2026, 1, 70.0, dimensions=["ledarskap"]))
            assert await repo.series_due(now=JAN_START) == [KEY], "flagged, though nothing has closed"
            await repo.mark_judged(KEY, JAN_END)
        async with subject.store.transaction() as repo:
            assert await repo.series_due(now=FEB_END) == []
            # A gap: no February. March's scores arrive and are due once March has closed, not before.
            await repo.upsert_scores(unit_scores(2026, 3, 70.0, dimensions=["ledarskap"]), judging=True)
            assert await repo.series_due(now=MAR_END - timedelta(seconds=1)) == []
            assert await repo.series_due(now=MAR_END) == [KEY]
            assert [p.period for p in await repo.history(KEY, closed_before=APR_END)] == ["2026-01", "2026-03"]
            await repo.mark_judged(KEY, MAR_END)
            assert await repo.series_due(now=APR_END) == []
            await repo.save_alert("a1", KEY, snapshot(), now=OPENED)
            assert await repo.series_due(now=APR_END) == [KEY], "the time-based rule needs it judged"

    async def test_series_due_are_in_key_order_and_at_most_the_limit(self, subject: Subject) -> None:
        async with subject.store.transaction() as repo:
            await repo.upsert_scores(unit_scores(2026, 1, 70.0, unit="grupp-b1"))
            await repo.upsert_scores(unit_scores(2026, 1, 70.0))
            due = await repo.series_due(now=FEB_END)
            assert due == [key(d, unit=u) for u in (UNIT, "grupp-b1") for d in ("ledarskap", "motivation", "total")]
            assert await repo.series_due(now=FEB_END, limit=2) == due[:2]

    async def test_scores_judged_in_their_own_transaction_flag_nothing(self, subject: Subject) -> None:
        async with subject.store.transaction() as repo:
            await repo.upsert_scores(unit_scores(2026, 1, 70.0, dimensions=["ledarskap"]), judging=True)
            assert await repo.series_due(now=JAN_START) == [], "an open period decides nothing yet"
            assert await repo.lock_series(KEY) == (True, None)
            await repo.upsert_scores(unit_scores(2026, 1, 71.0, dimensions=["ledarskap"], sequence=2))
            assert await repo.series_due(now=JAN_START) == [KEY], "without `judging` it is flagged"

    async def test_the_judged_mark_never_moves_back_and_a_missing_series_is_left_alone(self, subject: Subject) -> None:
        async with subject.store.transaction() as repo:
            await repo.upsert_scores(unit_scores(2026, 1, 70.0, dimensions=["ledarskap"]))
            await repo.mark_judged(KEY, FEB_END)
            await repo.mark_judged(KEY, JAN_END)
            await repo.mark_judged(KEY, None)
            await repo.mark_judged(key(unit="grupp-b1"), JAN_END)
        async with subject.store.transaction() as repo:
            assert await repo.lock_series(KEY) == (True, FEB_END)
            assert await repo.lock_series(key(unit="grupp-b1")) == (False, None)
            assert await repo.series_due(now=FEB_END) == []

    async def test_prefetching_answers_as_the_one_by_one_calls_and_the_judged_marks_are_committed(
        self, subject: Subject
    ) -> None:
        missing = key(unit="grupp-b1")
        async with subject.store.transaction() as repo:
            await repo.upsert_scores([*unit_scores(2026, 1, 40.0), *unit_scores(2026, 2, 41.0)])
            await repo.save_alert("a1", KEY, snapshot(), now=OPENED)
        answers = []
        for prefetching in (False, True):
            async with subject.store.transaction() as repo:
                if prefetching:
                    await repo.prefetch([key("total"), KEY, missing])
                answers.append(
                    (
                        await repo.lock_series(KEY),
                        await repo.lock_series(missing),
                        [p.period for p in await repo.history(KEY, closed_before=JAN_END)],
                        await repo.active_alert(KEY),
                        await repo.active_alert(key("total")),
                    )
                )
                await repo.mark_judged(KEY, JAN_END if prefetching else None)
        assert answers[0] == answers[1]
        assert answers[0][3] is not None
        assert answers[0][3].alert_id == "a1"
        async with subject.store.transaction() as repo:
            assert await repo.lock_series(KEY) == (True, JAN_END), "the deferred mark was written before the commit"

    async def test_the_period_history_reader_gives_a_tenants_closed_series_of_the_units_asked(
        self, subject: Subject
    ) -> None:
        async with subject.store.transaction() as repo:
            await repo.upsert_scores([*unit_scores(2026, 2, 41.0, unit="grupp-b1"), *unit_scores(2026, 1, 40.0)])
            await repo.upsert_scores(unit_scores(2026, 2, 44.0, dimensions=["ledarskap"]))
        tenant = CATALOG.tenants[TENANT]
        every = await subject.scores.period_history(tenant, closed_by=FEB_END, units=None)
        dimensions = ("ledarskap", "motivation", "total")
        assert list(every) == [
            SeriesId(u, "test-puls", "test-model", d) for u in (UNIT, "grupp-b1") for d in dimensions
        ]
        assert [p.index for p in every[SeriesId(UNIT, "test-puls", "test-model", "ledarskap")]] == [40.0, 44.0]
        january = await subject.scores.period_history(tenant, closed_by=JAN_END, units=frozenset({"grupp-b1"}))
        assert january == {}
        only_b1 = await subject.scores.period_history(tenant, closed_by=FEB_END, units=frozenset({"grupp-b1"}))
        assert {s.unit for s in only_b1} == {"grupp-b1"}

    # --- Alerts, transitions, notifications, events

    async def test_an_alert_is_saved_updated_and_resolved_keeping_its_plan_and_resolution_time(
        self, subject: Subject
    ) -> None:
        await opened(subject.store)
        acknowledged = snapshot("acknowledged", acknowledged_at=OPENED + timedelta(days=1))
        async with subject.store.transaction() as repo:
            assert await repo.alert(TENANT, "a1") == await repo.active_alert(KEY)
            assert await repo.alert(OTHER_TENANT, "a1") is None
            assert await repo.series_of(TENANT, "a1") == KEY
            assert await repo.series_of(OTHER_TENANT, "a1") is None
            assert await repo.resolved_at("a1") is None
            await repo.save_alert(
                "a1",
                KEY,
                acknowledged,
                now=OPENED + timedelta(days=1),
                action_plan="Samtal",
                follow_up=date(2026, 4, 1),
            )
            await repo.save_alert("a1", KEY, replace(acknowledged, level=2), now=OPENED + timedelta(days=2))
            assert await repo.active_counts() == {"acknowledged": 1}
        row = await subject.reader.alert(TENANT, "a1")
        assert row is not None
        assert (row["state"], row["level"], row["action_plan"], row["follow_up_date"], row["updated_at"]) == (
            "acknowledged", 2, "Samtal", date(2026, 4, 1), OPENED + timedelta(days=2)
        )  # fmt: skip
        resolved_on = OPENED + timedelta(days=40)
        async with subject.store.transaction() as repo:
            await repo.save_alert("a1", KEY, replace(acknowledged, state="resolved"), now=resolved_on)
            assert await repo.active_alert(KEY) is None
            stored = await repo.alert(TENANT, "a1", for_update=True)
            assert stored is not None
            assert stored.snapshot.state == "resolved"
            assert await repo.resolved_at("a1") == resolved_on
            assert await repo.active_counts() == {}
            await repo.add_plan_revision("a1", TENANT, revision(1))
            assert await repo.resolved_at("a1") == resolved_on, "a later write keeps the time of resolution"
        assert await subject.reader.alert(OTHER_TENANT, "a1") is None

    async def test_a_series_has_one_active_alert_and_a_new_one_once_the_first_resolved(self, subject: Subject) -> None:
        await opened(subject.store)

        async def open_a_second() -> None:
            async with subject.store.transaction() as repo:
                await repo.upsert_scores(unit_scores(2026, 3, 40.0))
                await repo.save_alert("a2", KEY, snapshot(), now=OPENED)

        with pytest.raises(asyncpg.UniqueViolationError):
            await open_a_second()
        async with subject.store.transaction() as repo:
            assert await repo.history(KEY, closed_before=APR_END) == [], "nothing of the failed transaction stays"
            await repo.save_alert("a1", KEY, snapshot("resolved"), now=OPENED + timedelta(days=30))
            await repo.save_alert("a2", KEY, snapshot(), now=OPENED + timedelta(days=60))
            found = await repo.active_alert(KEY)
            assert found is not None
            assert found.alert_id == "a2"

    async def test_a_transaction_that_raises_leaves_nothing_behind(self, subject: Subject) -> None:
        async def write_then_crash() -> None:
            async with subject.store.transaction() as repo:
                await repo.upsert_scores(unit_scores(2026, 1, 40.0))
                await repo.save_alert("a1", KEY, snapshot(), now=OPENED)
                transition_id = await transition(repo, "a1")
                await repo.add_notifications(
                    transition_id=transition_id, alert_id="a1", tenant=TENANT, rows=[email(NEXT_LEVEL)]
                )
                await repo.publish([OutboxMessage("test.tempen.alerts", b"k", b"{}")])
                raise RuntimeError("crashed before the commit")

        with pytest.raises(RuntimeError, match="crashed"):
            await write_then_crash()
        async with subject.store.transaction() as repo:
            assert await repo.series_due(now=APR_END) == []
            assert await repo.alert(TENANT, "a1") is None
        assert await subject.outbox() == []
        assert await subject.queued() == []

    async def test_transitions_are_the_audit_trail_in_the_order_they_were_made(self, subject: Subject) -> None:
        await opened(subject.store)
        async with subject.store.transaction() as repo:
            await repo.save_alert("a1", KEY, snapshot("escalated", level=2), now=OPENED + timedelta(days=14))
            await transition(repo, "a1", to_state="escalated", period="2026-03")
            await transition(repo, "a1", to_state="resolved", period="2026-04")
            assert await repo.timeline("a1") == [
                TimelineEntry("2026-02", "open", 1),
                TimelineEntry("2026-03", "escalated", 1),
                TimelineEntry("2026-04", "resolved", 1),
            ]
        shown = await subject.reader.transitions("a1")
        assert [(t["from_state"], t["to_state"], t["period"], t["notified"], t["quiet_reason"]) for t in shown] == [
            (None, "open", "2026-02", True, None),
            ("open", "escalated", "2026-03", True, None),
            ("open", "resolved", "2026-04", True, None),
        ]
        assert shown[0]["evidence"] == [{"period": "2026-02", "index": 41.0, "respondents": 8}]
        assert shown[0]["explanation"] == {"kind": "opened", "index": 41.0}
        assert (shown[0]["rule"], shown[0]["actor"], shown[0]["reason"]) == (
            "sustained_challenge",
            "tempen",
            "open in 2026-02",
        )
        assert isinstance(shown[0]["created_at"], datetime)
        assert await subject.reader.transitions("no-such-alert") == []

    async def test_a_transition_of_no_stored_alert_is_refused(self, subject: Subject) -> None:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            async with subject.store.transaction() as repo:
                await transition(repo, "never-saved")

    async def test_notifications_are_queued_once_per_transition_recipient_and_channel(self, subject: Subject) -> None:
        first = email(NEXT_LEVEL)
        webhook = email("https://hooks.example", role="webhook", channel="webhook")
        transition_id = await opened(subject.store)
        for _ in range(2):  # a retry of the same transition queues nothing more
            async with subject.store.transaction() as repo:
                again = replace(first, notification_id=uuid4(), subject="Ett annat ämne")
                await repo.add_notifications(
                    transition_id=transition_id, alert_id="a1", tenant=TENANT, rows=[first, webhook, again]
                )
        queued = await subject.queued()
        assert sorted((q["recipient"], q["channel"], q["subject"]) for q in queued) == [
            (NEXT_LEVEL, "email", f"Ärende till {NEXT_LEVEL}"),
            ("https://hooks.example", "webhook", "Ärende till https://hooks.example"),
        ]
        mine = next(q for q in queued if q["channel"] == "email")
        assert [mine[c] for c in ("notification_id", "transition_id", "reminder_id", "alert_id", "tenant")] == [
            first.notification_id, transition_id, None, "a1", TENANT
        ]  # fmt: skip
        assert (mine["recipient_role"], mine["body_text"], mine["body_html"]) == ("next_level", "text", "<p>html</p>")
        shown = await subject.reader.notifications("a1")
        columns = ("recipient", "recipient_role", "channel", "state", "sent_at", "link_revoked_at")
        assert sorted(tuple(n[c] for c in columns) for n in shown) == [
            (NEXT_LEVEL, "next_level", "email", "pending", None, None),
            ("https://hooks.example", "webhook", "webhook", "pending", None, None),
        ]  # fmt: skip

    async def test_notifications_of_no_transition_are_refused(self, subject: Subject) -> None:
        await opened(subject.store)
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            async with subject.store.transaction() as repo:
                await repo.add_notifications(
                    transition_id=uuid4(), alert_id="a1", tenant=TENANT, rows=[email(NEXT_LEVEL)]
                )

    async def test_published_messages_wait_in_the_outbox_in_order(self, subject: Subject) -> None:
        messages = [
            OutboxMessage("test.tempen.alerts", b"testkommun:grupp-a1", b'{"n": 1}', {"x-correlation-id": "c-1"}),
            OutboxMessage("test.tempen.alerts", b"testkommun:grupp-b1", b'{"n": 2}'),
        ]
        async with subject.store.transaction() as repo:
            await repo.publish(messages[:1])
            await repo.publish([])
        async with subject.store.transaction() as repo:
            await repo.publish(messages[1:])
        assert await subject.outbox() == messages

    # --- Quiet history

    async def test_a_quiet_backfill_is_counted_settled_claimed_told_and_finished_once(self, subject: Subject) -> None:
        started = OPENED
        async with subject.store.transaction() as repo:
            import_id = await repo.note_quiet(TENANT, now=started)
            assert await repo.note_quiet(TENANT, now=started + timedelta(minutes=3)) == import_id, "one open per tenant"
            assert await repo.note_quiet(TENANT, now=started + timedelta(minutes=1)) == import_id
            other = await repo.note_quiet(OTHER_TENANT, now=started - timedelta(minutes=1))
            await repo.save_alert("b1", key(unit="grupp-b1"), snapshot(), now=started)
            await repo.save_alert("a1", KEY, snapshot(), now=started)
            await repo.save_alert("c1", key("total"), snapshot(), now=started)
            await repo.save_alert("x1", key(tenant=OTHER_TENANT), snapshot(), now=started)
            a_open = await transition(repo, "a1", quiet_reason="old", history_import=import_id)
            b_open = await transition(repo, "b1", quiet_reason="old", history_import=import_id)
            await repo.save_alert("b1", key(unit="grupp-b1"), snapshot("escalated", level=2), now=started)
            b_up = await transition(repo, "b1", to_state="escalated", quiet_reason="old", history_import=import_id)
            await transition(repo, "c1")  # told as it happened
            await repo.save_alert("r1", key("motivation"), snapshot(), now=started)
            r_open = await transition(repo, "r1", quiet_reason="old", history_import=import_id)
            await repo.save_alert("r1", key("motivation"), snapshot("resolved"), now=started)
            r_closed = await transition(repo, "r1", to_state="resolved", quiet_reason="old", history_import=import_id)

        settled = started + timedelta(minutes=3)
        async with subject.store.transaction() as repo:
            assert await repo.settled_history_imports(quiet_since=settled - timedelta(seconds=1)) == [other]
            assert await repo.settled_history_imports(quiet_since=settled) == [other, import_id], "oldest first"
            assert await repo.claim_history_import(import_id, quiet_since=settled - timedelta(seconds=1)) is None
            claimed = await repo.claim_history_import(import_id, quiet_since=settled, lock=False)
            assert claimed is not None
            assert (claimed.import_id, claimed.tenant, claimed.quiet_transitions) == (import_id, TENANT, 3)
            active = await repo.lock_active_alerts(TENANT)
            assert [(a.alert_id, a.key) for a in active] == [
                ("a1", KEY), ("c1", key("total")), ("b1", key(unit="grupp-b1"))
            ]  # fmt: skip
            tails = await repo.quiet_tails(import_id)
            assert [(t.alert_id, t.transition_id, t.reason) for t in tails] == [
                ("a1", a_open, "open in 2026-02"),
                ("b1", b_up, "escalated in 2026-02"),
            ]
            assert tails[0].explanation == {"kind": "opened", "index": 41.0}
            assert await repo.resolved_in_history(import_id) == 1
            assert await repo.quiet_transitions(import_id) == [
                ("a1", a_open), ("b1", b_open), ("b1", b_up), ("r1", r_open), ("r1", r_closed)
            ]  # fmt: skip
            assert [await repo.untold(a) for a in ("a1", "b1", "c1", "r1")] == [True, True, False, True]
            summary = replace(email("hr@testkommun.example"), recipient_role=HR_SUMMARY_ROLE)
            await repo.add_notifications(transition_id=r_closed, alert_id="r1", tenant=TENANT, rows=[summary])
            await repo.add_notifications(transition_id=a_open, alert_id="a1", tenant=TENANT, rows=[email(NEXT_LEVEL)])
            await repo.finish_history_import(import_id, now=settled, listed=["b1"])
            assert [await repo.untold(a) for a in ("a1", "b1", "r1")] == [False, False, True], (
                "told by a notification of its own or by HR's summary listing it; HR's summary row is no telling"
            )
        async with subject.store.transaction() as repo:
            assert await repo.claim_history_import(import_id, quiet_since=settled) is None, "summarised once"
            assert await repo.settled_history_imports(quiet_since=settled) == [other]
            assert await repo.note_quiet(TENANT, now=settled) != import_id, "a later backfill is a new one"
        shown = await subject.reader.transitions("a1")
        assert [(t["notified"], t["quiet_reason"]) for t in shown] == [(False, "old")]

    # --- Action plans and reminders

    async def test_a_plans_revisions_and_comments_are_kept_in_order_and_the_alert_shows_the_current_one(
        self, subject: Subject
    ) -> None:
        await opened(subject.store)
        comment = PlanComment(text="Första APT hållen.", written_by=NEXT_LEVEL, written_at=OPENED + timedelta(days=3))
        async with subject.store.transaction() as repo:
            assert await repo.plan("a1") == Plan()
            await repo.add_plan_revision("a1", TENANT, revision(1))
            await repo.add_plan_comment("a1", TENANT, comment)
            await repo.add_plan_revision("a1", TENANT, revision(2, due=date(2026, 3, 20), status="planned"))
            await repo.add_plan_comment("a1", TENANT, replace(comment, text="Andra APT hållen."))
        expected = Plan(
            revisions=(revision(1), revision(2, due=date(2026, 3, 20), status="planned")),
            comments=(comment, replace(comment, text="Andra APT hållen.")),
        )
        async with subject.store.transaction() as repo:
            assert await repo.plan("a1") == expected
        assert await subject.reader.plan("a1") == expected
        row = await subject.reader.alert(TENANT, "a1")
        assert row is not None
        assert (row["action_plan"], row["follow_up_date"], row["updated_at"]) == (
            "Prata i APT, version 2", date(2026, 3, 20), revision(2).written_at
        )  # fmt: skip
        [listed] = await subject.reader.alerts(TENANT, status=None, unit=None, recipient=None)
        assert listed["plan_status"] == "planned"
        async with subject.store.transaction() as repo:
            await repo.add_plan_revision("a1", TENANT, revision(3, due=None))
        row = await subject.reader.alert(TENANT, "a1")
        assert row is not None
        assert row["follow_up_date"] is None, "the current revision's due date, even when it has none"

    async def test_two_writers_of_the_same_revision_number_cannot_both_commit(self, subject: Subject) -> None:
        await opened(subject.store)
        async with subject.store.transaction() as repo:
            await repo.add_plan_revision("a1", TENANT, revision(1))

        async def write_the_same_revision() -> None:  # as a writer that read the plan before the first committed
            async with subject.store.transaction() as repo:
                await repo.add_plan_comment("a1", TENANT, PlanComment(text="Klart", written_by="x", written_at=OPENED))
                await repo.add_plan_revision("a1", TENANT, replace(revision(1), what="Något annat"))

        with pytest.raises(asyncpg.UniqueViolationError):
            await write_the_same_revision()
        assert await subject.reader.plan("a1") == Plan(revisions=(revision(1),)), (
            "the first kept, nothing of the second"
        )

    async def test_a_plan_of_no_stored_alert_is_refused(self, subject: Subject) -> None:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            async with subject.store.transaction() as repo:
                await repo.add_plan_revision("never-saved", TENANT, revision(1))

    async def test_plans_past_due_are_found_reminded_of_once_per_due_date_and_again_for_a_new_date(
        self, subject: Subject
    ) -> None:
        for alert_id, series in (("a1", KEY), ("done", key("total")), ("late", key("motivation"))):
            await opened(subject.store, alert_id, series)
        await opened(subject.store, "gone", key(unit="grupp-b1"))
        await opened(subject.store, "recent", key("total", unit="grupp-b1"))
        async with subject.store.transaction() as repo:
            await repo.add_plan_revision("a1", TENANT, revision(1))
            await repo.add_plan_revision("done", TENANT, revision(1))
            await repo.add_plan_revision("done", TENANT, revision(2, status="done"))
            await repo.add_plan_revision("late", TENANT, revision(1, due=date(2026, 1, 5)))
            for alert_id, series, resolved in (
                ("gone", key(unit="grupp-b1"), datetime(2026, 1, 1, tzinfo=UTC)),
                ("recent", key("total", unit="grupp-b1"), datetime(2026, 3, 5, tzinfo=UTC)),
            ):
                await repo.add_plan_revision(alert_id, TENANT, revision(1, due=date(2026, 3, 9)))
                await repo.save_alert(alert_id, series, snapshot("resolved"), now=resolved)
        window: dict[str, Any] = {
            "due_from": date(2026, 2, 1),
            "due_by": date(2026, 3, 11),
            "resolved_since": datetime(2026, 2, 1, tzinfo=UTC),
        }
        async with subject.store.transaction() as repo:
            assert await repo.plans_past_due(**window) == [(TENANT, "recent"), (TENANT, "a1")], "by due date"
            assert await repo.reminded("a1") == frozenset()
            reminder = PlanReminder(
                reminder_id=uuid4(),
                alert_id="a1",
                tenant=TENANT,
                due=date(2026, 3, 10),
                revision=1,
                level=1,
                recipient=NEXT_LEVEL,
                reminded_at=datetime(2026, 3, 11, 6, 0, tzinfo=UTC),
            )
            row = replace(email(NEXT_LEVEL), recipient_role="plan_reminder")
            assert await repo.add_reminder(reminder, [row]) is True
        async with subject.store.transaction() as repo:  # another replica read the same candidates
            again = replace(reminder, reminder_id=uuid4())
            assert await repo.add_reminder(again, [replace(row, notification_id=uuid4())]) is False
            assert await repo.plans_past_due(**window) == [(TENANT, "recent")]
            assert await repo.reminded("a1") == frozenset({date(2026, 3, 10)})
        [queued] = [q for q in await subject.queued() if q["reminder_id"] is not None]
        assert [queued[c] for c in ("notification_id", "reminder_id", "transition_id", "recipient_role")] == [
            row.notification_id, reminder.reminder_id, None, "plan_reminder"
        ]  # fmt: skip
        async with subject.store.transaction() as repo:
            await repo.add_plan_revision("a1", TENANT, revision(2, due=date(2026, 3, 11)))
            assert await repo.plans_past_due(**window) == [(TENANT, "recent"), (TENANT, "a1")], "a new date, a new key"
            assert await repo.add_reminder(
                replace(reminder, reminder_id=uuid4(), due=date(2026, 3, 11), revision=2), []
            )
            assert await repo.reminded("a1") == frozenset({date(2026, 3, 10), date(2026, 3, 11)})
        assert await subject.reader.alerts(TENANT, status=None, unit=None, recipient=NEXT_LEVEL.upper()) != []

    # --- The read API

    async def test_the_alert_list_filters_by_state_unit_and_recipient_newest_first(self, subject: Subject) -> None:
        await opened(subject.store, "a1", KEY, notify=(NEXT_LEVEL,))
        await opened(subject.store, "b1", key(unit="grupp-b1"), notify=("dan@testkommun.example",))
        await opened(subject.store, "x1", key(tenant=OTHER_TENANT))
        async with subject.store.transaction() as repo:
            await repo.save_alert("b1", key(unit="grupp-b1"), snapshot("acknowledged"), now=OPENED + timedelta(days=1))

        async def ids(**query: str | None) -> list[str]:
            found = await subject.reader.alerts(TENANT, **{"status": None, "unit": None, "recipient": None, **query})
            return [r["alert_id"] for r in found]

        assert await ids() == ["b1", "a1"]
        assert await ids(status="open") == ["a1"]
        assert await ids(unit="grupp-b1") == ["b1"]
        assert await ids(recipient="Bo@TestKommun.example") == ["a1"]
        assert await ids(recipient="nobody@testkommun.example") == []
        [row] = await subject.reader.alerts(TENANT, status="open", unit=None, recipient=None)
        assert row["plan_status"] is None
        assert {k: row[k] for k in ("tenant", "unit", "instrument", "model", "dimension", "opened_period")} == {
            "tenant": TENANT, "unit": UNIT, "instrument": "test-puls", "model": "test-model",
            "dimension": "ledarskap", "opened_period": "2026-02",
        }  # fmt: skip

    async def test_the_read_api_and_the_links_answer_with_exactly_the_columns_the_api_shows(
        self, subject: Subject
    ) -> None:
        await opened(subject.store, notify=(NEXT_LEVEL,))
        alert_columns = {
            "alert_id", "tenant", "unit", "instrument", "model", "dimension", "state", "level", "opened_period",
            "opened_at", "baseline_period", "baseline_index", "acknowledged_at", "last_escalated_at", "resolved_at",
            "action_plan", "follow_up_date", "updated_at",
        }  # fmt: skip
        [listed] = await subject.reader.alerts(TENANT, status=None, unit=None, recipient=None)
        assert set(listed) == alert_columns | {"plan_status"}
        assert set(await subject.reader.alert(TENANT, "a1") or {}) == alert_columns
        [shown] = await subject.reader.transitions("a1")
        assert set(shown) == {
            "from_state", "to_state", "level", "rule", "reason", "period", "actor", "evidence", "notified",
            "quiet_reason", "explanation", "created_at",
        }  # fmt: skip
        [told] = await subject.reader.notifications("a1")
        assert set(told) == {
            "notification_id", "recipient", "recipient_role", "channel", "state", "created_at", "sent_at",
            "link_revoked_at",
        }  # fmt: skip
        [link] = await subject.links.links_of(TENANT, NEXT_LEVEL)
        assert set(link) == {
            "notification_id", "alert_id", "unit", "dimension", "recipient", "recipient_role", "state", "created_at",
            "sent_at", "revoked_at", "revoked_by", "reason",
        }  # fmt: skip

    # --- Personal links

    async def test_a_persons_links_are_their_emails_and_a_revocation_is_kept_as_first_made(
        self, subject: Subject
    ) -> None:
        transition_id = await opened(subject.store)
        mine, webhook = email(NEXT_LEVEL), email("https://hooks.example", role="webhook", channel="webhook")
        summary = replace(email(NEXT_LEVEL), recipient_role=HR_SUMMARY_ROLE, channel="email-summary")
        async with subject.store.transaction() as repo:
            await repo.add_notifications(
                transition_id=transition_id, alert_id="a1", tenant=TENANT, rows=[mine, webhook, summary]
            )
        [link] = await subject.links.links_of(TENANT, NEXT_LEVEL.upper())
        assert (link["notification_id"], link["alert_id"], link["unit"], link["dimension"], link["recipient"]) == (
            mine.notification_id, "a1", UNIT, "ledarskap", NEXT_LEVEL
        )  # fmt: skip
        assert (link["state"], link["sent_at"], link["revoked_at"], link["revoked_by"], link["reason"]) == (
            "pending", None, None, None, None
        )  # fmt: skip
        assert await subject.links.links_of(OTHER_TENANT, NEXT_LEVEL) == []

        at = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
        first = await subject.links.revoke(TENANT, mine.notification_id, at=at, by="operator", reason="vidarebefordrat")
        again = await subject.links.revoke(
            TENANT, mine.notification_id, at=at + timedelta(hours=1), by="someone else", reason="igen"
        )
        assert first is not None
        assert again is not None
        assert first[1] is True
        assert again == (first[0], False), "the first revocation is the one kept"
        assert (first[0].alert_id, first[0].revoked_at, first[0].revoked_by, first[0].reason) == (
            "a1", at, "operator", "vidarebefordrat"
        )  # fmt: skip
        for tenant, notification_id in (
            (OTHER_TENANT, mine.notification_id),
            (TENANT, webhook.notification_id),
            (TENANT, summary.notification_id),
            (TENANT, uuid4()),
        ):
            assert await subject.links.revoke(tenant, notification_id, at=at, by="operator", reason="x") is None
        assert await subject.links.revoked_since(TENANT, at) == [first[0]]
        assert await subject.links.revoked_since(TENANT, at + timedelta(seconds=1)) == []
        assert await subject.links.revoked_since(OTHER_TENANT, at) == []
        [link] = await subject.links.links_of(TENANT, NEXT_LEVEL)
        assert (link["revoked_at"], link["revoked_by"], link["reason"]) == (at, "operator", "vidarebefordrat")
        shown = {n["notification_id"]: n["link_revoked_at"] for n in await subject.reader.notifications("a1")}
        assert shown[mine.notification_id] == at
        assert shown[webhook.notification_id] is None

    # --- Consumer positions, fenced by an epoch (issue 14)

    async def test_a_claim_bumps_each_partitions_epoch_in_its_group_only(self, subject: Subject) -> None:
        first = await subject.store.claim(GROUP, [(TOPIC, 1), (TOPIC, 0), (TOPIC, 1)], cluster=CLUSTER)
        assert first == {(TOPIC, 0): Claim(1, None), (TOPIC, 1): Claim(1, None)}, "nothing stored yet"
        assert await subject.store.claim(GROUP, [(TOPIC, 1)], cluster=CLUSTER) == {(TOPIC, 1): Claim(2, None)}
        assert await subject.store.claim("another-group", [(TOPIC, 1)], cluster=CLUSTER) == {(TOPIC, 1): Claim(1, None)}
        assert await subject.store.claim(GROUP, [(TOPIC, 0), (TOPIC, 1)], cluster=CLUSTER) == {
            (TOPIC, 0): Claim(2, None),
            (TOPIC, 1): Claim(3, None),
        }

    async def test_positions_advance_with_their_batch_and_the_next_claim_returns_them(self, subject: Subject) -> None:
        epoch = (await subject.store.claim(GROUP, [(TOPIC, 0), (TOPIC, 1)], cluster=CLUSTER))[(TOPIC, 0)].epoch
        async with subject.store.transaction() as repo:
            await repo.save_positions([Position(GROUP, TOPIC, 0, epoch, 120), Position(GROUP, TOPIC, 1, epoch, 7)])
            await repo.upsert_scores(unit_scores(2026, 1, 40.0), judging=True)
        async with subject.store.transaction() as repo:
            await repo.save_positions([Position(GROUP, TOPIC, 0, epoch, 130)])
            await repo.save_positions([])
        assert await subject.store.claim(GROUP, [(TOPIC, 0), (TOPIC, 1)], cluster=CLUSTER) == {
            (TOPIC, 0): Claim(epoch + 1, 130),
            (TOPIC, 1): Claim(epoch + 1, 7),
        }

    async def test_a_batch_under_a_stale_epoch_is_refused_and_leaves_nothing(self, subject: Subject) -> None:
        older = (await subject.store.claim(GROUP, [(TOPIC, 0), (TOPIC, 1)], cluster=CLUSTER))[(TOPIC, 0)].epoch
        async with subject.store.transaction() as repo:
            await repo.save_positions([Position(GROUP, TOPIC, 0, older, 40)])
        newer = (await subject.store.claim(GROUP, [(TOPIC, 0)], cluster=CLUSTER))[(TOPIC, 0)].epoch

        async def batch(positions: list[Position]) -> dict[SeriesKey, datetime]:
            """What the consumer writes for one batch: its positions, a dead letter, scores, a judgement."""
            async with subject.store.transaction() as repo:
                await repo.save_positions(positions)
                await repo.publish([OutboxMessage("test.tempen.scores.dlq", b"k", b"{}")])
                changed = await repo.upsert_scores([*unit_scores(2026, 1, 40.0), *unit_scores(2026, 2, 41.0)])
                await repo.save_alert("a1", KEY, snapshot(), now=OPENED)
                transition_id = await transition(repo, "a1")
                await repo.add_notifications(
                    transition_id=transition_id, alert_id="a1", tenant=TENANT, rows=[email(NEXT_LEVEL)]
                )
            return changed

        with pytest.raises(PartitionFencedError) as refused:
            await batch([Position(GROUP, TOPIC, 0, older, 50), Position(GROUP, TOPIC, 1, older, 9)])
        assert refused.value.partitions == ((TOPIC, 0),), "partition 1 is still the older owner's"
        assert await subject.outbox() == []
        assert await subject.queued() == []
        assert await subject.reader.alert(TENANT, "a1") is None
        # The new owner applies the same batch as new: none of its scores stayed.
        assert len(await batch([Position(GROUP, TOPIC, 0, newer, 50)])) == 3
        assert len(await subject.queued()) == 1
        assert (await subject.store.claim(GROUP, [(TOPIC, 0)], cluster=CLUSTER))[(TOPIC, 0)] == Claim(newer + 1, 50)
        assert (await subject.store.claim(GROUP, [(TOPIC, 1)], cluster=CLUSTER))[(TOPIC, 1)] == Claim(
            older + 1, None
        ), "nothing of the refused batch moved partition 1 either"

    async def test_a_position_of_a_partition_never_claimed_is_refused_and_takes_its_batch_with_it(
        self, subject: Subject
    ) -> None:
        async def scores_then_positions() -> None:
            async with subject.store.transaction() as repo:
                await repo.upsert_scores(unit_scores(2026, 1, 40.0))  # written before the positions: gone too
                await repo.save_positions([Position(GROUP, TOPIC, 3, 1, 10)])

        with pytest.raises(PartitionFencedError):
            await scores_then_positions()
        async with subject.store.transaction() as repo:
            assert await repo.history(KEY, closed_before=APR_END) == []

    async def test_an_offset_stored_on_another_kafka_cluster_is_not_returned(self, subject: Subject) -> None:
        epoch = (await subject.store.claim(GROUP, [(TOPIC, 0)], cluster=CLUSTER))[(TOPIC, 0)].epoch
        async with subject.store.transaction() as repo:
            await repo.save_positions([Position(GROUP, TOPIC, 0, epoch, 80)])
        assert await subject.store.claim(GROUP, [(TOPIC, 0)], cluster="kafka-2") == {
            (TOPIC, 0): Claim(epoch + 1, None)
        }, "Kafka's committed offset on the new cluster stands"
        async with subject.store.transaction() as repo:
            await repo.save_positions([Position(GROUP, TOPIC, 0, epoch + 1, 3)])
        assert await subject.store.claim(GROUP, [(TOPIC, 0)], cluster="kafka-2") == {(TOPIC, 0): Claim(epoch + 2, 3)}

    # --- Outages

    async def test_an_unreachable_database_is_an_outage_not_an_error(self, subject: Subject) -> None:
        await opened(subject.store, notify=(NEXT_LEVEL,))
        assert await subject.store.ping() is True
        [link] = await subject.links.links_of(TENANT, NEXT_LEVEL)
        await subject.go_down()
        assert await subject.store.ping() is False
        with pytest.raises(StoreUnavailableError):
            async with subject.store.transaction() as repo:
                await repo.active_counts()
        with pytest.raises(StoreUnavailableError):
            await subject.links.revoke(TENANT, link["notification_id"], at=OPENED, by="operator", reason="x")
        with pytest.raises(StoreUnavailableError):
            await subject.store.claim(GROUP, [(TOPIC, 0)], cluster=CLUSTER)

    # --- What the use cases need of the store

    async def test_the_sweeper_opens_each_alert_once_with_its_event_and_notifications(self, subject: Subject) -> None:
        service = alerts_service(SettableClock(OPENED))
        metrics = AlertsMetrics(CollectorRegistry())
        async with subject.store.transaction() as repo:
            await repo.upsert_scores([*unit_scores(2026, 1, 40.0), *unit_scores(2026, 2, 41.0)])
        assert await sweep_once(subject.store, service, metrics) == ["open"] * 3
        assert await sweep_once(subject.store, service, metrics) == [], "judged: nothing new to decide"
        events = [AlertTransitioned.model_validate_json(m.payload) for m in await subject.outbox()]
        assert sorted((e.dimension, e.from_state, e.to_state, e.level) for e in events) == [
            (d, None, "open", 1) for d in ("ledarskap", "motivation", "total")
        ]
        queued = await subject.queued()
        assert sorted({(q["recipient"], q["recipient_role"]) for q in queued}) == [
            ("bo@testkommun.example", "next_level"),
            ("cecilia@testkommun.example", "unit_manager"),
        ]
        assert len(queued) == 6, "one of each per alert"
        async with subject.store.transaction() as repo:
            assert await repo.active_counts() == {"open": 3}

    async def test_a_plan_revision_that_repeats_the_current_one_adds_nothing(self, subject: Subject) -> None:
        clock = SettableClock(OPENED)
        service = alerts_service(clock)
        await opened(subject.store)
        change = PlanChange(what="Prata i APT", owner="Bo Ek", due=date(2026, 3, 10))
        plans = []
        for _ in range(2):
            clock.advance(hours=1)
            async with subject.store.transaction() as repo:
                plans.append(
                    await service.revise_plan(repo, tenant_id=TENANT, alert_id="a1", change=change, actor="bo")
                )
        assert plans[0] == plans[1]
        assert plans[0] is not None
        assert [r.revision for r in plans[0].revisions] == [1]
        assert (await subject.reader.plan("a1")) == plans[0]


class TestInMemoryAlertsStore(AlertsStoreContract):
    @pytest.fixture
    def subject(self) -> Subject:
        return fake_subject(InMemoryAlertsStore())


@pytest.mark.integration
class TestPostgresAlertsStore(AlertsStoreContract):
    @pytest.fixture
    async def subject(self, database_url: str) -> AsyncIterator[Subject]:
        async with alerts_store(database_url) as store:
            pool = store.pool

            async def outbox() -> list[OutboxMessage]:
                rows = await pool.fetch("SELECT topic, key, payload, headers FROM alerts.outbox ORDER BY id")
                return [OutboxMessage(r["topic"], r["key"], r["payload"], r["headers"]) for r in rows]

            async def queued() -> list[dict[str, Any]]:
                rows = await pool.fetch(
                    """SELECT notification_id, transition_id, reminder_id, alert_id, tenant, channel, recipient,
                           recipient_role, subject, body_text, body_html FROM alerts.notifications"""
                )
                return [dict(r) for r in rows]

            async def go_down() -> None:
                await pool.close()

            yield Subject(
                store,
                PostgresAlertReader(lambda: pool),
                PostgresAlertReader(lambda: pool),
                PostgresLinkStore(lambda: pool),
                outbox,
                queued,
                go_down,
            )


def fake_subject(fake: InMemoryAlertsStore) -> Subject:
    async def outbox() -> list[OutboxMessage]:
        return list(fake.tables.outbox)

    async def queued() -> list[dict[str, Any]]:
        return [
            {
                "notification_id": n.row.notification_id,
                "transition_id": n.transition_id,
                "reminder_id": n.reminder_id,
                "alert_id": n.alert_id,
                "tenant": n.tenant,
                "channel": n.row.channel,
                "recipient": n.row.recipient,
                "recipient_role": n.row.recipient_role,
                "subject": n.row.subject,
                "body_text": n.row.body_text,
                "body_html": n.row.body_html,
            }
            for n in fake.tables.notifications
        ]

    async def go_down() -> None:
        fake.unavailable = True

    return Subject(fake, fake.reader, fake.reader, fake.links, outbox, queued, go_down)


# --- Fakes that are wrong on purpose: each must fail the cases named beside it, or the suite is too weak.


class _ScoresWithoutSequence(InMemoryAlertsRepository):
    """Forgets the sequence: a redelivered or older score event overwrites the newer figures."""

    async def upsert_scores(self, scores: Any, *, judging: bool = False) -> dict[SeriesKey, datetime]:
        for stored in self.t.period_scores.values():
            stored.sequence = -1
        return await super().upsert_scores(scores, judging=judging)


class _JudgedMarkMovesBack(InMemoryAlertsRepository):
    async def mark_judged(self, key: SeriesKey, through: datetime | None) -> None:
        series = self.t.series.get(key)
        if series is not None:
            series.rejudge, series.judged_through = False, through


class _NotificationsNotDeduplicated(InMemoryAlertsRepository):
    async def add_notifications(self, *, transition_id: UUID, alert_id: str, tenant: str, rows: Any) -> None:
        from tests.alerts.fakes import _Notification

        for row in rows:
            self.t.notifications.append(_Notification(row, alert_id, tenant, transition_id, None, OPENED))


class _RevisionsWithoutVersionCheck(InMemoryAlertsRepository):
    """Lets a second writer store the revision number another already stored (and forgets the alert's bump)."""

    async def add_plan_revision(self, alert_id: str, tenant: str, revision: PlanRevision) -> None:
        self.t.plan_revisions[(alert_id, revision.revision)] = (tenant, revision)


class _RemindsEveryTime(InMemoryAlertsRepository):
    async def add_reminder(self, reminder: PlanReminder, rows: Any) -> bool:
        self.t.plan_reminders.pop((reminder.alert_id, reminder.due), None)
        return await super().add_reminder(reminder, rows)


class _WithoutRollback(InMemoryAlertsStore):
    """Writes the committed tables directly, so what a failed transaction wrote stays."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[InMemoryAlertsRepository]:
        yield InMemoryAlertsRepository(self.tables, now=utc_now())


class _RevocationOverwritten(InMemoryLinkStore):
    async def revoke(self, tenant: str, notification_id: UUID, *, at: datetime, by: str, reason: str) -> Any:
        self._store.tables.link_revocations.pop(notification_id, None)
        return await super().revoke(tenant, notification_id, at=at, by=by, reason=reason)


class _PositionsWithoutEpoch(InMemoryAlertsRepository):
    """Moves a claimed partition on whoever claimed it since: an older owner's batch is kept."""

    async def save_positions(self, positions: Sequence[Position]) -> None:
        for p in positions:
            stored = self.t.consumer_positions.rows.get((p.group, p.topic, p.partition))
            if stored is None:
                raise PartitionFencedError([(p.topic, p.partition)])
            stored.next_offset = p.next_offset


class _PositionsNotKept(InMemoryAlertsRepository):
    async def save_positions(self, positions: Sequence[Position]) -> None:
        return


class _ClaimWithoutNewEpoch(InMemoryAlertsStore):
    """Hands the partition to the claimant under the epoch it had: the previous owner is not fenced."""

    async def claim(self, group: str, partitions: Sequence[Partition], *, cluster: str) -> dict[Partition, Claim]:
        claims = await super().claim(group, partitions, cluster=cluster)
        for (topic, partition), c in claims.items():
            self.tables.consumer_positions.rows[(group, topic, partition)].epoch = max(1, c.epoch - 1)
        return {tp: Claim(max(1, c.epoch - 1), c.next_offset) for tp, c in claims.items()}


class _ClaimKeepsOtherClustersOffset(InMemoryAlertsStore):
    async def claim(self, group: str, partitions: Sequence[Partition], *, cluster: str) -> dict[Partition, Claim]:
        for (g, _, _), stored in self.tables.consumer_positions.rows.items():
            if g == group:
                stored.cluster = cluster
        return await super().claim(group, partitions, cluster=cluster)


def _with_repository(kind: type[InMemoryAlertsRepository]) -> Callable[[], InMemoryAlertsStore]:
    def build() -> InMemoryAlertsStore:
        fake = InMemoryAlertsStore()
        fake._repository = lambda tables, *, now: kind(tables, now=now)  # type: ignore[method-assign]
        return fake

    build.__name__ = kind.__name__
    return build


def _revoking_wrongly() -> InMemoryAlertsStore:
    fake = InMemoryAlertsStore()
    fake.links = _RevocationOverwritten(fake)
    return fake


CASES = AlertsStoreContract
WRONG_FAKES: list[tuple[Callable[[], InMemoryAlertsStore], Callable[..., Awaitable[None]]]] = [
    (
        _with_repository(_ScoresWithoutSequence),
        CASES.test_a_redelivered_or_older_score_changes_nothing_and_a_newer_one_replaces_it,
    ),
    (
        _with_repository(_JudgedMarkMovesBack),
        CASES.test_the_judged_mark_never_moves_back_and_a_missing_series_is_left_alone,
    ),
    (
        _with_repository(_NotificationsNotDeduplicated),
        CASES.test_notifications_are_queued_once_per_transition_recipient_and_channel,
    ),
    (
        _with_repository(_RevisionsWithoutVersionCheck),
        CASES.test_two_writers_of_the_same_revision_number_cannot_both_commit,
    ),
    (
        _with_repository(_RevisionsWithoutVersionCheck),
        CASES.test_a_plans_revisions_and_comments_are_kept_in_order_and_the_alert_shows_the_current_one,
    ),
    (
        _with_repository(_RemindsEveryTime),
        CASES.test_plans_past_due_are_found_reminded_of_once_per_due_date_and_again_for_a_new_date,
    ),
    (_WithoutRollback, CASES.test_a_transaction_that_raises_leaves_nothing_behind),
    (_WithoutRollback, CASES.test_a_series_has_one_active_alert_and_a_new_one_once_the_first_resolved),
    (_revoking_wrongly, CASES.test_a_persons_links_are_their_emails_and_a_revocation_is_kept_as_first_made),
    (_with_repository(_PositionsWithoutEpoch), CASES.test_a_batch_under_a_stale_epoch_is_refused_and_leaves_nothing),
    (
        _with_repository(_PositionsNotKept),
        CASES.test_positions_advance_with_their_batch_and_the_next_claim_returns_them,
    ),
    (_ClaimWithoutNewEpoch, CASES.test_a_claim_bumps_each_partitions_epoch_in_its_group_only),
    (_ClaimWithoutNewEpoch, CASES.test_a_batch_under_a_stale_epoch_is_refused_and_leaves_nothing),
    (_ClaimKeepsOtherClustersOffset, CASES.test_an_offset_stored_on_another_kafka_cluster_is_not_returned),
]


@pytest.mark.parametrize(
    ("wrong", "case"), WRONG_FAKES, ids=[f"{wrong.__name__}-{case.__name__[5:45]}" for wrong, case in WRONG_FAKES]
)
async def test_a_fake_that_is_wrong_on_purpose_fails_the_suite(
    wrong: Callable[[], InMemoryAlertsStore], case: Callable[..., Awaitable[None]]
) -> None:
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        await case(TestInMemoryAlertsStore(), fake_subject(wrong()))
