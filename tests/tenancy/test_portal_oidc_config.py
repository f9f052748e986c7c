"""`tempen config check` on a tenant's portal.oidc block: what loads, and what is refused with its line and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tempen.commands.config_check import check
from tempen_shared.tenancy.loader import load_catalog
from tests.tenancy.support import copy_config, line_of

OIDC = """
portal:
  oidc:
    issuer: https://login.microsoftonline.com/0d2c3e1b-5a6f-4b8e-9c7d-1e2f3a4b5c6d/v2.0/
    client_id: 6f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b
    client_secret: {env: TEMPEN_HJO_OIDC_CLIENT_SECRET}
    email_claim: preferred_username
    hr_values: [tempen.hr]
    unit_groups:
      3f1e2d4c-0000-4000-8000-000000000001: [hjo-bou, hjo-skola-ostra]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return copy_config(tmp_path)


def _with(config: Path, block: str) -> Path:
    tenant = config / "tenants/hjo.yaml"
    tenant.write_text(tenant.read_text(encoding="utf-8") + block, encoding="utf-8")
    return tenant


def test_an_entra_id_block_loads_with_its_defaults(config: Path) -> None:
    _with(config, OIDC)

    oidc = load_catalog(config).tenants["hjo"].config.portal.oidc

    assert oidc is not None
    assert oidc.issuer == "https://login.microsoftonline.com/0d2c3e1b-5a6f-4b8e-9c7d-1e2f3a4b5c6d/v2.0"
    assert oidc.client_secret.env == "TEMPEN_HJO_OIDC_CLIENT_SECRET"
    assert oidc.scopes == ("openid", "email", "profile")
    assert (oidc.email_claim, oidc.hr_claim, oidc.groups_claim) == ("preferred_username", "roles", "groups")
    assert oidc.unit_groups == {"3f1e2d4c-0000-4000-8000-000000000001": ("hjo-bou", "hjo-skola-ostra")}


def test_without_the_block_a_tenant_has_no_identity_provider(config: Path) -> None:
    assert load_catalog(config).tenants["hjo"].config.portal.oidc is None


def test_a_client_secret_written_inline_is_refused_without_repeating_it(config: Path) -> None:
    tenant = _with(config, OIDC.replace("{env: TEMPEN_HJO_OIDC_CLIENT_SECRET}", "Xq8~verysecretvalue"))

    (problem,) = [str(p) for p in check(config)]

    assert problem.startswith(f"{tenant}:{line_of(tenant, 'client_secret:')}: portal.oidc.client_secret: ")
    assert "hint: write 'client_secret: {env: TEMPEN_HJO_CLIENT_SECRET}'" in problem
    assert "verysecretvalue" not in problem


def test_a_unit_the_org_tree_does_not_have_is_refused_with_its_line_and_a_did_you_mean(config: Path) -> None:
    tenant = _with(config, OIDC.replace("[hjo-bou, hjo-skola-ostra]", "[hjo-bou, hjo-skola-ostr]"))

    (problem,) = [str(p) for p in check(config)]

    assert problem == (
        f"{tenant}:{line_of(tenant, 'hjo-skola-ostr]')}: "
        "portal.oidc.unit_groups.3f1e2d4c-0000-4000-8000-000000000001.1: unit 'hjo-skola-ostr' is not in the "
        "org tree (org/hjo.csv) (hint: did you mean 'hjo-skola-ostra'?)"
    )


@pytest.mark.parametrize(
    ("old", "new", "where", "says"),
    [
        ("issuer: https://", "issuer: http://", "portal.oidc.issuer", "must start with https://"),
        ("    hr_values:", "    scopes: [email, profile]\n    hr_values:", "portal.oidc.scopes", "must include openid"),
        ("    hr_values:", "    hr_claim: roles claim\n    hr_values:", "portal.oidc.hr_claim", "pattern"),
        ("    client_id:", "    client_ids:", "portal.oidc.client_ids", "did you mean 'client_id'?"),
    ],
)
def test_what_cannot_work_is_refused_naming_the_key(config: Path, old: str, new: str, where: str, says: str) -> None:
    _with(config, OIDC.replace(old, new, 1))

    problems = [str(p) for p in check(config)]

    assert any(f": {where}: " in p and says in p for p in problems), problems
