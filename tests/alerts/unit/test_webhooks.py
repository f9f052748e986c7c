"""The webhook payload (pure) and Standard Webhooks signing (tempen_shared.webhooks_signing)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tempen_alerts.domain.webhooks import AlertFacts, webhook_body, webhook_payload
from tempen_shared.webhooks_signing import (
    WebhookVerificationError,
    generate_secret,
    sign,
    signed_headers,
    signing_key,
    verify,
)
from tests.alerts.unit.factories import months

# The reference vector of the Standard Webhooks test suites (standard-webhooks/standard-webhooks, svix).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
AT_VECTOR_TIME = datetime.fromtimestamp(VECTOR_TIMESTAMP, UTC)
OCCURRED = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)


def facts(**overrides: object) -> AlertFacts:
    values: dict[str, object] = {
        "alert_id": "a1b2",
        "tenant": "hjo",
        "tenant_name": "Hjo kommun",
        "unit": "hjo-skola-ostra-f3",
        "unit_name": "Östra skolan F–3",
        "model": "hjo-ledarmodell",
        "dimension": "engagemang-entusiasm",
        "dimension_name": "Engagemang och entusiasm",
        "previous_state": "open",
        "state": "escalated",
        "level": 2,
        "rule": "no_improvement",
        "reason": "no improvement: ...",
        "threshold": 65.0,
        "history": months(58.04, None, 57.0, standard_error=4.123, tenant_index=78.0),
        "acknowledge_url": "https://tempen.hjo.example/v1/tenants/hjo/alerts/a1b2",
    }
    values.update(overrides)
    return AlertFacts(**values)  # type: ignore[arg-type]


def test_signing_reproduces_the_standard_webhooks_reference_vector() -> None:
    signature = sign(secret=VECTOR_SECRET, msg_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)
    assert signature == VECTOR_SIGNATURE


def test_the_reference_delivery_verifies_and_returns_its_id() -> None:
    headers = {
        "Webhook-Id": VECTOR_ID,
        "Webhook-Timestamp": str(VECTOR_TIMESTAMP),
        "Webhook-Signature": VECTOR_SIGNATURE,
    }
    assert verify(secret=VECTOR_SECRET, headers=headers, body=VECTOR_BODY, now=AT_VECTOR_TIME) == VECTOR_ID


@pytest.mark.parametrize(
    ("body", "secret"),
    [(b'{"test": 2432232315}', VECTOR_SECRET), (VECTOR_BODY, "whsec_" + "A" * 32)],
    ids=["tampered body", "other secret"],
)
def test_a_tampered_body_or_another_secret_does_not_verify(body: bytes, secret: str) -> None:
    headers = signed_headers(secret=VECTOR_SECRET, msg_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)
    with pytest.raises(WebhookVerificationError, match="no webhook-signature entry matches"):
        verify(secret=secret, headers=headers, body=body, now=AT_VECTOR_TIME)


def test_a_stale_timestamp_is_refused_even_with_a_valid_signature() -> None:
    headers = signed_headers(secret=VECTOR_SECRET, msg_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)
    with pytest.raises(WebhookVerificationError, match="too far from now"):
        verify(secret=VECTOR_SECRET, headers=headers, body=VECTOR_BODY, now=AT_VECTOR_TIME + timedelta(minutes=6))


def test_one_matching_entry_among_several_is_enough_during_a_secret_rotation() -> None:
    old = sign(secret=generate_secret(), msg_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_BODY)
    headers = {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": f"{old} v2,abc {VECTOR_SIGNATURE}",
    }
    assert verify(secret=VECTOR_SECRET, headers=headers, body=VECTOR_BODY, now=AT_VECTOR_TIME) == VECTOR_ID


def test_a_secret_that_is_not_base64_is_a_configuration_error_that_never_repeats_it() -> None:
    with pytest.raises(ValueError, match="not base64") as raised:
        signing_key("whsec_not*base64!")
    assert "not*base64" not in str(raised.value)


def test_generated_secrets_are_distinct_whsec_keys_of_32_bytes() -> None:
    first, second = generate_secret(), generate_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(signing_key(first)) == 32


def test_the_payload_carries_the_transition_with_indices_and_n_but_nothing_of_a_suppressed_period() -> None:
    payload = webhook_payload("alert.escalated", facts(), occurred_at=OCCURRED)
    assert payload["type"] == "alert.escalated"
    assert payload["timestamp"] == "2026-05-01T06:00:00+00:00"
    data = payload["data"]
    assert (data["state"], data["previous_state"], data["level"], data["rule"]) == (
        "escalated",
        "open",
        2,
        "no_improvement",
    )
    assert data["periods"] == [
        {"period": "2026-01", "suppressed": False, "index": 58.0, "n": 8, "standard_error": 4.12, "tenant_index": 78.0},
        {"period": "2026-02", "suppressed": True},
        {"period": "2026-03", "suppressed": False, "index": 57.0, "n": 8, "standard_error": 4.12, "tenant_index": 78.0},
    ]
    assert data["acknowledge_url"].endswith("/v1/tenants/hjo/alerts/a1b2")


def test_the_body_is_compact_utf8_json_in_a_stable_key_order() -> None:
    body = webhook_body(webhook_payload("alert.opened", facts(reason="no improvement"), occurred_at=OCCURRED))
    assert body == webhook_body(json.loads(body))
    assert "Östra skolan F–3" in body
    assert '": ' not in body
    assert ', "' not in body
    assert body.index('"data"') < body.index('"timestamp"') < body.index('"type"')


@pytest.mark.parametrize("url", ["javascript:alert(1)", "/v1/tenants/hjo/alerts/a1b2", "https://"])
def test_the_acknowledge_url_must_be_absolute_http(url: str) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        webhook_payload("alert.opened", facts(acknowledge_url=url), occurred_at=OCCURRED)


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        webhook_payload("alert.opened", facts(), occurred_at=datetime(2026, 5, 1))  # noqa: DTZ001
