# Standard Webhooks vector: github.com/standard-webhooks/standard-webhooks,
# libraries/python/tests/test_webhooks.py (test_sign_function and test_multi_sig_payload_is_valid).
# Typeform: https://www.typeform.com/developers/webhooks/secure-your-webhooks/
# KoboToolbox: github.com/kobotoolbox/kpi, kobo/apps/hook/models/service_definition_interface.py
# (requests' auth=(username, password) and the hook's custom_headers).
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from tempen_ingest.domain.signatures import (
    SignatureError,
    sign_standard_webhook,
    sign_typeform,
    verify_basic_auth,
    verify_shared_secret,
    verify_standard_webhook,
    verify_typeform,
)

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
VECTOR_TIME = datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC)


def vector_headers(**overrides: str) -> dict[str, str]:
    headers = {
        "webhook-id": VECTOR_MSG_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }
    headers.update(overrides)
    return headers


def test_standard_webhooks_vector_signs_to_the_published_signature() -> None:
    signature = sign_standard_webhook(
        secret=VECTOR_SECRET, msg_id=VECTOR_MSG_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY
    )

    assert signature == VECTOR_SIGNATURE


def test_standard_webhooks_vector_verifies_and_returns_the_message_id() -> None:
    delivery_id = verify_standard_webhook(
        secret=VECTOR_SECRET, headers=vector_headers(), body=VECTOR_BODY, now=VECTOR_TIME
    )

    assert delivery_id == VECTOR_MSG_ID


def test_secret_without_the_whsec_prefix_is_the_same_key() -> None:
    delivery_id = verify_standard_webhook(
        secret=VECTOR_SECRET.removeprefix("whsec_"), headers=vector_headers(), body=VECTOR_BODY, now=VECTOR_TIME
    )

    assert delivery_id == VECTOR_MSG_ID


def test_header_names_are_matched_without_regard_to_case() -> None:
    headers = {name.title(): value for name, value in vector_headers().items()}

    assert verify_standard_webhook(secret=VECTOR_SECRET, headers=headers, body=VECTOR_BODY, now=VECTOR_TIME)


def test_one_valid_signature_among_several_is_enough() -> None:
    rotated = " ".join(
        [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            VECTOR_SIGNATURE,
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        ]
    )

    delivery_id = verify_standard_webhook(
        secret=VECTOR_SECRET,
        headers=vector_headers(**{"webhook-signature": rotated}),
        body=VECTOR_BODY,
        now=VECTOR_TIME,
    )

    assert delivery_id == VECTOR_MSG_ID


def test_several_signatures_none_of_which_match_are_refused() -> None:
    wrong = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="

    with pytest.raises(SignatureError) as caught:
        verify_standard_webhook(
            secret=VECTOR_SECRET,
            headers=vector_headers(**{"webhook-signature": wrong}),
            body=VECTOR_BODY,
            now=VECTOR_TIME,
        )

    assert caught.value.reason == "bad_signature"


def test_a_body_changed_by_one_byte_is_refused() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_standard_webhook(
            secret=VECTOR_SECRET, headers=vector_headers(), body=b'{"test": 2432232315}', now=VECTOR_TIME
        )

    assert caught.value.reason == "bad_signature"


def test_a_signature_made_with_another_secret_is_refused() -> None:
    other_secret = "whsec_" + base64.b64encode(b"another secret of 32 bytes......").decode()

    with pytest.raises(SignatureError) as caught:
        verify_standard_webhook(secret=other_secret, headers=vector_headers(), body=VECTOR_BODY, now=VECTOR_TIME)

    assert caught.value.reason == "bad_signature"


def test_a_signature_over_another_message_id_is_refused() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_standard_webhook(
            secret=VECTOR_SECRET,
            headers=vector_headers(**{"webhook-id": "msg_another"}),
            body=VECTOR_BODY,
            now=VECTOR_TIME,
        )

    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("offset", [timedelta(minutes=-5), timedelta(minutes=5)], ids=["5-min-late", "5-min-early"])
