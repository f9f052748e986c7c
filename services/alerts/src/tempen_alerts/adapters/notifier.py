"""Delivers notification rows: e-mail over SMTP (or to a local mail folder when no SMTP server is
configured) and signed webhooks.

Never twice: a row is claimed (state 'sending', committed) before delivery and marked 'sent' after,
one row at a time. A process killed between the two leaves that one row 'sending'; once its claim is
older than the lease (longer than any delivery takes, so never a row a live replica is delivering)
it becomes 'in_doubt' and is NOT delivered again (the server may have accepted the message). They
are counted, alerted on, and an operator decides (see docs/operations.md). The window is one SMTP
transaction or one HTTP request. A graceful stop finishes the delivery in hand and claims nothing
more. Delivery to the mail folder is idempotent (the file name is the notification id).

Temporary refusals (SMTP 4xx, HTTP 408/429/5xx, network errors) are retried with exponential
backoff; permanent ones (SMTP 5xx, other HTTP 4xx, an address with å, ä or ö before the @ when the
relay does not offer SMTPUTF8), or the last allowed attempt, end 'failed' with a dead letter on
`<prefix>tempen.alerts.dlq` (reason `notification_failed`) in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib
import asyncpg
import httpx
import orjson
import structlog

from tempen_alerts.metrics import AlertsMetrics
from tempen_shared import correlation
from tempen_shared.clock import Clock, utc_now
from tempen_shared.db import TRANSIENT_DB_ERRORS
from tempen_shared.events import DeadLetter
from tempen_shared.logs import redact_emails
from tempen_shared.outbox import dead_letter_messages, enqueue
from tempen_shared.tenancy.addresses import SMTPUTF8_ADVICE, AddressError, MailAddress, sending_form
from tempen_shared.webhooks_signing import signed_headers

logger = logging.getLogger(__name__)
trace: structlog.typing.FilteringBoundLogger = structlog.get_logger("tempen.alerts.notifications")
SCHEMA = "alerts"
EMAIL_CHANNELS = ("email", "mailfolder")  # whichever e-mail sender is configured now delivers both
WEBHOOK_CHANNELS = ("webhook",)
MAX_BACKOFF_S = 3600.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    notification_id: str
    tenant: str
    alert_id: str
    channel: str
    recipient: str
    subject: str
    body_text: str
    body_html: str
    created_at: datetime
    correlation_id: str | None = None  # of the score event behind the transition, if one was


class DeliveryError(Exception):
    """`reason` labels a permanent failure in tempen_notification_failures_total (a small fixed set)."""

    def __init__(self, message: str, *, permanent: bool, reason: str = "permanent") -> None:
        super().__init__(message)
        self.permanent = permanent
        self.reason = reason


class Sender(Protocol):
    channel: str  # the metric label

    async def send(self, message: Outgoing) -> None:
        """Deliver once. Raise DeliveryError(permanent=...) when it was not delivered."""
        ...


def build_email(message: Outgoing, *, from_address: str) -> EmailMessage:
    """The e-mail for `message`, its addresses in sending form (domains as IDNA2008 ASCII).

    Only an address with a non-ASCII local part makes the message UTF-8 (RFC 6532): written as
    encoded-words instead, the address would be invalid (RFC 2047 forbids them in an address), and
    a relay must then offer SMTPUTF8 (see `needs_smtputf8`).

    Raises:
        DeliveryError: permanent, when an address cannot be written for sending at all.
    """
    sender = _address(from_address, "the sender address (notifications.from_address)")
    recipient = _address(message.recipient, "the recipient's address")
    utf8 = sender.needs_smtputf8 or recipient.needs_smtputf8
    email = EmailMessage(policy=policy.default.clone(utf8=True) if utf8 else policy.default)
    email["From"] = sender.for_transport
    email["To"] = recipient.for_transport
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    # A stable Message-ID lets a mail system recognise the same notification if an operator resends it.
    email["Message-ID"] = f"<{message.notification_id}@tempen>"
    email["X-Tempen-Notification"] = message.notification_id
    email.set_content(message.body_text)
    email.add_alternative(message.body_html, subtype="html")
    return email


def needs_smtputf8(email: EmailMessage) -> bool:
    """Whether only a relay offering SMTPUTF8 can carry `email` (an address has å, ä, ö before the @)."""
    return bool(getattr(email.policy, "utf8", False))


def _address(text: str, what: str) -> MailAddress:
    try:
        return sending_form(text)
    except AddressError as exc:
        raise DeliveryError(
            f"{what} cannot be sent to: {exc.reason}; correct it in the org file or tenant settings",
            permanent=True,
            reason="invalid_address",
        ) from None


def smtp_failure(exc: aiosmtplib.SMTPException | OSError) -> DeliveryError:
    """How a failed SMTP send is retried: only a 5xx reply is permanent.

    A refused recipient is permanent only when every refusal is 5xx: greylisting answers RCPT TO with
    450/451, and giving up on that would drop the notification at the first try.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [refusal.code for refusal in exc.recipients]
        permanent = bool(codes) and all(500 <= code < 600 for code in codes)
        return DeliveryError(f"recipient refused: {', '.join(map(str, codes)) or 'no reply'}", permanent=permanent)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return DeliveryError(f"SMTP {exc.code}: {exc.message}", permanent=500 <= exc.code < 600)
    return DeliveryError(f"SMTP unavailable: {exc!r}", permanent=False)


