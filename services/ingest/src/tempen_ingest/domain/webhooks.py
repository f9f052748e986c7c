"""One webhook delivery, checked and read: which verification and which parser each platform needs. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from tempen_ingest.domain.platforms import (
    FETCHING_PLATFORMS,
    PLATFORMS,
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

# A mapping id is a file name under config/mappings/<tenant>/ (PlatformMapping.id).
_MAPPING_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
UNKNOWN_PLATFORM = "unknown_platform"
NO_WEBHOOKS = "platform_sends_no_webhooks"
UNKNOWN_MAPPING = "unknown_mapping"
OTHER_PLATFORM = "mapping_of_another_platform"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a delivery to a webhook URL is not taken, and (`detail`) what to do instead."""

    field: str
    reason: str
    detail: str


def webhook_mapping(
    platform: str, *, tenant: str, mapping_id: str, mapping: PlatformMapping | None
) -> PlatformMapping | Refusal:
    """The mapping a delivery to `/v1/tenants/<tenant>/webhooks/<platform>/<mapping_id>` is read with, or
    why that URL takes no delivery and what to do instead.

    `mapping` is the tenant's mapping with that id, whatever its platform. The platforms that do send
    webhooks are named from WEBHOOK_PLATFORMS, so the advice stays true as platforms are added.
    """
    if platform not in PLATFORMS:
        return Refusal(
            "platform",
            UNKNOWN_PLATFORM,
            f"tempen takes no webhooks from {platform[:40]!r}; it takes them from {', '.join(WEBHOOK_PLATFORMS)}. "
            f"From any other platform, export the responses (CSV or XLSX) and import the file with "
            f"`tempen submissions import {tenant} FILE` (see docs/platforms.md)",
        )
    if platform not in WEBHOOK_PLATFORMS:
        return Refusal("platform", NO_WEBHOOKS, _import_instead(platform, tenant, mapping_id, mapping))
    if mapping is not None and mapping.platform == platform:
        return mapping
    if mapping is not None and mapping.platform in WEBHOOK_PLATFORMS:
        return Refusal(
            "platform",
            OTHER_PLATFORM,
            f"mapping {mapping_id!r} of tenant {tenant!r} is for {mapping.platform}, not {platform}; "
            f"send its deliveries to /v1/tenants/{tenant}/webhooks/{mapping.platform}/{mapping_id}",
        )
    if not _MAPPING_ID.match(mapping_id):
        return Refusal(
            "mapping_id",
            UNKNOWN_MAPPING,
            "no mapping has this id: a mapping id is 1 to 128 letters, digits and _.:- (the name of its file "
            f"in config/mappings/{tenant}/); use the one in your mapping's id",
        )
    return Refusal(
        "mapping_id",
        UNKNOWN_MAPPING,
        f"tenant {tenant!r} has no {platform} mapping {mapping_id!r}: create "
        f"config/mappings/{tenant}/{mapping_id}.yaml (id: {mapping_id}, platform: {platform}; see "
        "docs/platforms.md) and restart ingest",
    )


def _import_instead(platform: str, tenant: str, mapping_id: str, mapping: PlatformMapping | None) -> str:
    ours = mapping is not None and mapping.platform == platform
    named = mapping_id if _MAPPING_ID.match(mapping_id) else "<mapping id>"
    create = "" if ours else f" (first create config/mappings/{tenant}/{named}.yaml, platform: {platform})"
    if platform == "spreadsheet":
        return (
            "a spreadsheet mapping reads an exported .xlsx or .csv file, which is imported, not posted: "
            f"tempen submissions import {tenant} FILE --mapping {named}"
        )
    if platform != "limesurvey":
        return f"{platform} sends no webhooks; export its responses and import the file with tempen submissions import"
    survey = mapping.form_id if mapping is not None and ours else "<survey id>"
    # The webhook plugins people add to LimeSurvey (LimeSurveyWebhook and its forks) sign nothing: at most a
    # plain token in the body, and each fork posts its own shape. Such a post cannot be verified.
    return (
        "LimeSurvey has no signed webhooks, so tempen cannot tell a webhook plugin's post from a forged one and "
        "takes none. Export the survey's responses (Responses > Export > Export results: CSV, question codes, "
        f"answer codes) and import the file{create}: tempen submissions import {tenant} "
        f"results-survey{survey}.csv --format limesurvey-csv --mapping {named}"
    )


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
