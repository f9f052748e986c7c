"""The e-mail a notification becomes, for addresses with å, ä or ö: domains in IDNA2008 ASCII form,
a local part that needs it written as UTF-8 (RFC 6532), and a .eml a mail reader reads back."""

from __future__ import annotations

import asyncio
import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest

from tempen_alerts.adapters.notifier import DeliveryError, MailFolderSender, Outgoing, build_email, needs_smtputf8

SENDER = "tempen@kommun.example"


def outgoing(recipient: str) -> Outgoing:
    return Outgoing(
        notification_id="0b7e2c1e-9d0c-4d2a-8a59-1f3c5e0e7a11",
        tenant="hjo",
        alert_id="hjo:f3:ledarskap",
        channel="email",
        recipient=recipient,
        subject="Larm: Skolan F–3, ledarskap sjunker",
        body_text="Hej Åsa, ledarskapsindex har sjunkit.",
        body_html="<p>Hej Åsa, ledarskapsindex har sjunkit.</p>",
        created_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
    )


def headers(data: bytes) -> bytes:
    return data.split(b"\n\n", 1)[0]


def read_back(data: bytes) -> email.message.EmailMessage:
    # A reader of RFC 6532 mail decodes the header section as UTF-8; Python's bytes parser does not
    # (it keeps non-ASCII bytes as surrogates), so the text is decoded first, as a mail client does.
    message = email.message_from_string(data.decode("utf-8"), policy=policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_a_domain_with_swedish_letters_is_written_in_ascii_and_the_message_needs_no_smtputf8() -> None:
    message = build_email(outgoing("anna.berg@förvaltning.example"), from_address=SENDER)
    assert str(message["To"]) == "anna.berg@xn--frvaltning-ecb.example"
    assert needs_smtputf8(message) is False
    data = bytes(message)
    assert headers(data).isascii()
    (address,) = read_back(data)["To"].addresses
    assert address.addr_spec == "anna.berg@xn--frvaltning-ecb.example"


def test_a_local_part_with_swedish_letters_is_written_as_utf8_never_as_encoded_words() -> None:
    message = build_email(outgoing("åsa.öberg@förvaltning.example"), from_address=SENDER)
    assert needs_smtputf8(message) is True
    data = bytes(message)
    assert b"To: \xc3\xa5sa.\xc3\xb6berg@xn--frvaltning-ecb.example\n" in data
    assert b"=?" not in headers(data).split(b"\nSubject:")[0]  # no encoded-word in From or To
    parsed = read_back(data)
    (address,) = parsed["To"].addresses
    assert (address.username, address.domain) == ("åsa.öberg", "xn--frvaltning-ecb.example")
    assert not [d for d in parsed["To"].defects if not isinstance(d, email.errors.NonASCIILocalPartDefect)]
    assert str(parsed["Subject"]) == "Larm: Skolan F–3, ledarskap sjunker"


def test_a_message_to_an_ascii_address_is_written_as_before() -> None:
    data = bytes(build_email(outgoing("anna@kommun.example"), from_address=SENDER))
    assert headers(data).isascii()  # the Swedish subject stays an RFC 2047 encoded-word for ASCII-only readers
    assert b"To: anna@kommun.example\n" in data


def test_an_address_that_cannot_be_written_for_sending_fails_for_good() -> None:
    with pytest.raises(DeliveryError) as caught:
        build_email(outgoing("anna@k☃.example"), from_address=SENDER)
    assert caught.value.permanent is True
    assert caught.value.reason == "invalid_address"
    assert "the recipient's address" in str(caught.value)


def test_the_mail_folder_gets_a_valid_eml_for_a_manager_with_swedish_letters(tmp_path: Path) -> None:
    sender = MailFolderSender(tmp_path, from_address=lambda _tenant: SENDER)
    message = outgoing("åsa.öberg@kommunå.example")
    asyncio.run(sender.send(message))
    written = (tmp_path / "hjo" / f"{message.notification_id}.eml").read_bytes()
    (address,) = read_back(written)["To"].addresses
    assert address.addr_spec == "åsa.öberg@xn--kommun-nua.example"
    assert str(read_back(written)["From"]) == SENDER


def test_the_mail_folder_writes_a_domain_with_swedish_letters_in_ascii(tmp_path: Path) -> None:
    sender = MailFolderSender(tmp_path, from_address=lambda _tenant: SENDER)
    message = outgoing("anna@kommunå.example")
    asyncio.run(sender.send(message))
    written = (tmp_path / "hjo" / f"{message.notification_id}.eml").read_bytes()
    assert headers(written).isascii()
    (address,) = read_back(written)["To"].addresses
    assert address.addr_spec == "anna@xn--kommun-nua.example"