class SmtpSender:
    channel = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        starttls: bool,
        timeout_s: float,
        from_address: Callable[[str], str],
    ) -> None:
        self._host, self._port = host, port
        self._username, self._password = username, password
        self._starttls, self._timeout = starttls, timeout_s
        self._from = from_address

    async def send(self, message: Outgoing) -> None:
        email = build_email(message, from_address=self._from(message.tenant))
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._starttls,
            timeout=self._timeout,
        )
        try:
            async with client:
                if needs_smtputf8(email):
                    await _require_smtputf8(client, email)
                await client.send_message(email)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise smtp_failure(exc) from exc


async def _require_smtputf8(client: aiosmtplib.SMTP, email: EmailMessage) -> None:
    """Refuse for good, before MAIL FROM, what this relay cannot carry: it will not learn SMTPUTF8 by a retry.

    aiosmtplib would raise SMTPNotSupported, which tells a refusal for now from one for good no better
    than "not supported", so the extension is checked here, where the reason can say what to do.
    """
    if client.is_ehlo_or_helo_needed:
        await client.ehlo()
    if client.supports_extension("smtputf8"):
        return
    recipient_needs = not str(email["To"]).isascii()
    raise DeliveryError(
        SMTPUTF8_ADVICE
        if recipient_needs
        else "the relay does not support SMTPUTF8, which the sender address (notifications.from_address) needs; "
        "ask the mail admin to enable it or set an ASCII from_address",
        permanent=True,
        reason="smtputf8_unsupported",
    )


class MailFolderSender:
    """Writes each e-mail as an .eml file (what `make run` does when no SMTP server is configured)."""

    channel = "mailfolder"

    def __init__(self, folder: Path, *, from_address: Callable[[str], str]) -> None:
        self.folder = folder
        self._from = from_address

    async def send(self, message: Outgoing) -> None:
        target = self.folder / message.tenant / f"{message.notification_id}.eml"
        data = bytes(build_email(message, from_address=self._from(message.tenant)))
        await asyncio.to_thread(_write_atomically, target, data)


def _write_atomically(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, target)


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    secret: str | None  # the resolved `whsec_...` secret; None when the reference resolves to nothing


