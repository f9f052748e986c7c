"""Delivers notification rows: over SMTP, or to a local mail folder when no SMTP server is configured.

Never twice: a row is claimed (state 'sending', committed) before delivery and marked 'sent' after.
A process killed between the two leaves the row 'sending'; at start-up such rows become 'in_doubt'
and are NOT delivered again (the server may have accepted the message). They are counted, alerted
on, and an operator decides (see docs/operations.md). The window is the few milliseconds of one SMTP
transaction. Delivery to the mail folder is idempotent (the file name is the notification id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib
import asyncpg

from tempen_alerts.metrics import AlertsMetrics
from tempen_shared.db import TRANSIENT_DB_ERRORS

logger = logging.getLogger(__name__)
SCHEMA = "alerts"


@dataclass(frozen=True, slots=True)
class Outgoing:
    notification_id: str
    tenant: str
    recipient: str
    subject: str
    body_text: str
    body_html: str
    created_at: datetime


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    channel: str

    async def send(self, message: Outgoing, *, from_address: str) -> None:
        """Deliver once. Raise DeliveryError(permanent=...) when it was not delivered."""
        ...


def build_email(message: Outgoing, *, from_address: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = from_address
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    # A stable Message-ID lets a mail system recognise the same notification if an operator resends it.
    email["Message-ID"] = f"<{message.notification_id}@tempen>"
    email["X-Tempen-Notification"] = message.notification_id
    email.set_content(message.body_text)
    email.add_alternative(message.body_html, subtype="html")
    return email


class SmtpSender:
    channel = "email"

    def __init__(
        self, *, host: str, port: int, username: str | None, password: str | None, starttls: bool, timeout_s: float
    ) -> None:
        self._host, self._port = host, port
        self._username, self._password = username, password
        self._starttls, self._timeout = starttls, timeout_s

    async def send(self, message: Outgoing, *, from_address: str) -> None:
        try:
            await aiosmtplib.send(
                build_email(message, from_address=from_address),
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.code}: {exc.message}", permanent=500 <= exc.code < 600) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP unavailable: {exc!r}", permanent=False) from exc


class MailFolderSender:
    """Writes each e-mail as an .eml file (what `make run` does when no SMTP server is configured)."""

    channel = "mailfolder"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: Outgoing, *, from_address: str) -> None:
        target = self.folder / message.tenant / f"{message.notification_id}.eml"
        data = bytes(build_email(message, from_address=from_address))
        await asyncio.to_thread(_write_atomically, target, data)


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, target)


class Notifier:
    def __init__(
        self,
        pool: asyncpg.Pool,
        sender: Sender,
        metrics: AlertsMetrics,
        *,
        from_address: Callable[[str], str],
        max_attempts: int,
        backoff_s: float,
        on_failed: Callable[[Outgoing, str], Awaitable[None]] | None = None,
    ) -> None:
        self._pool = pool
        self._sender = sender
        self._metrics = metrics
        self._from = from_address
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._on_failed = on_failed
        self._wake = asyncio.Event()
        self._stopping = False

    def notify(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def mark_in_doubt(self) -> int:
        status = await self._pool.execute(
            f"UPDATE {SCHEMA}.notifications SET state = 'in_doubt', last_error = 'process stopped during delivery'"
            " WHERE state = 'sending'"
        )
        count = int(status.split()[-1])
        if count:
            logger.error("%d notifications were being delivered when the process stopped; marked in_doubt", count)
            self._metrics.notifications.labels(self._sender.channel, "in_doubt").inc(count)
        return count

    async def run(self) -> None:
        await self.mark_in_doubt()
        while not self._stopping:
            try:
                sent = await self.deliver_due()
            except TRANSIENT_DB_ERRORS as exc:
                logger.warning("notifier paused: database unavailable (%r)", exc)
                sent = 0
            if sent == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                self._wake.clear()

    async def deliver_due(self, limit: int = 20) -> int:
        rows = await self._pool.fetch(
            f"""UPDATE {SCHEMA}.notifications SET state = 'sending', attempts = attempts + 1
                WHERE notification_id IN (
                    SELECT notification_id FROM {SCHEMA}.notifications
                    WHERE state = 'pending' AND next_attempt_at <= now()
                    ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
                RETURNING notification_id, tenant, recipient, subject, body_text, body_html, created_at, attempts""",
            limit,
        )
        for row in rows:
            message = Outgoing(
                str(row["notification_id"]),
                row["tenant"],
                row["recipient"],
                row["subject"],
                row["body_text"],
                row["body_html"],
                row["created_at"],
            )
            await self._deliver(message, row["attempts"])
        return len(rows)

    async def _deliver(self, message: Outgoing, attempts: int) -> None:
        channel = self._sender.channel
        try:
            await self._sender.send(message, from_address=self._from(message.tenant))
        except DeliveryError as exc:
            if exc.permanent or attempts >= self._max_attempts:
                await self._pool.execute(
                    f"UPDATE {SCHEMA}.notifications SET state = 'failed', last_error = $2 WHERE notification_id = $1",
                    message.notification_id,
                    str(exc)[:1000],
                )
                self._metrics.notifications.labels(channel, "failed").inc()
                logger.warning("notification %s failed after %d attempts: %s", message.notification_id, attempts, exc)
                if self._on_failed:
                    await self._on_failed(message, str(exc))
            else:
                delay = min(3600.0, self._backoff_s * 2 ** (attempts - 1))
                await self._pool.execute(
                    f"""UPDATE {SCHEMA}.notifications SET state = 'pending', last_error = $2,
                        next_attempt_at = now() + make_interval(secs => $3) WHERE notification_id = $1""",
                    message.notification_id,
                    str(exc)[:1000],
                    delay,
                )
                self._metrics.notifications.labels(channel, "retried").inc()
            return
        await self._pool.execute(
            f"UPDATE {SCHEMA}.notifications SET state = 'sent', sent_at = now(), last_error = NULL"
            " WHERE notification_id = $1",
            message.notification_id,
        )
        self._metrics.notifications.labels(channel, "sent").inc()
        self._metrics.delivery_latency.observe(max(0.0, (datetime.now(UTC) - message.created_at).total_seconds()))
