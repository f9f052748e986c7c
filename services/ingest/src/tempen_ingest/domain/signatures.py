"""Verifying that a delivery comes from the survey platform: pure functions over the raw request bytes.

Every check runs on the body exactly as received, before any JSON parsing: re-serialising a body
changes its bytes and breaks the signature. Comparisons use `hmac.compare_digest`.

- Formbricks signs with Standard Webhooks (https://github.com/standard-webhooks/standard-webhooks,
  spec/standard-webhooks.md): headers `webhook-id`, `webhook-timestamp`, `webhook-signature`.
- Typeform signs with `Typeform-Signature: sha256=<base64 HMAC-SHA256 of the body>`
  (https://www.typeform.com/developers/webhooks/secure-your-webhooks/).
- KoboToolbox REST services sign nothing; they send HTTP basic auth or custom headers
  (kobotoolbox/kpi, kobo/apps/hook/models/service_definition_interface.py).
- SurveyMonkey signs with `Sm-Signature: <base64 HMAC-SHA1 of the body>`, keyed `api_key&api_secret`
  (github.com/SurveyMonkey/public_api_docs, includes/_webhooks.md, "Webhook Callbacks").
- Qualtrics, when the event subscription has a `sharedKey`, posts the form fields `Topic`, `MSG` (the
  event as JSON) and `HMAC`, the hex HMAC-SHA512 of `MSG` keyed with the shared key. Qualtrics'
  reference names `sharedKey` but not the algorithm; it is what Qualtrics sends (XM Community,
  "HMAC signatures for webhook subscriptions", 2020) and what SAP's Qualtrics gateway checks, with a
  known-answer test (github.com/kyma-incubator/connector-tools, qualtrics-event-gw/pkg/hmac).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import parse_qsl

SignatureFailure = Literal["missing_header", "malformed", "bad_signature", "stale_timestamp", "bad_credentials"]

STANDARD_WEBHOOK_TOLERANCE = timedelta(minutes=5)
_SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks marker, not a secret


class SignatureError(ValueError):
    """The delivery cannot be shown to come from the platform; answer 401 and do not parse the body."""

    def __init__(self, reason: SignatureFailure, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: SignatureFailure = reason


def sign_standard_webhook(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value a Standard Webhooks sender puts on `body`: `v1,<base64>`."""
    digest = _standard_webhook_digest(_decode_secret(secret), msg_id, str(timestamp), body)
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_standard_webhook(
    *,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    tolerance: timedelta = STANDARD_WEBHOOK_TOLERANCE,
) -> str:
    """Check a Standard Webhooks delivery (Formbricks) and return its `webhook-id`.

    The `webhook-id` names the delivery, not the response: store it to refuse replays. The signed
    content is `{webhook-id}.{webhook-timestamp}.{body}`, keyed with the base64 part of the
    `whsec_...` secret. `webhook-signature` may carry several space-separated `v1,<sig>` entries
    (during secret rotation); one match is enough. Timestamps further than `tolerance` from `now`
    in either direction are refused.

    Raises:
        SignatureError: `missing_header`, `malformed`, `stale_timestamp` or `bad_signature`.
        ValueError: `now` is naive or the secret is not base64 (a configuration error).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    key = _decode_secret(secret)
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "").strip()
    timestamp = lowered.get("webhook-timestamp", "").strip()
    signatures = lowered.get("webhook-signature", "").strip()
    for name, value in (("webhook-id", msg_id), ("webhook-timestamp", timestamp), ("webhook-signature", signatures)):
        if not value:
            raise SignatureError("missing_header", f"{name} is missing")
    if not timestamp.isascii() or not timestamp.isdigit():
        raise SignatureError("malformed", "webhook-timestamp is not whole seconds since the epoch")
    skew = abs(now.timestamp() - int(timestamp))
    if skew > tolerance.total_seconds():
        raise SignatureError("stale_timestamp", f"webhook-timestamp is {skew:.0f} s from now")
    expected = _standard_webhook_digest(key, msg_id, timestamp, body)
    presented = [_v1_signature(entry) for entry in signatures.split()]
    if all(candidate is None for candidate in presented):
        raise SignatureError("malformed", "webhook-signature has no v1,<base64> entry")
    if not any(candidate is not None and hmac.compare_digest(expected, candidate) for candidate in presented):
        raise SignatureError("bad_signature", "no webhook-signature entry matches the body")
    return msg_id


def sign_typeform(*, secret: str, body: bytes) -> str:
    """The `Typeform-Signature` value Typeform sends with `body`: `sha256=<base64>`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode("ascii")


