"""Addresses as tempen checks them on the way in and writes them on the way out: IDNA2008 domains,
SMTPUTF8 only for a local part that needs it, and every refusal with its reason and what to write."""

from __future__ import annotations

import unicodedata

import pytest

from tempen_shared.tenancy.addresses import AddressError, parse_address, sending_form


@pytest.mark.parametrize(
    ("written", "transport"),
    [
        ("anna@kommunå.se", "anna@xn--kommun-nua.se"),
        ("anna@Älvdalen.se", "anna@xn--lvdalen-4wa.se"),
        ("anna@östra-göinge.se", "anna@xn--stra-ginge-dcbg.se"),
        ("anna@kommun.se", "anna@kommun.se"),
    ],
)
def test_a_domain_with_swedish_letters_is_sent_in_its_ascii_form_without_smtputf8(written: str, transport: str) -> None:
    address = parse_address(written)
    assert address.for_transport == transport
    assert address.for_transport.isascii()
    assert address.needs_smtputf8 is False


def test_domains_follow_idna2008_not_the_stdlib_codecs_idna2003() -> None:
    # IDNA2003 (Python's "idna" codec) maps ß to "ss": another domain, someone else's mailbox.
    assert "straße.de".encode("idna") == b"strasse.de"
    assert parse_address("anna@straße.de").ascii_domain == "xn--strae-oqa.de"


def test_an_ascii_domain_already_in_punycode_is_read_as_the_same_domain() -> None:
    address = parse_address("anna@xn--kommun-nua.se")
    assert (address.domain, address.for_transport) == ("kommunå.se", "anna@xn--kommun-nua.se")


def test_a_local_part_with_swedish_letters_is_kept_and_needs_smtputf8() -> None:
    address = parse_address("åsa.öberg@kommunå.se")
    assert address.local_part == "åsa.öberg"
    assert address.for_transport == "åsa.öberg@xn--kommun-nua.se"
    assert address.needs_smtputf8 is True


def test_a_decomposed_letter_from_a_mac_export_is_composed_so_the_mailbox_matches() -> None:
    written = unicodedata.normalize("NFD", "åsa@kommun.se")
    assert written != "åsa@kommun.se"
    assert parse_address(written).local_part == "åsa"


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("anna.kommun.se", "must have an @-sign"),
        ("anna@kommun", "should have a period"),
        ("anna@@kommun.se", "invalid characters"),
        ("anna berg@kommun.se", "SPACE"),
        ("anna.@kommun.se", "period immediately before the @-sign"),
        ("anna@k☃.se", "U+2603"),
        ('"anna berg"@kommun.se', "Quoting"),
        ("anna@[10.0.0.1]", "bracketed IP address"),
        ("x" * 65 + "@kommun.se", "too long before the @-sign"),
        ("a@" + "k" * 260 + ".se", "longer than 254"),
        ("Anna Berg <anna@kommun.se>", "angle brackets"),
    ],
)
def test_a_malformed_address_is_refused_with_its_reason_and_what_to_write(written: str, reason: str) -> None:
    with pytest.raises(AddressError) as caught:
        parse_address(written)
    assert reason in caught.value.reason
    assert caught.value.hint


def test_the_sending_form_converts_only_a_non_ascii_domain_and_leaves_an_ascii_one_as_written() -> None:
    assert sending_form("bo@förvaltningen.example").for_transport == "bo@xn--frvaltningen-4ib.example"
    assert sending_form("Bo@Kommun.Example").for_transport == "Bo@Kommun.Example"
    assert sending_form("tempen@localhost").for_transport == "tempen@localhost"  # the built-in sender
    assert sending_form("åsa@kommunå.se").needs_smtputf8 is True


def test_the_sending_form_agrees_with_the_check_on_the_way_in() -> None:
    for written in ("åsa.öberg@Kommunå.se", "anna@straße.de", "bo@östra-göinge.se"):
        assert sending_form(written).for_transport == parse_address(written).for_transport


@pytest.mark.parametrize("written", ["no-at-sign", "@kommun.se", "anna@", "anna@k☃.se"])
def test_an_address_without_a_sending_form_is_refused(written: str) -> None:
    with pytest.raises(AddressError):
        sending_form(written)
