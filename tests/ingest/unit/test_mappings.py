from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tempen_ingest.mappings import MappingError, load_mappings
from tempen_shared.tenancy.loader import load_catalog

REPO = Path(__file__).parents[3]
SHIPPED = REPO / "config"
FIXTURES = REPO / "tests" / "fixtures" / "config"


def test_every_shipped_mapping_fits_its_tenant() -> None:
    mappings = load_mappings(SHIPPED, load_catalog(SHIPPED))
    assert {tenant for tenant, _ in mappings.mappings} == {"hjo", "ljungby"}
    assert {m.platform for m in mappings} == {"formbricks", "typeform", "kobo", "limesurvey"}
    assert all(m.verification is not None for m in mappings if m.platform != "limesurvey")


def test_the_test_tenant_has_a_mapping_per_platform() -> None:
    mappings = load_mappings(FIXTURES, load_catalog(FIXTURES))
    assert sorted(m.platform for m in mappings) == ["formbricks", "kobo", "limesurvey", "typeform"]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "config")
    return tmp_path / "config"


def _write(config: Path, name: str, text: str, tenant: str = "testkommun") -> None:
    (config / "mappings" / tenant).mkdir(parents=True, exist_ok=True)
    (config / "mappings" / tenant / name).write_text(text, encoding="utf-8")


MAPPING = """\
id: {id}
platform: typeform
form_id: f1
tenant: {tenant}
instrument: {instrument}
questions: {{a: {item}}}
unit: {{field: unit, units: {{k1: {unit}}}}}
verification: {verification}
"""


def test_every_problem_of_every_mapping_is_listed_with_its_file(config: Path) -> None:
    _write(
        config,
        "wrong-name.yaml",
        MAPPING.format(
            id="other",
            tenant="hjo",
            instrument="hjo-puls",
            item="q9",
            unit="nowhere",
            verification="{secret: {env: X}}",
        ),
    )
    _write(config, "old.yml", "id: old")
    _write(config, "x.yaml", "id: x", tenant="grannkommun")
    with pytest.raises(MappingError) as caught:
        load_mappings(config, load_catalog(config))
    text = "\n".join(str(problem) for problem in caught.value.problems)
    assert re.search(r"wrong\-name\.yaml:\d+: " + re.escape("id: 'other' differs from the file name"), text)
    assert re.search(r"wrong\-name\.yaml:\d+: " + re.escape("tenant: is 'hjo'"), text)
    assert re.search(
        r"wrong\-name\.yaml:\d+: " + re.escape("instrument: 'hjo-puls' is not one of testkommun's instruments"), text
    )
    assert re.search(r"wrong\-name\.yaml:\d+: " + re.escape("unit.units.k1: 'nowhere' is not a unit"), text)
    assert "old.yml: not read" in text
    assert "no tenant 'grannkommun'" in text


def test_a_webhook_mapping_needs_verification_and_an_inline_secret_is_never_repeated(config: Path) -> None:
    _write(
        config,
        "m1.yaml",
        MAPPING.format(
            id="m1", tenant="testkommun", instrument="test-puls", item="q1", unit="grupp-a1", verification="null"
        ),
    )
    _write(
        config,
        "m2.yaml",
        MAPPING.format(
            id="m2",
            tenant="testkommun",
            instrument="test-puls",
            item="q1",
            unit="grupp-a1",
            verification="{secret: hunter2}",
        ),
    )
    with pytest.raises(MappingError) as caught:
        load_mappings(config, load_catalog(config))
    text = "\n".join(str(problem) for problem in caught.value.problems)
    assert re.search(r"m1\.yaml:\d+: " + re.escape("verification: typeform deliveries must be verified"), text)
    assert re.search(r"m2\.yaml:\d+: " + re.escape("verification.secret"), text)
    assert "hunter2" not in text