def test_a_timestamp_exactly_five_minutes_off_is_still_accepted(offset: timedelta) -> None:
    assert verify_standard_webhook(
        secret=VECTOR_SECRET, headers=vector_headers(), body=VECTOR_BODY, now=VECTOR_TIME - offset
    )


@pytest.mark.parametrize(
    "now",
    [VECTOR_TIME + timedelta(minutes=5, seconds=1), VECTOR_TIME - timedelta(minutes=5, seconds=1)],
    ids=["too-old", "from-the-future"],
)
def test_a_timestamp_more_than_five_minutes_off_is_stale_in_either_direction(now: datetime) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_standard_webhook(secret=VECTOR_SECRET, headers=vector_headers(), body=VECTOR_BODY, now=now)

    assert caught.value.reason == "stale_timestamp"


def test_a_stale_timestamp_is_refused_even_with_a_valid_signature_for_it() -> None:
    old = VECTOR_TIMESTAMP - 3600
    signature = sign_standard_webhook(secret=VECTOR_SECRET, msg_id=VECTOR_MSG_ID, timestamp=old, body=VECTOR_BODY)
    headers = vector_headers(**{"webhook-timestamp": str(old), "webhook-signature": signature})

    with pytest.raises(SignatureError) as caught:
        verify_standard_webhook(secret=VECTOR_SECRET, headers=headers, body=VECTOR_BODY, now=VECTOR_TIME)

    assert caught.value.reason == "stale_timestamp"


@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_reported_by_name(header: str) -> None:
    headers = vector_headers()
    del headers[header]

    with pytest.raises(SignatureError, match=header) as caught:
        verify_standard_webhook(secret=VECTOR_SECRET, headers=headers, body=VECTOR_BODY, now=VECTOR_TIME)

    assert caught.value.reason == "missing_header"


