"""Alerts route against the org as it was in the alert's period, from its own copy of tempen.org."""

from __future__ import annotations

from datetime import UTC, date, datetime

import asyncpg
from aiokafka import AIOKafkaProducer

from tempen_shared.events import OrgUnitVersioned, org_event_id
from tempen_shared.tenancy.loader import read_org_file
from tempen_shared.topics import ORG, partition_key
from tests.alerts.integration.support import (
    FIXTURE_CONFIG,
    NEXT_LEVEL,
    SmtpSink,
    publish_scores,
    running_alerts,
    unit_scores,
)
from tests.conftest import Infra
from tests.support import eventually

NEW_HEAD = "frida@testkommun.example"  # heads the förvaltning from 2026-03-01


async def publish_reorganisation(bootstrap: str, prefix: str) -> None:
    units = read_org_file(FIXTURE_CONFIG / "org" / "testkommun.csv")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for unit in units:
            manager = (
                ("Frida Ny", NEW_HEAD)
                if unit.id == "forv"
                else ((unit.manager.name, unit.manager.email) if unit.manager else (None, None))
            )
            event = OrgUnitVersioned(
                event_id=org_event_id("testkommun", 1, unit.id),
                occurred_at=datetime.now(UTC),
                tenant="testkommun",
                version=1,
                effective_from=date(2026, 3, 1),
                unit_count=len(units),
                unit=unit.id,
                name=unit.name,
                parent=unit.parent,
                manager_name=manager[0],
                manager_email=manager[1],
                headcount=unit.headcount,
            )
            await producer.send_and_wait(
                f"{prefix}{ORG.name}", event.model_dump_json().encode(), key=partition_key("testkommun", unit.id)
            )
    finally:
        await producer.stop()


async def test_an_alert_goes_to_whoever_was_the_next_level_in_the_alerts_period(
    infra: Infra, database_url: str, topic_prefix: str
) -> None:
    with SmtpSink() as sink:
        async with running_alerts(
            bootstrap_servers=infra.bootstrap_servers,
            database_url=database_url,
            topic_prefix=topic_prefix,
            smtp_port=sink.port,
        ):
            await publish_reorganisation(infra.bootstrap_servers, topic_prefix)
            conn = await asyncpg.connect(database_url)
            try:
                await eventually(lambda: conn.fetchval("SELECT count(*) = 6 FROM alerts.org_units"), timeout_s=30)
                # Low in January and February (before the change): Bo was the next level then.
                await publish_scores(
                    infra.bootstrap_servers,
                    topic_prefix,
                    [
                        *unit_scores(2026, 1, 40.0, dimensions=["ledarskap"]),
                        *unit_scores(2026, 2, 40.0, dimensions=["ledarskap"]),
                    ],
                )
                # Low in April and May (after it): Frida is.
                await publish_scores(
                    infra.bootstrap_servers,
                    topic_prefix,
                    [
                        *unit_scores(2026, 4, 40.0, dimensions=["motivation"]),
                        *unit_scores(2026, 5, 40.0, dimensions=["motivation"]),
                    ],
                )
                await eventually(
                    lambda: conn.fetchval(
                        "SELECT count(*) = 2 FROM alerts.notifications WHERE recipient_role = 'next_level'"
                        " AND state = 'sent'"
                    ),
                    timeout_s=60,
                )
                rows = await conn.fetch(
                    "SELECT a.dimension, n.recipient FROM alerts.notifications n JOIN alerts.alerts a USING (alert_id)"
                    " WHERE n.recipient_role = 'next_level'"
                )
            finally:
                await conn.close()
    assert {(r["dimension"], r["recipient"]) for r in rows} == {("ledarskap", NEXT_LEVEL), ("motivation", NEW_HEAD)}
