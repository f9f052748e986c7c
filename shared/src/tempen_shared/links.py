"""Personal links in alert e-mails: signed, expiring, bound to one notification (so to one recipient
and one alert). Alerts signs them when it writes an e-mail; the portal reads them and opens a session
for that recipient. Pure: no I/O, the time is passed in.

A link is `<payload>.<signature>`, both base64url without padding. The payload names the tenant, the
alert, the notification and when the link was made, never the recipient's address: the portal learns
who the recipient is from the alert's notifications, so an address never travels in a URL (where
proxies and browser histories keep it). The signature is HMAC-SHA256 under a secret the two services
share (`TEMPEN_LINK_SECRET`), over a purpose label and the payload, so a link cannot be altered, made
up, or reused as anything else. How long a link is valid is the tenant's setting
(`notifications.link_valid_days`), checked when it is read, so shortening it applies to links already
sent. Changing the secret revokes every link at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import orjson

_PURPOSE = b"tempen-alert-link-v1|"
MAX_LINK_CHARS = 400  # a link that long is not one of ours; refused before any work
MIN_SECRET_BYTES = 16


class LinkError(ValueError):
    """The link cannot be used; `reason` is one of: malformed, forged, expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"alert link {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AlertLink:
    tenant: str
    alert_id: str
    notification_id: UUID
    issued_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_secret(secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the link secret must have at least {MIN_SECRET_BYTES} bytes")


def _signature(secret: bytes, payload: str) -> bytes:
    return hmac.new(secret, _PURPOSE + payload.encode("ascii"), hashlib.sha256).digest()


def sign_link(secret: bytes, link: AlertLink) -> str:
    _check_secret(secret)
    payload = _b64(
        orjson.dumps(
            {
                "t": link.tenant,
                "a": link.alert_id,
                "n": str(link.notification_id),
                "i": int(link.issued_at.timestamp()),
            }
        )
    )
    return f"{payload}.{_b64(_signature(secret, payload))}"


def read_link(secret: bytes, token: str, *, now: datetime, valid_for: timedelta | None = None) -> AlertLink:
    """The link `token` stands for, if we signed it and (with `valid_for`) it has not expired.

    Raises LinkError. The signature is checked before anything in the payload is believed, and compared
    in constant time."""
    _check_secret(secret)
    if len(token) > MAX_LINK_CHARS or token.count(".") != 1:
        raise LinkError("malformed")
    payload, signature = token.split(".")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError) as exc:
        raise LinkError("malformed") from exc
    if not payload.isascii() or not hmac.compare_digest(given, _signature(secret, payload)):
        raise LinkError("forged")
    try:
        fields = orjson.loads(_unb64(payload))
        link = AlertLink(
            tenant=str(fields["t"]),
            alert_id=str(fields["a"]),
            notification_id=UUID(str(fields["n"])),
            issued_at=datetime.fromtimestamp(int(fields["i"]), tz=UTC),
        )
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise LinkError("malformed") from exc
    if valid_for is not None and now - link.issued_at > valid_for:
        raise LinkError("expired")
    return link
