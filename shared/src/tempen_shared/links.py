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

A personal sign-in link (`SignInLink`, `/s/<token>` in the portal) is another kind: an operator issues it
for someone without the municipality's identity provider (or for the demo). It is signed under its own
purpose label, so neither kind can ever pass for the other; it names its person only by a keyed digest
of their address (the portal finds them among the tenant's HR address and managers), carries the page
to open and when it expires.
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
_SIGN_IN_PURPOSE = b"tempen-sign-in-link-v1|"
_PERSON_PURPOSE = b"tempen-sign-in-person-v1|"
MAX_NEXT_CHARS = 200
MAX_LINK_CHARS = 640  # a link that long is not one of ours (a sign-in link with its longest path is ~520)
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


def _signature(secret: bytes, payload: str, purpose: bytes = _PURPOSE) -> bytes:
    return hmac.new(secret, purpose + payload.encode("ascii"), hashlib.sha256).digest()


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


def _verified_payload(secret: bytes, token: str, purpose: bytes) -> str:
    """The payload of `token` once its signature under `purpose` is checked (in constant time)."""
    _check_secret(secret)
    if len(token) > MAX_LINK_CHARS or token.count(".") != 1:
        raise LinkError("malformed")
    payload, signature = token.split(".")
    try:
        given = _unb64(signature)
    except (binascii.Error, ValueError) as exc:
        raise LinkError("malformed") from exc
    if not payload.isascii() or not hmac.compare_digest(given, _signature(secret, payload, purpose)):
        raise LinkError("forged")
    return payload


def read_link(secret: bytes, token: str, *, now: datetime, valid_for: timedelta | None = None) -> AlertLink:
    """The link `token` stands for, if we signed it and (with `valid_for`) it has not expired.

    Raises LinkError. The signature is checked before anything in the payload is believed, and compared
    in constant time."""
    payload = _verified_payload(secret, token, _PURPOSE)
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


@dataclass(frozen=True, slots=True)
class SignInLink:
    """An operator-issued personal sign-in link: opens a session for one person of one tenant, until
    `expires_at`, on the local page `next_path`."""

    tenant: str
    person_digest: str  # person_digest(secret, tenant, address): who, without the address in the URL
    next_path: str
    issued_at: datetime
    expires_at: datetime


def person_digest(secret: bytes, tenant: str, address: str) -> str:
    """A keyed digest of a person's address within a tenant (lower-cased): the same person gives the same
    digest, and without the secret nobody can tell whose it is by trying addresses."""
    _check_secret(secret)
    message = _PERSON_PURPOSE + f"{tenant}|{address.strip().lower()}".encode()
    return _b64(hmac.new(secret, message, hashlib.sha256).digest()[:16])


def sign_sign_in_link(secret: bytes, link: SignInLink) -> str:
    _check_secret(secret)
    if not is_local_path(link.next_path):
        raise ValueError("a sign-in link opens a path on the portal itself, e.g. /t/hjo/")
    payload = _b64(
        orjson.dumps(
            {
                "t": link.tenant,
                "p": link.person_digest,
                "x": link.next_path,
                "i": int(link.issued_at.timestamp()),
                "e": int(link.expires_at.timestamp()),
            }
        )
    )
    return f"{payload}.{_b64(_signature(secret, payload, _SIGN_IN_PURPOSE))}"


def read_sign_in_link(secret: bytes, token: str, *, now: datetime) -> SignInLink:
    """The sign-in link `token` stands for, if we signed it as one and it has not expired. Raises LinkError;
    an alert link is "forged" here, as a sign-in link is to `read_link`."""
    payload = _verified_payload(secret, token, _SIGN_IN_PURPOSE)
    try:
        fields = orjson.loads(_unb64(payload))
        link = SignInLink(
            tenant=str(fields["t"]),
            person_digest=str(fields["p"]),
            next_path=str(fields["x"]),
            issued_at=datetime.fromtimestamp(int(fields["i"]), tz=UTC),
            expires_at=datetime.fromtimestamp(int(fields["e"]), tz=UTC),
        )
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise LinkError("malformed") from exc
    if not is_local_path(link.next_path):
        raise LinkError("malformed")
    if now >= link.expires_at:
        raise LinkError("expired")
    return link


def is_local_path(candidate: str) -> bool:
    """Whether `candidate` is a path on this site (never another host, a scheme, or control characters)."""
    return (
        0 < len(candidate) <= MAX_NEXT_CHARS
        and candidate.startswith("/")
        and not candidate.startswith("//")
        and "\\" not in candidate
        and candidate.isascii()
        and all(32 < ord(c) < 127 for c in candidate)
    )