class WebhookSender:
    """POSTs the stored JSON body with Standard Webhooks headers; `webhook-id` is the notification id.

    The URL and the secret are read from the tenant's configuration at each delivery, so a rotated
    secret or a moved endpoint applies to what is still pending. Redirects are not followed.
    """

    channel = "webhook"

    def __init__(
        self,
        *,
        target: Callable[[str], WebhookTarget | None],
        timeout_s: float,
        clock: Clock = utc_now,
        user_agent: str = "tempen-alerts",
    ) -> None:
        self._target = target
        self._clock = clock
        self._client = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._user_agent = user_agent

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, message: Outgoing) -> None:
        target = self._target(message.tenant)
        if target is None:
            raise DeliveryError("the tenant has no webhook_url any more", permanent=True)
        if not target.secret:
            raise DeliveryError(
                "webhook_secret is not set or resolves to nothing; deliveries are never unsigned", permanent=True
            )
        body = message.body_text.encode("utf-8")
        try:
            headers = signed_headers(
                secret=target.secret,
                msg_id=message.notification_id,
                timestamp=int(self._clock().timestamp()),
                body=body,
            )
        except ValueError as exc:
            raise DeliveryError(str(exc), permanent=True) from None
        headers.update({"content-type": "application/json", "user-agent": self._user_agent})
        try:
            response = await self._client.post(target.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable: {type(exc).__name__}", permanent=False) from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        retry = status in (408, 425, 429) or status >= 500
        raise DeliveryError(f"webhook answered HTTP {status}", permanent=not retry)


class Notifier:
    """Delivers the rows of `channels` with one sender, one row at a time."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        sender: Sender,
        metrics: AlertsMetrics,
        *,
        channels: Sequence[str],
        max_attempts: int,
        backoff_s: float,
        dead_letter_topic: str,
        on_commit: Callable[[], None] = lambda: None,
        clock: Clock = utc_now,
        lease_s: float = 120.0,
    ) -> None:
        self._pool = pool
        self._lease_s = lease_s
        self._sender = sender
        self._metrics = metrics
        self._channels = list(channels)
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._dead_letter_topic = dead_letter_topic
        self._on_commit = on_commit
        self._clock = clock
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def channel(self) -> str:
        return self._sender.channel

    def notify(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the delivery in hand, then return from `run` without claiming another row."""
        self._stopping = True
        self._wake.set()

    async def mark_in_doubt(self, *, lease_s: float | None = None) -> int:
        """Rows claimed longer ago than the lease (longer than any delivery takes) whose process died."""
        status = await self._pool.execute(
            f"""UPDATE {SCHEMA}.notifications SET state = 'in_doubt', last_error = 'process stopped during delivery'
                WHERE state = 'sending' AND channel = ANY($1::text[])
                  AND (claimed_at IS NULL OR claimed_at < now() - make_interval(secs => $2))""",
            self._channels,
            self._lease_s if lease_s is None else lease_s,
        )
        count = int(status.split()[-1])
        if count:
            logger.error("%d notifications were being delivered when the process stopped; marked in_doubt", count)
            self._metrics.notifications.labels(self.channel, "in_doubt").inc(count)
        return count

    async def run(self) -> None:
        last_check = 0.0
        while not self._stopping:
            if time.monotonic() - last_check > min(30.0, self._lease_s / 2):
                last_check = time.monotonic()
                with contextlib.suppress(*TRANSIENT_DB_ERRORS):
                    await self.mark_in_doubt()
            try:
                sent = await self.deliver_due()
            except TRANSIENT_DB_ERRORS as exc:
                logger.warning("notifier paused: database unavailable (%r)", exc)
                sent = 0
            if sent == 0 and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                self._wake.clear()

    async def deliver_due(self, limit: int = 20) -> int:
        """Deliver up to `limit` due rows; returns how many were attempted."""
        done = 0
        while done < limit and not self._stopping:
            # One row per claim: rows claimed in a batch would all turn in_doubt if the process died while
            # the first was being delivered, and the others would never be sent.
            row = await self._pool.fetchrow(
                f"""UPDATE {SCHEMA}.notifications n
                    SET state = 'sending', attempts = n.attempts + 1, claimed_at = now()
                    WHERE n.notification_id = (
                        SELECT notification_id FROM {SCHEMA}.notifications
                        WHERE state = 'pending' AND channel = ANY($1::text[]) AND next_attempt_at <= now()
                        ORDER BY created_at, notification_id LIMIT 1 FOR UPDATE SKIP LOCKED)
                    RETURNING n.notification_id, n.tenant, n.alert_id, n.channel, n.recipient, n.subject,
                        n.body_text, n.body_html, n.created_at, n.attempts,
                        -- A plan reminder belongs to no transition, and so has no correlation id of its own.
                        (SELECT t.correlation_id FROM {SCHEMA}.transitions t
                         WHERE t.transition_id = n.transition_id) AS correlation_id""",
                self._channels,
            )
            if row is None:
                break
            message = Outgoing(
                notification_id=str(row["notification_id"]),
                tenant=row["tenant"],
                alert_id=row["alert_id"],
                channel=row["channel"],
                recipient=row["recipient"],
                subject=row["subject"],
                body_text=row["body_text"],
                body_html=row["body_html"],
                created_at=row["created_at"],
                correlation_id=row["correlation_id"],
            )
            with correlation.bound(message.correlation_id, alert_id=message.alert_id):
                await self._deliver(message, row["attempts"])
            done += 1
        return done

    async def _deliver(self, message: Outgoing, attempts: int) -> None:
        channel = self.channel
        try:
            await self._sender.send(message)
        except DeliveryError as exc:
            if exc.permanent or attempts >= self._max_attempts:
                await self._fail(message, attempts, str(exc), exc.reason if exc.permanent else "attempts_exhausted")
            else:
                delay = min(MAX_BACKOFF_S, self._backoff_s * 2 ** (attempts - 1))
                await self._pool.execute(
                    f"""UPDATE {SCHEMA}.notifications SET state = 'pending', last_error = $2,
                        next_attempt_at = now() + make_interval(secs => $3) WHERE notification_id = $1""",
                    message.notification_id,
                    str(exc)[:1000],
                    delay,
                )
                self._metrics.notifications.labels(channel, "retried").inc()
                trace.info(
                    "notification attempt failed; retrying",
                    notification_id=message.notification_id,
                    channel=channel,
                    attempt=attempts,
                    error=redact_emails(str(exc)),
                    retry_in_s=round(delay, 1),
                )
            return
        await self._pool.execute(
            f"UPDATE {SCHEMA}.notifications SET state = 'sent', sent_at = now(), last_error = NULL"
            " WHERE notification_id = $1",
            message.notification_id,
        )
        self._metrics.notifications.labels(channel, "sent").inc()
        self._metrics.delivery_latency.observe(max(0.0, (self._clock() - message.created_at).total_seconds()))
        # Never the recipient: the channel and the ids find it in alerts.notifications when needed.
        trace.info("notification sent", notification_id=message.notification_id, tenant=message.tenant, channel=channel)

    async def _fail(self, message: Outgoing, attempts: int, error: str, reason: str) -> None:
        letter = DeadLetter(
            source_topic=self._dead_letter_topic,
            partition=-1,
            offset=-1,
            key=message.tenant,
            # Ids only: the recipient's address and the message stay in alerts.notifications.
            value=orjson.dumps(
                {
                    "notification_id": message.notification_id,
                    "alert_id": message.alert_id,
                    "tenant": message.tenant,
                    "channel": message.channel,
                    "attempts": attempts,
                }
            ).decode(),
            reason="notification_failed",
            detail=redact_emails(error)[:500],
            consumer="alerts-notifier",
            dead_lettered_at=self._clock(),
            correlation_id=message.correlation_id,
        )
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"UPDATE {SCHEMA}.notifications SET state = 'failed', last_error = $2 WHERE notification_id = $1",
                message.notification_id,
                error[:1000],
            )
            await enqueue(conn, SCHEMA, dead_letter_messages([letter]))
        self._on_commit()
        self._metrics.notifications.labels(self.channel, "failed").inc()
        self._metrics.notification_failures.labels(self.channel, reason).inc()
        trace.warning(
            "notification failed",
            notification_id=message.notification_id,
            tenant=message.tenant,
            channel=self.channel,
            attempts=attempts,
            reason=reason,
            error=redact_emails(error),
        )
