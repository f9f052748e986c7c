"""`tempen config check` on alert_policy.alert_on and below_tenant_by: null, against the tenant's own models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tempen.commands.config_check import check
from tempen_shared.tenancy.loader import load_catalog
from tempen_shared.tenancy.models import AlertPolicy
from tests.tenancy.support import SHIPPED_CONFIG, copy_config, line_of, replace_in

ALL = "  alert_on: all\n"  # as the shipped tenant files write it


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return copy_config(tmp_path)


def problems_in(config: Path) -> list[str]:
    return [str(p) for p in check(config)]


def test_a_list_of_dimension_ids_per_model_loads(config: Path) -> None:
    replace_in(
        config / "tenants/hjo.yaml",
        ALL,
        "  alert_on:\n    hme: [hme]\n    hjo-ledarmodell: [fortroende-tillit, engagemang-entusiasm]\n",
    )

    policy = load_catalog(config).tenants["hjo"].config.alert_policy

    assert policy.alert_on == {"hme": ("hme",), "hjo-ledarmodell": ("fortroende-tillit", "engagemang-entusiasm")}


def test_an_unknown_dimension_id_is_refused_with_its_line_and_a_did_you_mean(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, ALL, "  alert_on:\n    hjo-ledarmodell: [fortroende-tilit]\n")

    (problem,) = problems_in(config)

    assert problem == (
        f"{tenant}:{line_of(tenant, '[fortroende-tilit]')}: alert_policy.alert_on.hjo-ledarmodell.0: "
        "unknown dimension 'fortroende-tilit' of hjo-ledarmodell (hint: did you mean 'fortroende-tillit'?)"
    )


def test_a_model_the_tenant_does_not_have_is_refused(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, ALL, "  alert_on:\n    ljungby-tillit: [oppenhet]\n")

    (problem,) = problems_in(config)

    assert problem.startswith(f"{tenant}:{line_of(tenant, 'ljungby-tillit:')}: alert_policy.alert_on.ljungby-tillit: ")
    assert "unknown model 'ljungby-tillit': none of the tenant's instruments feeds it" in problem
    assert "hjo-ledarmodell, hme" in problem


def test_an_unknown_keyword_is_refused_naming_the_choices(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, ALL, "  alert_on: total\n")

    (problem,) = problems_in(config)

    assert problem.startswith(f"{tenant}:{line_of(tenant, 'alert_on: total')}: alert_policy.alert_on: ")
    assert "alert_on must be all, totals, dimensions, or per model a list of dimension ids; got 'total'" in problem


def test_totals_for_a_tenant_without_any_total_index_is_refused(config: Path) -> None:
    hme = config / "models/hme.yaml"
    text = hme.read_text(encoding="utf-8")
    hme.write_text(text[: text.index("total:")], encoding="utf-8")  # HME as a model without its totalindex
    tenant = config / "tenants/ljungby.yaml"
    replace_in(tenant, ALL, "  alert_on: totals\n")

    (problem,) = problems_in(config)

    assert problem.startswith(f"{tenant}:{line_of(tenant, 'alert_on: totals')}: alert_policy.alert_on: ")
    assert "alert_on is totals, but none of the tenant's models has a total index, so nothing would alert" in problem


def test_below_tenant_by_null_turns_the_tenant_line_off_and_a_word_is_refused(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, "below_tenant_by: 10", "below_tenant_by: null")
    assert load_catalog(config).tenants["hjo"].config.alert_policy.below_tenant_by is None

    replace_in(tenant, "below_tenant_by: null", "below_tenant_by: off")
    (problem,) = problems_in(config)
    assert problem.startswith(f"{tenant}:{line_of(tenant, 'below_tenant_by: off')}: alert_policy.below_tenant_by")
    assert "valid number" in problem


def test_alerts_on_reads_the_keywords_against_a_models_total_and_dimensions() -> None:
    hme = load_catalog(SHIPPED_CONFIG).models["hme"]
    hjo = load_catalog(SHIPPED_CONFIG).models["hjo-ledarmodell"]
    every = AlertPolicy()
    totals = AlertPolicy(alert_on="totals")
    dimensions = AlertPolicy(alert_on="dimensions")
    listed = AlertPolicy(alert_on={"hme": ["hme", "ledarskap"]})

    assert every.alerts_on(hme, "hme")
    assert every.alerts_on(hjo, "fortroende-tillit")
    assert every.alerts_on(None, "x")
    assert totals.alerts_on(hme, "hme")
    assert not totals.alerts_on(hme, "ledarskap")
    assert not totals.alerts_on(hjo, "fortroende-tillit"), "Hjo's model has no total index"
    assert not dimensions.alerts_on(hme, "hme")
    assert dimensions.alerts_on(hme, "ledarskap")
    assert dimensions.alerts_on(hjo, "fortroende-tillit")
    assert listed.alerts_on(hme, "hme")
    assert listed.alerts_on(hme, "ledarskap")
    assert not listed.alerts_on(hme, "styrning")
    assert not listed.alerts_on(hjo, "fortroende-tillit"), "a model left out alerts on nothing"
    assert not totals.alerts_on(None, "hme"), "a model the tenant no longer has alerts only under all"
