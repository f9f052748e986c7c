"""The personal links in alert e-mails: only links alerts signed open the portal, only for their time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from tempen_shared.links import (
    MAX_LINK_CHARS,
    AlertLink,
    LinkError,
    SignInLink,
    person_digest,
    read_link,
    read_sign_in_link,
    sign_link,
    sign_sign_in_link,
)

SECRET = b"a-secret-of-at-least-sixteen-bytes"
ISSUED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LINK = AlertLink("hjo", "alert-1", UUID("12345678-1234-5678-1234-567812345678"), ISSUED)


def test_a_signed_link_reads_back_as_itself() -> None:
    token = sign_link(SECRET, LINK)
    assert read_link(SECRET, token, now=ISSUED + timedelta(days=1), valid_for=timedelta(days=30)) == LINK
    assert "@" not in token, "no address in the URL"
    assert "hjo" not in token.split(".")[1], "the signature says nothing of the payload"


def test_a_link_expires_after_its_validity_and_not_a_second_before() -> None:
    token = sign_link(SECRET, LINK)
    valid = timedelta(days=30)
    assert read_link(SECRET, token, now=ISSUED + valid, valid_for=valid) == LINK
    with pytest.raises(LinkError) as raised:
        read_link(SECRET, token, now=ISSUED + valid + timedelta(seconds=1), valid_for=valid)
    assert raised.value.reason == "expired"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace(t[2], "A" if t[2] != "A" else "B", 1),  # the payload changed
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the signature changed
    ],
)
def test_an_altered_link_is_refused_as_forged(tamper: object) -> None:
    token = sign_link(SECRET, LINK)
    with pytest.raises(LinkError) as raised:
        read_link(SECRET, tamper(token), now=ISSUED)  # type: ignore[operator]
    assert raised.value.reason in {"forged", "malformed"}


def test_a_link_signed_with_another_secret_is_forged() -> None:
    token = sign_link(b"another-secret-of-sixteen-bytes!", LINK)
    with pytest.raises(LinkError) as raised:
        read_link(SECRET, token, now=ISSUED)
    assert raised.value.reason == "forged"


@pytest.mark.parametrize("token", ["", "nodot", "a.b.c", "x" * (MAX_LINK_CHARS + 1), "åäö.åäö", "....", "%00.%00"])
def test_garbage_is_malformed_or_forged_never_an_exception_of_another_kind(token: str) -> None:
    with pytest.raises(LinkError):
        read_link(SECRET, token, now=ISSUED)


def test_a_well_signed_payload_that_is_not_a_link_is_malformed() -> None:
    import base64
    import hashlib
    import hmac

    payload = base64.urlsafe_b64encode(b'{"t": "hjo"}').rstrip(b"=").decode()
    mac = hmac.new(SECRET, b"tempen-alert-link-v1|" + payload.encode(), hashlib.sha256).digest()
    token = f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(LinkError) as raised:
        read_link(SECRET, token, now=ISSUED)
    assert raised.value.reason == "malformed"


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least"):
        sign_link(b"short", LINK)


# Personal sign-in links: their own kind, never interchangeable with an alert's link.

SIGN_IN = SignInLink(
    tenant="hjo",
    person_digest=person_digest(SECRET, "hjo", "HR@hjo.example"),
    next_path="/t/hjo/overview",
    issued_at=ISSUED,
    expires_at=ISSUED + timedelta(days=1),
)


def test_a_sign_in_link_reads_back_until_it_expires() -> None:
    token = sign_sign_in_link(SECRET, SIGN_IN)
    assert read_sign_in_link(SECRET, token, now=ISSUED + timedelta(hours=23)) == SIGN_IN
    with pytest.raises(LinkError) as expired:
        read_sign_in_link(SECRET, token, now=ISSUED + timedelta(days=1))
    assert expired.value.reason == "expired"
    assert "hr@hjo.example" not in token.lower()


def test_an_alert_link_never_passes_for_a_sign_in_link_nor_the_reverse() -> None:
    alert_token = sign_link(SECRET, LINK)
    sign_in_token = sign_sign_in_link(SECRET, SIGN_IN)
    with pytest.raises(LinkError) as as_sign_in:
        read_sign_in_link(SECRET, alert_token, now=ISSUED)
    with pytest.raises(LinkError) as as_alert:
        read_link(SECRET, sign_in_token, now=ISSUED)
    assert as_sign_in.value.reason == as_alert.value.reason == "forged"


def test_a_sign_in_link_is_bound_to_its_person_tenant_and_page() -> None:
    signature = sign_sign_in_link(SECRET, SIGN_IN).split(".")[1]
    other = sign_sign_in_link(SECRET, replace(SIGN_IN, next_path="/t/hjo/units")).split(".")[0]
    with pytest.raises(LinkError) as altered:
        read_sign_in_link(SECRET, f"{other}.{signature}", now=ISSUED)
    assert altered.value.reason == "forged"
    assert person_digest(SECRET, "hjo", " hr@HJO.example") == SIGN_IN.person_digest
    assert person_digest(SECRET, "other", "hr@hjo.example") != SIGN_IN.person_digest
    assert person_digest(b"another-secret-of-32-bytes-or-so", "hjo", "hr@hjo.example") != SIGN_IN.person_digest


@pytest.mark.parametrize("path", ["https://evil.example/", "//evil.example/", "/\\evil", "t/hjo/", "/t/hjo/ x", ""])
def test_a_sign_in_link_opens_only_a_local_path(path: str) -> None:
    with pytest.raises(ValueError, match="path on the portal"):
        sign_sign_in_link(SECRET, replace(SIGN_IN, next_path=path))
