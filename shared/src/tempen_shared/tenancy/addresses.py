"""E-mail addresses as they enter tempen (org files, tenant settings) and as they leave it (SMTP, .eml).

One home for the rule: email-validator checks the syntax (RFC 5321/5322, and RFC 6531 for addresses
with å, ä or ö) and turns the domain into its ASCII form with IDNA2008 and the UTS #46 mapping (the
`idna` package). Python's own "idna" codec is IDNA2003 (Unicode 3.2): it maps ß to "ss", so
`straße.de` becomes another domain, and accepts symbols that IDNA2008 refuses.

A domain with å, ä or ö can always be sent: as its ASCII form (`kommunå.se` -> `xn--kommun-nua.se`).
A local part with them (`åsa@kommun.se`) cannot be written in ASCII: the relay must offer SMTPUTF8.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import idna
from email_validator import EmailNotValidError, validate_email

MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a forward-path, less its angle brackets
SMTPUTF8_ADVICE = (
    "the relay does not support SMTPUTF8; ask the mail admin to enable it or give this manager an ASCII address"
)
SMTPUTF8_WARNING = (
    "has å, ä, ö or another non-ASCII letter before the @: it reaches its recipient only through a relay that "
    "supports SMTPUTF8"
)
SMTPUTF8_HINT = "ask the mail admin whether the relay supports SMTPUTF8; if it does not, use an ASCII address here"


class AddressError(ValueError):
    """Not an e-mail address tempen can send to. `reason` says why, `hint` what to write instead."""

    def __init__(self, reason: str, hint: str = "write it as name@domain, e.g. anna.berg@kommun.se") -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


@dataclass(frozen=True, slots=True)
class MailAddress:
    local_part: str  # NFC, as RFC 6532 asks for
    domain: str  # the domain as people read it (Unicode, lower case)
    ascii_domain: str  # the same domain in IDNA2008 ASCII form, what DNS and every relay understand

    @property
    def needs_smtputf8(self) -> bool:
        """Only the relay's SMTPUTF8 can carry this address: its local part is not ASCII."""
        return not self.local_part.isascii()

    @property
    def for_transport(self) -> str:
        """The address for an envelope or header: ASCII whenever it can be, so it needs SMTPUTF8 only when it must."""
        return f"{self.local_part}@{self.ascii_domain}"

    def __str__(self) -> str:
        return f"{self.local_part}@{self.domain}"


def parse_address(text: str) -> MailAddress:
    """One bare address (no display name, no quotes, no IP literal), checked and normalised.

    Raises:
        AddressError: naming the reason and what to write instead.
    """
    if len(text) > MAX_ADDRESS_LENGTH:
        raise AddressError(f"longer than {MAX_ADDRESS_LENGTH} characters ({len(text)})")
    if "<" in text or ">" in text:
        raise AddressError(
            "a name and an address in angle brackets; only the address belongs here",
            "write only the address, without the name, e.g. anna.berg@kommun.se",
        )
    try:
        found = validate_email(
            text.strip(),
            check_deliverability=False,  # no DNS: config is checked offline, and a lookup is not a promise
            allow_smtputf8=True,
            allow_display_name=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            strict=True,  # also the 64-character limit before the @, which relays enforce
        )
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from None
    return MailAddress(local_part=found.local_part, domain=found.domain, ascii_domain=found.ascii_domain)


def sending_form(address: str) -> MailAddress:
    """An address already accepted where it entered, split for sending: the domain in IDNA2008 ASCII form.

    No syntax rules beyond that (they were applied on the way in, and a default such as
    `tempen@localhost` is no address anyone types); an ASCII domain is left exactly as written.

    Raises:
        AddressError: there is no @, or the domain has no IDNA2008 form.
    """
    local_part, at, domain = address.strip().rpartition("@")
    if not at or not local_part or not domain:
        raise AddressError(f"{address!r} has no local part and domain around an @")
    try:
        ascii_domain = domain if domain.isascii() else idna.encode(domain, uts46=True, transitional=False).decode()
    except idna.IDNAError as exc:
        raise AddressError(f"the domain {domain!r} cannot be written in ASCII (IDNA2008): {exc}") from None
    return MailAddress(local_part=unicodedata.normalize("NFC", local_part), domain=domain, ascii_domain=ascii_domain)