@pytest.mark.parametrize("timestamp", ["hello", "1614265330.5", "-1614265330"])
def test_a_timestamp_that_is_not_whole_seconds_is_malformed(timestamp: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_standard_webhook(
            secret=VECTOR_SECRET,
            headers=vector_headers(**{"webhook-timestamp": timestamp}),
            body=VECTOR_BODY,
            now=VECTOR_TIME,
        )

    assert caught.value.reason == "malformed"


@pytest.mark.parametrize("signature", ["g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "v2,abc=", "v1,not base64!"])
def test_a_signature_header_without_a_v1_entry_is_malformed(signature: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_standard_webhook(
            secret=VECTOR_SECRET,
            headers=vector_headers(**{"webhook-signature": signature}),
            body=VECTOR_BODY,
            now=VECTOR_TIME,
        )

    assert caught.value.reason == "malformed"


def test_a_naive_now_is_a_programming_error_not_a_bad_delivery() -> None:
    with pytest.raises(ValueError, match="timezone-aware") as caught:
        verify_standard_webhook(
            secret=VECTOR_SECRET, headers=vector_headers(), body=VECTOR_BODY, now=VECTOR_TIME.replace(tzinfo=None)
        )

    assert not isinstance(caught.value, SignatureError)


TYPEFORM_SECRET = "7d1c4f0a9b2e8d3c6a5f4e1b0c9d8e7f6a5b4c3d"
TYPEFORM_BODY = b'{"event_id":"01JNQ7X4ZK8M2P5R9T3V6W1Y0B","event_type":"form_response"}'


def test_typeform_signature_is_sha256_equals_base64_of_the_hmac_of_the_raw_body() -> None:
    expected = base64.b64encode(hmac.new(TYPEFORM_SECRET.encode(), TYPEFORM_BODY, hashlib.sha256).digest()).decode()

    assert sign_typeform(secret=TYPEFORM_SECRET, body=TYPEFORM_BODY) == f"sha256={expected}"


def test_a_correctly_signed_typeform_delivery_verifies() -> None:
    header = sign_typeform(secret=TYPEFORM_SECRET, body=TYPEFORM_BODY)

    verify_typeform(secret=TYPEFORM_SECRET, signature_header=header, body=TYPEFORM_BODY)


def test_a_typeform_body_reserialised_after_signing_is_refused() -> None:
    header = sign_typeform(secret=TYPEFORM_SECRET, body=TYPEFORM_BODY)

    with pytest.raises(SignatureError) as caught:
        verify_typeform(secret=TYPEFORM_SECRET, signature_header=header, body=TYPEFORM_BODY.replace(b",", b", "))

    assert caught.value.reason == "bad_signature"


def test_a_typeform_signature_made_with_another_secret_is_refused() -> None:
    header = sign_typeform(secret="another secret", body=TYPEFORM_BODY)

    with pytest.raises(SignatureError) as caught:
        verify_typeform(secret=TYPEFORM_SECRET, signature_header=header, body=TYPEFORM_BODY)

    assert caught.value.reason == "bad_signature"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_a_missing_typeform_signature_is_refused(header: str | None) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_typeform(secret=TYPEFORM_SECRET, signature_header=header, body=TYPEFORM_BODY)

    assert caught.value.reason == "missing_header"


def test_a_typeform_signature_of_another_algorithm_is_malformed() -> None:
    digest = base64.b64encode(hmac.new(TYPEFORM_SECRET.encode(), TYPEFORM_BODY, hashlib.sha1).digest()).decode()

    with pytest.raises(SignatureError) as caught:
        verify_typeform(secret=TYPEFORM_SECRET, signature_header=f"sha1={digest}", body=TYPEFORM_BODY)

    assert caught.value.reason == "malformed"


def test_the_configured_shared_secret_header_value_is_accepted() -> None:
    verify_shared_secret(expected="kobo-shared-7f3a", presented="kobo-shared-7f3a")


@pytest.mark.parametrize("presented", ["kobo-shared-7f3b", "kobo-shared-7f3", "kobo-shared-7f3a "])
def test_another_shared_secret_value_is_refused(presented: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_shared_secret(expected="kobo-shared-7f3a", presented=presented)

    assert caught.value.reason == "bad_credentials"


@pytest.mark.parametrize("presented", [None, ""])
def test_a_missing_shared_secret_header_is_refused(presented: str | None) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_shared_secret(expected="kobo-shared-7f3a", presented=presented)

    assert caught.value.reason == "missing_header"


def test_an_empty_expected_shared_secret_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        verify_shared_secret(expected="", presented="")


def basic(username: str, password: str, *, encoding: str = "utf-8") -> str:
    # What python-requests sends for auth=(username, password) (KoboToolbox's REST services use requests).
    return "Basic " + base64.b64encode(f"{username}:{password}".encode(encoding)).decode()


def test_matching_basic_credentials_are_accepted() -> None:
    verify_basic_auth(
        username="kobo", password="s3cret:with:colons", authorization_header=basic("kobo", "s3cret:with:colons")
    )


def test_basic_credentials_encoded_as_latin1_are_accepted() -> None:
    verify_basic_auth(
        username="kobo", password="lösenord", authorization_header=basic("kobo", "lösenord", encoding="latin-1")
    )


@pytest.mark.parametrize(("username", "password"), [("kobo", "wrong"), ("other", "s3cret"), ("", "")])
def test_wrong_basic_credentials_are_refused(username: str, password: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_basic_auth(username="kobo", password="s3cret", authorization_header=basic(username, password))

    assert caught.value.reason == "bad_credentials"


@pytest.mark.parametrize(
    "header",
    ["Bearer abc", "Basic", "Basic !!!not-base64!!!", "Basic " + base64.b64encode(b"no-separator").decode()],
    ids=["bearer", "no-credentials", "not-base64", "no-colon"],
)
def test_an_authorization_header_that_is_not_basic_credentials_is_malformed(header: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_basic_auth(username="kobo", password="s3cret", authorization_header=header)

    assert caught.value.reason == "malformed"


def test_a_missing_authorization_header_is_refused() -> None:
    with pytest.raises(SignatureError) as caught:
        verify_basic_auth(username="kobo", password="s3cret", authorization_header=None)

    assert caught.value.reason == "missing_header"
