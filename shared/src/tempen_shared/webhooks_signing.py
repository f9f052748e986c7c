"""Standard Webhooks signatures (https://www.standardwebhooks.com/, spec/standard-webhooks.md), pure.

A sender puts three headers on each delivery: `webhook-id` (stable across retries of the same
message, so the receiver can refuse duplicates), `webhook-timestamp` (whole seconds since the epoch,
the time of this attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256>` of
`{webhook-id}.{webhook-timestamp}.{body}`). The key is the base64 part of a `whsec_...` secret.
The body is signed exactly as sent: a receiver must verify the raw bytes before parsing them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks marker, not a secret
DEFAULT_TOLERANCE = timedelta(minutes=5)


class WebhookVerificationError(ValueError):
    """The delivery cannot be shown to come from the sender holding the secret: answer 400/401, do not parse it."""


def generate_secret(num_bytes: int = 32) -> str:
    """A new random signing secret in the `whsec_<base64>` form (24 to 64 bytes are sensible)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(num_bytes)).decode("ascii")


def signing_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_...` secret (the prefix is optional).

    Raises:
        ValueError: the secret is empty or not base64; the message never repeats it.
    """
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret is not base64 after the whsec_ prefix") from None
    if not key:
        raise ValueError("the webhook secret is empty")
    return key


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one delivery attempt: `v1,<base64>`."""
    return "v1," + base64.b64encode(_digest(signing_key(secret), msg_id, str(timestamp), body)).decode("ascii")


def signed_headers(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for one delivery attempt of `body`."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body),
    }


def verify(
    *,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> str:
    """Check a delivery's Standard Webhooks headers against its raw body; returns its `webhook-id`.

    `webhook-signature` may hold several space-separated entries (during a secret rotation); one
    matching `v1` entry is enough. A timestamp further than `tolerance` from `now` is refused, which
    bounds replays; the receiver refuses repeats within that window by `webhook-id`.

    Raises:
        WebhookVerificationError: a header is missing or malformed, the timestamp is stale, or no
            signature matches.
        ValueError: `now` is naive or the secret is not base64 (a configuration error).
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    key = signing_key(secret)
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    timestamp = lowered.get("webhook-timestamp", "")
    presented = lowered.get("webhook-signature", "")
    if not (msg_id and timestamp and presented):
        raise WebhookVerificationError("webhook-id, webhook-timestamp and webhook-signature are all required")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise WebhookVerificationError("webhook-timestamp is not whole seconds since the epoch")
    if abs(now.timestamp() - int(timestamp)) > tolerance.total_seconds():
        raise WebhookVerificationError("webhook-timestamp is too far from now")
    expected = _digest(key, msg_id, timestamp, body)
    for entry in presented.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, candidate):
            return msg_id
    raise WebhookVerificationError("no webhook-signature entry matches the body")


def _digest(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
