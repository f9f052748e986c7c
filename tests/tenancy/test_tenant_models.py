from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tempen_shared.tenancy.loader import load_catalog
from tempen_shared.tenancy.models import Notifications, SecretRef, TenantConfig
from tests.tenancy.support import SHIPPED_CONFIG

MINIMAL: dict[str, Any] = {"id": "hjo", "name": "Hjo kommun", "hr_email": "hr@hjo.example", "instruments": ["hme"]}


def error_types(exc: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [e["type"] for e in exc.value.errors()]


def test_the_org_file_defaults_to_the_tenants_csv() -> None:
    assert TenantConfig.model_validate(MINIMAL).org_file == "org/hjo.csv"


def test_defaults_follow_swedish_practice() -> None:
    config = TenantConfig.model_validate(MINIMAL)
    assert (config.timezone, config.min_group_size, config.notifications.language) == ("Europe/Stockholm", 5, "sv")


def test_anonymity_hides_the_fewest_peoples_results_unless_told_to_hide_the_smallest_part() -> None:
    assert TenantConfig.model_validate(MINIMAL).complementary_suppression == "fewest_people"
    chosen = TenantConfig.model_validate({**MINIMAL, "complementary_suppression": "smallest_part"})
    assert chosen.complementary_suppression == "smallest_part"


@pytest.mark.parametrize("value", ["hemligt", 12345, ["a", "b"]])
def test_a_secret_written_inline_is_refused_as_an_inline_secret(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        TenantConfig.model_validate({**MINIMAL, "pseudonym_key": value})
    assert error_types(caught) == ["inline_secret"]
    assert str(value) not in str(caught.value.errors(include_input=False))


def test_a_secret_reference_names_exactly_one_source() -> None:
    with pytest.raises(ValidationError, match="exactly one of env or file"):
        SecretRef.model_validate({"env": "TEMPEN_KEY", "file": "/run/secrets/key"})
    with pytest.raises(ValidationError, match="exactly one of env or file"):
        SecretRef.model_validate({})


def test_an_environment_variable_name_must_look_like_one() -> None:
    with pytest.raises(ValidationError):
        SecretRef.model_validate({"env": "tempen key"})


def test_a_webhook_may_use_plain_http_only_to_localhost() -> None:
    assert Notifications(webhook_url="http://localhost:8080/hook").webhook_url == "http://localhost:8080/hook"
    with pytest.raises(ValidationError, match="https"):
        Notifications(webhook_url="http://hooks.hjo.example/tempen")


def test_an_instrument_listed_twice_is_refused() -> None:
    with pytest.raises(ValidationError, match="instruments listed twice: hme"):
        TenantConfig.model_validate({**MINIMAL, "instruments": ["hme", "hme"]})


@pytest.mark.parametrize("org_file", ["/etc/org.csv", "../org/hjo.csv", "org/hjo.xlsx"])
def test_an_org_file_must_be_a_csv_or_json_inside_the_config_directory(org_file: str) -> None:
    with pytest.raises(ValidationError):
        TenantConfig.model_validate({**MINIMAL, "org_file": org_file})


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        TenantConfig.model_validate({**MINIMAL, "timezone": "Europe/Hjo"})


def test_an_instruments_valid_answers_are_exactly_what_its_items_scales_accept() -> None:
    instruments = [i for t in load_catalog(SHIPPED_CONFIG).tenants.values() for i in t.instruments.values()]
    scales = {
        (i.scale_of(item).low, i.scale_of(item).high, i.scale_of(item).not_applicable)
        for i in instruments
        for item in i.items
    }
    assert len(scales) > 1  # items on more than one kind of scale, "vet ej" codes included
    for instrument in instruments:
        for item in instrument.items:
            for value in range(-3, 100):
                accepted = instrument.scale_of(item).accepts(value)
                assert ((item.id, value) in instrument.valid_answers) == accepted, (instrument.id, item.id, value)
        assert ("no-such-item", 3) not in instrument.valid_answers