def verify_typeform(*, secret: str, signature_header: str | None, body: bytes) -> None:
    """Check a Typeform delivery's `Typeform-Signature` header against the raw body.

    Typeform signs nothing else (no timestamp), so replays are refused by the delivery id
    (`event_id` and `form_response.token`) that the parser returns.

    Raises:
        SignatureError: `missing_header`, `malformed` or `bad_signature`.
    """
    if not signature_header or not signature_header.strip():
        raise SignatureError("missing_header", "Typeform-Signature is missing")
    presented = signature_header.strip()
    if not presented.startswith("sha256="):
        raise SignatureError("malformed", "Typeform-Signature does not start with sha256=")
    if not hmac.compare_digest(sign_typeform(secret=secret, body=body).encode(), presented.encode()):
        raise SignatureError("bad_signature", "Typeform-Signature does not match the body")


def verify_shared_secret(*, expected: str, presented: str | None) -> None:
    """Check a shared secret sent as a header value (a KoboToolbox REST service's custom header).

    Raises:
        SignatureError: `missing_header` or `bad_credentials`.
        ValueError: `expected` is empty (a configuration error that would accept anything).
    """
    if not expected:
        raise ValueError("the expected shared secret is empty")
    if not presented:
        raise SignatureError("missing_header", "the shared-secret header is missing")
    if not _equal_in_constant_time(expected, presented):
        raise SignatureError("bad_credentials", "the shared secret does not match")


def verify_basic_auth(*, username: str, password: str, authorization_header: str | None) -> None:
    """Check HTTP basic credentials (a KoboToolbox REST service with "Basic Authorization").

    Raises:
        SignatureError: `missing_header`, `malformed` or `bad_credentials`.
        ValueError: the expected password is empty (a configuration error).
    """
    if not password:
        raise ValueError("the expected basic-auth password is empty")
    if not authorization_header or not authorization_header.strip():
        raise SignatureError("missing_header", "Authorization is missing")
    scheme, _, encoded = authorization_header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise SignatureError("malformed", "Authorization is not Basic credentials")
    try:
        raw = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        raise SignatureError("malformed", "Authorization credentials are not base64") from None
    credentials = _decode_credentials(raw)
    if ":" not in credentials:
        raise SignatureError("malformed", "Authorization credentials have no user:password separator")
    presented_user, _, presented_password = credentials.partition(":")
    # Both comparisons always run, so the time taken does not reveal which of the two was wrong.
    user_ok = _equal_in_constant_time(username, presented_user)
    password_ok = _equal_in_constant_time(password, presented_password)
    if not (user_ok & password_ok):
        raise SignatureError("bad_credentials", "basic-auth credentials do not match")


def sign_surveymonkey(*, api_key: str, api_secret: str, body: bytes) -> str:
    """The `Sm-Signature` value SurveyMonkey sends with `body`."""
    key = f"{api_key}&{api_secret}".encode()
    return base64.b64encode(hmac.new(key, body, hashlib.sha1).digest()).decode("ascii")


