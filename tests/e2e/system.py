"""The whole system as real processes for end-to-end and fault tests (a plain module, not a test file)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from tempen.supervisor import Supervisor
from tests.support import MailSink, child_environ, eventually, free_port


@asynccontextmanager
async def running_system(
    tmp_path: Path, config_dir: Path, *, ready_timeout_s: float = 90, portal: bool = False, **environ: str
) -> AsyncIterator[tuple[Supervisor, MailSink]]:
    """Ingest, scoring and alerts (and with `portal` the portal) under a supervisor, e-mail to a real
    SMTP server on loopback, short group timeouts so a killed consumer's partitions move on within
    seconds. `environ` is what the supervisor sees (no KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL: it starts
    its own broker / database)."""
    with MailSink() as mail:
        sup = Supervisor(
            config_dir=config_dir,
            state_dir=tmp_path / "state",
            environ=child_environ(**environ),
            ports={"ingest": free_port(), "scoring": free_port(), "alerts": free_port(), "portal": free_port()},
            selected=("ingest", "scoring", "alerts", "portal") if portal else ("ingest", "scoring", "alerts"),
            extra_env={
                "TEMPEN_KAFKA_SESSION_TIMEOUT_MS": "2000",
                "TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS": "300",
                "TEMPEN_KAFKA_MAX_BATCH": "200",
                "TEMPEN_ALERTS_SMTP_HOST": "127.0.0.1",
                "TEMPEN_ALERTS_SMTP_PORT": str(mail.port),
                "TEMPEN_ALERTS_SWEEP_INTERVAL_S": "1",
                "TEMPEN_ALERTS_NOTIFY_LEASE_S": "3",
            },
        )
        await asyncio.to_thread(sup.start_infrastructure)  # the supervisor is synchronous, like `tempen up`
        try:
            await asyncio.to_thread(sup.start_services)  # the portal's token is made on its own event loop
            await asyncio.to_thread(sup.wait_ready, timeout_s=ready_timeout_s)
            yield sup, mail
        finally:
            await asyncio.to_thread(sup.stop)


async def settled(conn: asyncpg.Connection) -> bool:
    """Both outboxes drained and every notification delivered (or in doubt)."""
    backlog = await conn.fetchval(
        "SELECT (SELECT count(*) FROM scoring.outbox WHERE published_at IS NULL)"
        " + (SELECT count(*) FROM scoring.slice_versions WHERE scored_version < version)"
        " + (SELECT count(*) FROM scoring.score_groups WHERE revision >"
        " coalesce((SELECT position FROM scoring.relay_positions ORDER BY updated_at DESC LIMIT 1), 0))"
        " + (SELECT count(*) FROM alerts.outbox WHERE published_at IS NULL)"
        " + (SELECT count(*) FROM alerts.notifications WHERE state IN ('pending', 'sending'))"
        " + (SELECT count(*) FROM alerts.series WHERE rejudge)"
    )
    alerts = await conn.fetchval("SELECT count(*) FROM alerts.alerts")
    return bool(backlog == 0 and alerts > 0)


async def wait_for_first_alert(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await eventually(lambda: conn.fetchval("SELECT count(*) FROM alerts.transitions"), timeout_s=120)
    finally:
        await conn.close()
