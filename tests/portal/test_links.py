"""The personal links in alert e-mails: only links alerts signed open the portal, only for their time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from tempen_shared.links import MAX_LINK_CHARS, AlertLink, LinkError, read_link, sign_link

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