def verify_surveymonkey(*, api_key: str, api_secret: str, signature_header: str | None, body: bytes) -> None:
    """Check a SurveyMonkey webhook callback's `Sm-Signature` against the raw body.

    SurveyMonkey signs no time and no delivery id; a repeated callback names the same response,
    which is queued once (see `tempen_ingest.service`).

    Raises:
        SignatureError: `missing_header`, `malformed` or `bad_signature`.
        ValueError: the API key or secret is empty (a configuration error).
    """
    if not api_key or not api_secret:
        raise ValueError("the SurveyMonkey api_key or api_secret is empty")
    if not signature_header or not signature_header.strip():
        raise SignatureError("missing_header", "Sm-Signature is missing")
    try:
        presented = base64.b64decode(signature_header.strip(), validate=True)
    except binascii.Error:
        raise SignatureError("malformed", "Sm-Signature is not base64") from None
    expected = base64.b64decode(sign_surveymonkey(api_key=api_key, api_secret=api_secret, body=body))
    if not hmac.compare_digest(expected, presented):
        raise SignatureError("bad_signature", "Sm-Signature does not match the body")


QUALTRICS_FIELDS = 20  # a signed event has three form fields; far more is not Qualtrics


def sign_qualtrics(*, shared_key: str, message: str) -> str:
    """The `HMAC` form field Qualtrics sends with the event JSON `message` (its `MSG` field)."""
    return hmac.new(shared_key.encode(), message.encode(), hashlib.sha512).hexdigest()


def qualtrics_form(body: bytes) -> dict[str, str]:
    """The fields of a Qualtrics event body (application/x-www-form-urlencoded), the last of each name.

    Raises:
        SignatureError: `malformed`, when the body is not such a form.
    """
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, max_num_fields=QUALTRICS_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise SignatureError("malformed", "the body is not a URL-encoded form") from None
    return dict(pairs)


def verify_qualtrics(*, shared_key: str, body: bytes) -> str:
    """Check a Qualtrics event's `HMAC` against its `MSG` and return `MSG`, the event as JSON text.

    An event without `HMAC` comes from a subscription made without a `sharedKey`: refused, since
    nothing else shows where it comes from.

    Raises:
        SignatureError: `missing_header` (no HMAC or MSG field), `malformed` or `bad_signature`.
        ValueError: the shared key is empty (a configuration error).
    """
    if not shared_key:
        raise ValueError("the Qualtrics sharedKey is empty")
    form = qualtrics_form(body)
    presented, message = form.get("HMAC", "").strip(), form.get("MSG")
    if not presented or message is None:
        raise SignatureError("missing_header", "HMAC or MSG is missing; create the subscription with a sharedKey")
    try:
        presented_digest = bytes.fromhex(presented)
    except ValueError:
        raise SignatureError("malformed", "HMAC is not hexadecimal") from None
    if not hmac.compare_digest(bytes.fromhex(sign_qualtrics(shared_key=shared_key, message=message)), presented_digest):
        raise SignatureError("bad_signature", "HMAC does not match MSG")
    return message


def _decode_secret(secret: str) -> bytes:
    encoded = secret.removeprefix(_SECRET_PREFIX)
    try:
        # The reference library pads too: some senders strip the trailing "=" (extra padding is ignored).
        key = base64.b64decode(encoded + "==")
    except binascii.Error:
        raise ValueError("a Standard Webhooks secret is whsec_ followed by base64") from None
    if not key:
        raise ValueError("the Standard Webhooks secret is empty")
    return key


def _standard_webhook_digest(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def _v1_signature(entry: str) -> bytes | None:
    version, _, encoded = entry.partition(",")
    if version != "v1" or not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return None


def _decode_credentials(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # python-requests (which KoboToolbox uses) encodes basic-auth credentials as latin-1.
        return raw.decode("latin-1")


def _equal_in_constant_time(expected: str, presented: str) -> bool:
    # Hashing first gives equal-length inputs, so compare_digest does not leak the secret's length.
    return hmac.compare_digest(
        hashlib.sha256(expected.encode("utf-8")).digest(), hashlib.sha256(presented.encode("utf-8")).digest()
    )
