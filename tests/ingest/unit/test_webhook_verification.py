from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tempen_ingest.domain.platforms import PlatformMapping
from tempen_ingest.domain.signatures import SignatureError, sign_standard_webhook, sign_typeform
from tempen_ingest.domain.webhooks import VerificationConfigError, is_unsigned_ping, verify_delivery

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
BODY = b'{"event":"responseFinished"}'


def mapping(platform: str, **verification: Any) -> PlatformMapping:
    return PlatformMapping.model_validate(
        {
            "id": f"m-{platform}",
            "platform": platform,
            "form_id": "f",
            "tenant": "testkommun",
            "instrument": "test-puls",
            "questions": {"a": "q1"},
            "unit": {"field": "unit"},
            "verification": {"secret": {"env": "X"}, **verification},
        }
    )


def standard_headers(*, msg_id: str = "msg_1", at: datetime = NOW, body: bytes = BODY) -> dict[str, str]:
    stamp = int(at.timestamp())
    return {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(stamp),
        "Webhook-Signature": sign_standard_webhook(secret=SECRET, msg_id=msg_id, timestamp=stamp, body=body),
    }


def test_formbricks_delivery_returns_its_webhook_id_whatever_the_header_case() -> None:
    assert (
        verify_delivery(mapping("formbricks"), secret=SECRET, headers=standard_headers(), body=BODY, now=NOW) == "msg_1"
    )


def test_formbricks_delivery_older_than_five_minutes_is_stale() -> None:
    headers = standard_headers(at=NOW - timedelta(minutes=5, seconds=1))
    with pytest.raises(SignatureError) as caught:
        verify_delivery(mapping("formbricks"), secret=SECRET, headers=headers, body=BODY, now=NOW)
    assert caught.value.reason == "stale_timestamp"


def test_formbricks_body_changed_after_signing_is_refused() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_delivery(mapping("formbricks"), secret=SECRET, headers=standard_headers(), body=BODY + b" ", now=NOW)
    assert caught.value.reason == "bad_signature"


def test_a_formbricks_secret_that_is_not_whsec_base64_is_a_configuration_error() -> None:
    with pytest.raises(VerificationConfigError):
        verify_delivery(mapping("formbricks"), secret="whsec_%%%", headers=standard_headers(), body=BODY, now=NOW)


def test_typeform_delivery_is_checked_against_its_signature_header_and_has_no_header_id() -> None:
    headers = {"Typeform-Signature": sign_typeform(secret="s3cret", body=BODY)}
    assert verify_delivery(mapping("typeform"), secret="s3cret", headers=headers, body=BODY, now=NOW) is None
    with pytest.raises(SignatureError):
        verify_delivery(mapping("typeform"), secret="other", headers=headers, body=BODY, now=NOW)


def test_kobo_delivery_is_checked_by_basic_auth_or_by_its_custom_header() -> None:
    basic = "Basic " + base64.b64encode(b"kobo:pw").decode()
    by_user = mapping("kobo", username="kobo")
    by_header = mapping("kobo", header="X-Tempen-Key")
    assert verify_delivery(by_user, secret="pw", headers={"Authorization": basic}, body=BODY, now=NOW) is None
    assert verify_delivery(by_header, secret="pw", headers={"x-tempen-key": "pw"}, body=BODY, now=NOW) is None
    with pytest.raises(SignatureError):
        verify_delivery(by_header, secret="pw", headers={"x-tempen-key": "pW"}, body=BODY, now=NOW)


def test_a_mapping_without_verification_cannot_verify_anything() -> None:
    unverified = mapping("typeform").model_copy(update={"verification": None})
    with pytest.raises(VerificationConfigError):
        verify_delivery(unverified, secret="s", headers={}, body=BODY, now=NOW)


def test_only_the_bare_formbricks_ping_goes_unsigned() -> None:
    assert is_unsigned_ping("formbricks", b'{"event": "testEndpoint"}')
    assert not is_unsigned_ping("formbricks", b'{"event": "testEndpoint", "data": {}}')
    assert not is_unsigned_ping("typeform", b'{"event": "testEndpoint"}')
