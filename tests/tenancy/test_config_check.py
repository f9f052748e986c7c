from __future__ import annotations

from pathlib import Path

import pytest

from tempen.cli import main as tempen_main
from tempen.commands import run
from tempen.commands.config_check import check
from tests.tenancy.support import SHIPPED_CONFIG, copy_config, line_of, replace_in


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return copy_config(tmp_path)


def problems_in(config: Path) -> list[str]:
    return [str(p) for p in check(config)]


def test_the_shipped_configuration_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["config", "check", str(SHIPPED_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 2 tenants, ")
    shipped = len(list((SHIPPED_CONFIG / "mappings").glob("*/*.yaml")))
    assert out.rstrip().endswith(f" units, {shipped} platform mappings")


def test_the_directory_defaults_to_the_environment_variable(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEMPEN_CONFIG_DIR", str(config))
    replace_in(config / "tenants/hjo.yaml", "min_group_size: 5", "min_group_size: 2")
    assert run(["config", "check"]) == 1
    assert str(config / "tenants/hjo.yaml") in capsys.readouterr().out


def test_the_directory_defaults_to_config_in_the_working_directory(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TEMPEN_CONFIG_DIR", raising=False)
    monkeypatch.chdir(config.parent)
    assert run(["config", "check"]) == 0
    assert capsys.readouterr().out.startswith("OK: ")


def test_a_missing_directory_is_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["config", "check", str(tmp_path / "nowhere")]) == 1
    assert "configuration directory not found" in capsys.readouterr().out


def test_a_min_group_size_below_three_is_refused_with_its_line_and_a_hint(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, "min_group_size: 5", "min_group_size: 2")
    (problem,) = problems_in(config)
    assert problem.startswith(f"{tenant}:{line_of(tenant, 'min_group_size: 2')}: min_group_size: ")
    assert "(hint: 3 is the lowest allowed" in problem


def test_an_unknown_complementary_suppression_is_refused_with_its_line_and_the_choices(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, "min_group_size: 5\n", "min_group_size: 5\ncomplementary_suppression: next_smallest\n")
    (problem,) = problems_in(config)
    assert problem.startswith(f"{tenant}:{line_of(tenant, 'next_smallest')}: complementary_suppression: ")
    assert "'fewest_people' or 'smallest_part'" in problem
    assert "(hint: write fewest_people (the default" in problem


def test_an_unknown_instrument_is_refused_with_a_did_you_mean(config: Path) -> None:
    tenant = config / "tenants/ljungby.yaml"
    replace_in(tenant, "[ljungby-puls, hme]", "[ljungby-pulse, hme]")
    (problem,) = problems_in(config)
    assert problem == (
        f"{tenant}:{line_of(tenant, 'ljungby-pulse')}: instruments.0: unknown instrument 'ljungby-pulse' "
        "(hint: did you mean 'ljungby-puls'?)"
    )


def test_a_misspelt_key_is_refused_with_a_did_you_mean(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, "  sustained_periods: 2", "  sustained_period: 2")
    (problem,) = problems_in(config)
    assert problem == (
        f"{tenant}:{line_of(tenant, 'sustained_period:')}: alert_policy.sustained_period: "
        "unknown key 'sustained_period' (hint: did you mean 'sustained_periods'?)"
    )


def test_an_inline_pseudonym_key_is_refused_without_repeating_it(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, "pseudonym_key: {env: TEMPEN_HJO_PSEUDONYM_KEY}", "pseudonym_key: hemligt-v4rde")
    (problem,) = problems_in(config)
    assert problem.startswith(f"{tenant}:{line_of(tenant, 'pseudonym_key:')}: pseudonym_key: a secret is written")
    assert "hint: write 'pseudonym_key: {env: TEMPEN_HJO_PSEUDONYM_KEY}'" in problem
    assert "hemligt-v4rde" not in problem


def test_an_inline_webhook_secret_is_refused(config: Path) -> None:
    tenant = config / "tenants/ljungby.yaml"
    replace_in(
        tenant,
        "  from_address: tempen@ljungby.example",
        "  from_address: tempen@ljungby.example\n  webhook_url: https://hooks.ljungby.example/tempen\n"
        "  webhook_secret: hemligt-v4rde",
    )
    (problem,) = problems_in(config)
    assert problem.startswith(f"{tenant}:{line_of(tenant, 'webhook_secret')}: notifications.webhook_secret: a secret")
    assert "hemligt-v4rde" not in problem


def test_a_webhook_url_with_a_password_in_it_is_refused(config: Path) -> None:
    tenant = config / "tenants/ljungby.yaml"
    replace_in(
        tenant,
        "  from_address: tempen@ljungby.example",
        "  from_address: tempen@ljungby.example\n  webhook_url: https://tempen:hemligt@hooks.ljungby.example/",
    )
    (problem,) = problems_in(config)
    assert "notifications.webhook_url: the webhook URL carries credentials" in problem


def test_a_secret_looking_unknown_key_gets_a_hint_about_secrets(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, "org_file: org/hjo.csv", "org_file: org/hjo.csv\nsmtp_password: hemligt")
    (problem,) = problems_in(config)
    assert "unknown key 'smtp_password' (hint: secrets never go in config files" in problem


def test_an_invalid_hr_email_is_refused(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, "hr_email: hr@hjo.example", "hr_email: hr.hjo.example")
    (problem,) = problems_in(config)
    assert problem.startswith(f"{tenant}:{line_of(tenant, 'hr_email')}: hr_email: value is not a valid email")


def test_tenant_addresses_follow_the_same_rule_as_org_files(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, "hr_email: hr@hjo.example", "hr_email: HR Hjo <hr@hjo.example>")
    replace_in(tenant, "from_address: tempen@hjo.example", f"from_address: {'t' * 65}@hjo.example")
    hr, sender = problems_in(config)
    assert hr.startswith(
        f"{tenant}:{line_of(tenant, 'hr_email:', at_start=True)}: hr_email: value is not a valid email"
    )
    assert "angle brackets" in hr
    assert hr.endswith("(hint: write only the address, without the name, e.g. anna.berg@kommun.se)")
    assert sender.startswith(f"{tenant}:{line_of(tenant, 'from_address: ttt')}: notifications.from_address: ")
    assert "too long before the @-sign" in sender


def test_a_key_written_twice_is_reported_on_its_second_line(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, "timezone: Europe/Stockholm", "timezone: Europe/Stockholm\ntimezone: Europe/Oslo")
    (problem,) = problems_in(config)
    assert problem.startswith(f"{tenant}:{line_of(tenant, 'Europe/Oslo')}: timezone: key 'timezone' appears twice")


def test_an_org_file_outside_the_config_directory_is_not_opened(config: Path) -> None:
    tenant = config / "tenants/hjo.yaml"
    replace_in(tenant, "org_file: org/hjo.csv", "org_file: ../../hjo.csv")
    (problem,) = problems_in(config)
    assert "org_file: Value error, org_file must be a path inside the config directory" in problem


def test_a_cycle_in_an_org_csv_is_reported_with_its_csv_lines(config: Path) -> None:
    org = config / "org/hjo.csv"
    replace_in(
        org, "\nhjo-forskola,Förskoleverksamheten,hjo-bou,", "\nhjo-forskola,Förskoleverksamheten,hjo-forskola-ekorren,"
    )
    loop = "hjo-forskola -> hjo-forskola-ekorren -> hjo-forskola"
    hint = "(hint: a unit cannot be below itself; correct parent_id on one of the units in the loop)"
    assert problems_in(config) == [
        f"{org}:{line_of(org, 'hjo-forskola,', at_start=True)}: hjo-forskola.parent_id: "
        f"is part of a cycle: {loop} {hint}",
        f"{org}:{line_of(org, 'hjo-forskola-ekorren,', at_start=True)}: hjo-forskola-ekorren.parent_id: "
        f"is part of a cycle: {loop} {hint}",
    ]


def test_a_bad_email_in_an_org_csv_is_reported_with_its_csv_line(config: Path) -> None:
    org = config / "org/ljungby.csv"
    address = org.read_text(encoding="utf-8").splitlines()[5].split(",")[4]
    replace_in(org, address, address.replace("@", "@@"))
    (problem,) = problems_in(config)
    assert problem.startswith(f"{org}:6: ")
    assert ".manager_email: malformed e-mail" in problem


def test_an_address_with_swedish_letters_before_the_at_is_a_warning_not_an_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org, tenant = config / "org/hjo.csv", config / "tenants/hjo.yaml"
    replace_in(org, "eva.sandberg@hjo.example", "åsa.öberg@hjo.example")
    replace_in(org, "johan.lindberg@hjo.example", "johan.lindberg@hjö.example")  # a domain alone is no matter
    replace_in(tenant, "hr_email: hr@hjo.example", "hr_email: personalavdelningen.hjö@hjo.example")
    assert run(["config", "check", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    warnings = [line for line in out if line.startswith("warning: ")]
    needs = (
        "has å, ä, ö or another non-ASCII letter before the @: it reaches its recipient only through a relay that "
        "supports SMTPUTF8 (hint: ask the mail admin whether the relay supports SMTPUTF8; if it does not, use an "
        "ASCII address here)"
    )
    hr_line, org_line = line_of(tenant, "hr_email:", at_start=True), line_of(org, "åsa.öberg@")
    assert warnings == [
        f"warning: {tenant}:{hr_line}: hr_email: personalavdelningen.hjö@hjo.example {needs}",
        f"warning: {org}:{org_line}: hjo-klk-ekonomi.manager_email: åsa.öberg@hjo.example {needs}",
    ]
    assert out[-1].startswith("OK: 2 tenants")


def test_a_malformed_manager_address_is_an_error_naming_the_field_and_reason(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    org = config / "org/hjo.csv"
    replace_in(org, "eva.sandberg@hjo.example", '"Eva Sandberg <eva.sandberg@hjo.example>"')
    assert run(["config", "check", str(config)]) == 1
    (problem,) = [line for line in capsys.readouterr().out.splitlines() if "manager_email" in line]
    assert problem.startswith(
        f"{org}:{line_of(org, 'Eva Sandberg <')}: hjo-klk-ekonomi.manager_email: malformed e-mail"
    )
    assert "angle brackets" in problem
    assert "(hint: write only the address" in problem


def test_every_problem_is_reported_in_one_run(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replace_in(config / "tenants/hjo.yaml", "min_group_size: 5", "min_group_size: 1")
    replace_in(config / "tenants/hjo.yaml", "[hjo-puls, hme]", "[hjo-puls, hme, okänd]")
    replace_in(config / "tenants/ljungby.yaml", "  noise_z: 1.0", "  noize_z: 1.0")
    replace_in(config / "org/ljungby.csv", ",ljungby-klf,", ",ljungby-klf-saknas,")
    assert run(["config", "check", str(config)]) == 1
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 4
    assert "4 problems" in captured.err


def test_a_tenant_file_with_the_wrong_extension_is_pointed_out(config: Path) -> None:
    (config / "tenants/hjo.yaml").rename(config / "tenants/hjo.yml")
    (problem,) = problems_in(config)
    assert "hjo.yml: this file is not read (hint: only *.yaml is read: rename it to hjo.yaml)" in problem


def test_a_directory_without_tenants_is_a_problem(config: Path) -> None:
    for tenant in (config / "tenants").glob("*.yaml"):
        tenant.unlink()
    (problem,) = problems_in(config)
    assert "no tenants" in problem


def test_a_mapping_naming_an_unknown_item_is_a_problem_with_its_line(config: Path) -> None:
    # It used to pass "OK", and `tempen up` then failed with ingest's traceback instead.
    mapping = config / "mappings/hjo/hjo-puls-typeform.yaml"
    replace_in(mapping, "rutiner: hjo-us-2", "rutiner: hjo-us-22")
    (problem,) = problems_in(config)
    line = line_of(mapping, "rutiner: hjo-us-22")
    assert problem == f"{mapping}:{line}: questions.rutiner: 'hjo-us-22' is not an item of 'hjo-puls'"


def test_a_mapping_that_is_not_a_mapping_gets_the_catalogue_hints(config: Path) -> None:
    mapping = config / "mappings/ljungby/ljungby-puls-formbricks.yaml"
    replace_in(mapping, "form_id:", "formid:")
    problems = problems_in(config)
    assert f"{mapping}:{line_of(mapping, 'formid:')}: formid: unknown key 'formid' (hint: did you mean 'form_id'?)" in (
        problems
    )


def test_tempen_up_refuses_a_broken_mapping_before_starting_anything(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = config / "mappings/hjo/hjo-puls-kobo.yaml"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text.replace("instrument: hjo-puls", "instrument: hjo-pulse", 1), encoding="utf-8")
    state = tmp_path / "state"
    assert tempen_main(["up", "--config", str(config), "--state", str(state)]) == 2
    out = capsys.readouterr().out
    assert "has problems; fix them first (tempen config check)" in out
    assert f"{mapping}:{line_of(mapping, 'instrument: hjo-pulse')}: instrument: 'hjo-pulse'" in out
    assert not state.exists()  # nothing was started, not even the database
