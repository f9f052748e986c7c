"""Which SMTP failures are retried: only a 5xx reply is permanent, also when it comes at RCPT TO."""

from __future__ import annotations

import aiosmtplib
import pytest

from tempen_alerts.adapters.notifier import smtp_failure


def refused(*codes: int) -> aiosmtplib.SMTPRecipientsRefused:
    return aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(code, "refused", f"r{i}@kommun.example") for i, code in enumerate(codes)]
    )


@pytest.mark.parametrize("code", [450, 451, 452])
def test_a_recipient_refused_for_now_is_retried(code: int) -> None:
    """Greylisting answers RCPT TO with 450/451: giving up there would drop the notification at once."""
    assert smtp_failure(refused(code)).permanent is False


def test_a_recipient_refused_for_good_is_permanent() -> None:
    assert smtp_failure(refused(550)).permanent is True


def test_recipients_refused_partly_for_now_are_retried() -> None:
    assert smtp_failure(refused(550, 451)).permanent is False


@pytest.mark.parametrize(("code", "permanent"), [(421, False), (451, False), (452, False), (554, True), (552, True)])
def test_a_refused_message_is_permanent_only_on_5xx(code: int, permanent: bool) -> None:
    failure = smtp_failure(aiosmtplib.SMTPDataError(code, "no"))
    assert failure.permanent is permanent
    assert str(code) in str(failure)


@pytest.mark.parametrize(
    "error", [aiosmtplib.SMTPConnectError("refused"), aiosmtplib.SMTPServerDisconnected("gone"), ConnectionResetError()]
)
def test_an_unreachable_or_vanished_server_is_retried(error: Exception) -> None:
    assert smtp_failure(error).permanent is False  # type: ignore[arg-type]
