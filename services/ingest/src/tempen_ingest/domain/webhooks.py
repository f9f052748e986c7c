"""One webhook delivery, checked and read: which verification and which parser each platform needs. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from tempen_ingest.domain.platforms import (
    FETCHING_PLATFORMS,
    ParsedDelivery,
    Platform,
    PlatformMapping,
    ResponseNotice,
    ResponseRequest,
    is_formbricks_test_ping,
    parse_formbricks,
    parse_kobo,
    parse_qualtrics_response,
    parse_surveymonkey_response,
    parse_typeform,
    qualtrics_request,
    read_qualtrics_notice,
    read_surveymonkey_notice,
    surveymonkey_request,
)
from tempen_ingest.domain.signatures import (
    SignatureError,
    verify_basic_auth,
    verify_qualtrics,
    verify_shared_secret,
    verify_standard_webhook,
    verify_surveymonkey,
    verify_typeform,
)

WEBHOOK_PLATFORMS: tuple[Platform, ...] = ("formbricks", "typeform", "kobo", *FETCHING_PLATFORMS)


class VerificationConfigError(ValueError):
    """The mapping's verification cannot be used (none given, or a malformed secret): a configuration error."""


def is_unsigned_ping(platform: str, body: bytes) -> bool:
    """Whether `body` is a ping that may be answered without a signature (Formbricks' "Test Endpoint")."""
    return platform == "formbricks" and is_formbricks_test_ping(body)


def verify_delivery(
    mapping: PlatformMapping, *, secret: str, headers: Mapping[str, str], body: bytes, now: datetime
) -> str | None:
    """Check that `body`, exactly as received, comes from the platform `mapping` is for.

    Returns the delivery id when the headers carry it (Formbricks' `webhook-id`), else None (the
    parser finds it in the body).

    Raises:
        SignatureError: the delivery is not shown to come from the platform (answer 401).
        VerificationConfigError: the mapping's verification or its secret cannot be used.
    """
    verification = mapping.verification
    if verification is None:
        raise VerificationConfigError(f"mapping {mapping.id!r} has no verification")
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        if mapping.platform == "formbricks":
            return verify_standard_webhook(secret=secret, headers=lowered, body=body, now=now)
        if mapping.platform == "typeform":
            verify_typeform(secret=secret, signature_header=lowered.get("typeform-signature"), body=body)
            return None
        if mapping.platform == "kobo":
            if verification.username is not None:
                verify_basic_auth(
                    username=verification.username, password=secret, authorization_header=lowered.get("authorization")
                )
            else:
                header = (verification.header or "").lower()
                verify_shared_secret(expected=secret, presented=lowered.get(header))
            return None
        if mapping.platform == "surveymonkey":
            verify_surveymonkey(
                api_key=verification.api_key or "",
                api_secret=secret,
                signature_header=lowered.get("sm-signature"),
                body=body,
            )
            return None
        if mapping.platform == "qualtrics":
            verify_qualtrics(shared_key=secret, body=body)
            return None
    except SignatureError:
        raise
    except ValueError as exc:  # a malformed or empty secret: ours to fix, not the sender's
        raise VerificationConfigError(str(exc)) from None
    raise VerificationConfigError(f"{mapping.platform} sends no webhooks")


def parse_delivery(mapping: PlatformMapping, body: bytes) -> ParsedDelivery:
    """Read a verified webhook body with the parser of the mapping's platform (raises DeliveryError)."""
    if mapping.platform == "formbricks":
        return parse_formbricks(body, mapping)
    if mapping.platform == "typeform":
        return parse_typeform(body, mapping)
    if mapping.platform == "kobo":
        return parse_kobo(body, mapping)
    raise VerificationConfigError(f"{mapping.platform} sends no webhooks")


def read_notice(mapping: PlatformMapping, body: bytes) -> ResponseNotice | str:
    """The response a verified id-only webhook names, or why it names none to fetch (raises DeliveryError)."""
    if mapping.platform == "surveymonkey":
        return read_surveymonkey_notice(body, mapping)
    if mapping.platform == "qualtrics":
        return read_qualtrics_notice(body, mapping)
    raise VerificationConfigError(f"{mapping.platform} sends its responses in the webhook")


def response_request(mapping: PlatformMapping, notice: ResponseNotice, *, token: str) -> ResponseRequest:
    """The API call that fetches the response `notice` names."""
    if mapping.platform == "surveymonkey":
        return surveymonkey_request(mapping, notice, token=token)
    if mapping.platform == "qualtrics":
        return qualtrics_request(mapping, notice, token=token)
    raise VerificationConfigError(f"{mapping.platform} responses are not fetched")


def parse_fetched(mapping: PlatformMapping, body: bytes, notice: ResponseNotice) -> ParsedDelivery:
    """Read a response fetched from the platform's API (raises DeliveryError)."""
    if mapping.platform == "surveymonkey":
        return parse_surveymonkey_response(body, mapping, notice)
    if mapping.platform == "qualtrics":
        return parse_qualtrics_response(body, mapping, notice)
    raise VerificationConfigError(f"{mapping.platform} responses are not fetched")
