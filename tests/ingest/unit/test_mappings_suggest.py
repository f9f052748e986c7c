"""`tempen mappings suggest` on exports laid out as Microsoft Forms and Netigate lay them out: what it
matches, what it only offers, and that what it writes is a mapping `config check` accepts or refuses
with the reason."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tempen.cli import main
from tempen.commands.config_check import check
from tempen_ingest.domain.platforms import read_csv, read_xlsx
from tempen_ingest.domain.platforms.suggest import match_columns, propose_values, suggest
from tempen_ingest.mappings import load_mappings
from tempen_shared.tenancy.loader import load_catalog
from tempen_shared.tenancy.models import Scale
from tests.ingest.spreadsheets import Q1, Q2, Q3, ms_forms_rows, netigate_csv, xlsx

CLOSE_Q1 = "Min chef visar uppskatning"  # a letter missing
INSIDE_Q3 = "Hur väl stämmer följande? [Mitt arbete känns meningsfullt]"


@pytest.fixture
def config(fixture_config: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "config"
    shutil.copytree(fixture_config, copy)
    return copy


@pytest.fixture(autouse=True)
def _wide_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def _export(tmp_path: Path, rows: list[list[Any]], name: str = "Medarbetarenkät 2025(1-6).xlsx") -> Path:
    path = tmp_path / name
    path.write_bytes(xlsx(rows))
    return path


def test_exact_headings_are_mapped_close_ones_only_offered_and_labels_and_units_proposed(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ms_forms_rows(6)
    rows[0][6], rows[0][8] = CLOSE_Q1, INSIDE_Q3
    rows[3][7] = "Stämmer nästan"
    rows[4][7] = "Vet ej"
    export = _export(tmp_path, rows)

    code = main(["mappings", "suggest", "testkommun", str(export), "--config", str(config), "--no-input"])

    out = capsys.readouterr().out
    assert code == 0
    written = config / "mappings" / "testkommun" / "testkommun-medarbetarenkat-2025.yaml"
    text = written.read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert document["questions"] == {Q2: "q2"}
    assert f'  # "{CLOSE_Q1}": q1' in text
    assert f'  # "{INSIDE_Q3}": q3' in text
    assert document["values"] == {
        "Stämmer mycket dåligt": 1,
        "Stämmer ganska dåligt": 2,
        "Varken eller": 3,
        "Stämmer ganska bra": 4,
        "Stämmer mycket bra": 5,
        "Vet ej": 6,
    }
    assert '# "Stämmer nästan": ?' in text
    assert document["unit"] == {
        "field": "Vilken enhet arbetar du på?",
        "units": {"Grupp A1": "grupp-a1", "Grupp B1": "grupp-b1"},
    }
    assert document["columns"] == {"submitted_at": "Slutförandetid", "response_id": "ID"}
    assert "respondent_field" not in document  # every E-post cell says "anonymous"
    assert "close (0.98): confirm in the file" in out
    assert "Stämmer nästan" in out
    assert "tempen submissions import testkommun" in out
    catalog = load_catalog(config)
    mapping = load_mappings(config, catalog).get("testkommun", "testkommun-medarbetarenkat-2025")
    assert mapping is not None
    assert mapping.form_id == "testkommun-medarbetarenkat-2025"


def test_an_existing_mapping_is_not_overwritten_without_force(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = _export(tmp_path, ms_forms_rows(2))
    argv = ["mappings", "suggest", "testkommun", str(export), "--config", str(config), "--id", "enkat"]

    assert main(argv) == 0
    assert main(argv) == 2
    assert "exists" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


def test_an_export_without_an_id_column_gets_a_mapping_config_check_refuses_until_hr_decides(
    config: Path, tmp_path: Path
) -> None:
    rows = [row[1:] for row in ms_forms_rows(3)]
    export = _export(tmp_path, rows, "utan-id.xlsx")

    assert main(["mappings", "suggest", "testkommun", str(export), "--config", str(config), "--no-input"]) == 0

    text = (config / "mappings" / "testkommun" / "testkommun-utan-id.yaml").read_text(encoding="utf-8")
    assert "# id_from_content: true" in text
    problems = [str(problem) for problem in check(config)]
    assert any("id_from_content" in problem for problem in problems)


def test_a_csv_with_us_dates_gets_its_date_format_and_unit_ids_need_no_table() -> None:
    text = netigate_csv().decode("utf-8-sig")
    for iso, us in (("2025-03-11 10:07", "3/11/2025 10:07"), ("2025-03-11 11:20", "3/11/2025 11:20")):
        text = text.replace(iso, us)
    text = text.replace("2025-03-12 08:04", "3/13/2025 08:04")
    table = read_csv(text.encode())
    catalog = load_catalog(Path(__file__).parents[2] / "fixtures" / "config")
    tenant = catalog.tenants["testkommun"]

    found = suggest(table, tenant.instruments["test-puls"], tenant.org.units.values())

    assert found.date_format == "%m/%d/%Y %H:%M"
    assert found.response_id == "Respondent ID"
    assert found.submitted_at == "Svarsdatum"
    assert (found.unit_column, found.units) == ("Enhet", None)
    assert [(m.column, m.item) for m in found.exact] == [(Q1, "q1"), (Q2, "q2"), (Q3, "q3")]


def test_day_month_dates_that_could_be_month_day_are_left_for_hr_to_choose() -> None:
    text = netigate_csv().decode("utf-8-sig")
    for iso, local in (("2025-03-11 10:07", "03/11/2025 10:07"), ("2025-03-11 11:20", "03/11/2025 11:20")):
        text = text.replace(iso, local)
    text = text.replace("2025-03-12 08:04", "03/12/2025 08:04")
    catalog = load_catalog(Path(__file__).parents[2] / "fixtures" / "config")
    tenant = catalog.tenants["testkommun"]

    found = suggest(read_csv(text.encode()), tenant.instruments["test-puls"], tenant.org.units.values())

    assert found.date_format is None
    assert set(found.date_format_choices) == {"%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M"}


def test_labels_are_numbered_only_when_known_or_numbered_and_within_the_scale() -> None:
    labels = [
        "5 - Instämmer helt",
        "1 Instämmer inte alls",
        "Instämmer i hög grad",
        "Ganska ofta",
        "7 Alltid",
        "Vet ej",
    ]

    values, unknown = propose_values(labels, Scale(low=1, high=5))
    assert values == {"1 Instämmer inte alls": 1, "Instämmer i hög grad": 4, "5 - Instämmer helt": 5}
    assert unknown == ["Ganska ofta", "7 Alltid", "Vet ej"]  # this scale has no "vet ej" code

    values, _unknown = propose_values(["Vet ej", "Stämmer helt"], Scale(low=1, high=5, not_applicable=(6,)))
    assert values == {"Stämmer helt": 5, "Vet ej": 6}

    values, unknown = propose_values(["Stämmer helt"], Scale(low=1, high=7))
    assert (values, unknown) == ({}, ["Stämmer helt"])  # a 7-point scale: no guess


def test_an_item_is_matched_to_one_column_at_most() -> None:
    catalog = load_catalog(Path(__file__).parents[2] / "fixtures" / "config")
    table = read_xlsx(xlsx([["ID", Q1, Q1.upper() + "!", "Min chef visar uppskattning ofta"]]))

    exact, close = match_columns(table.header, catalog.instruments["test-puls"])

    assert [(m.column, m.item) for m in exact] == [(Q1, "q1")]
    assert all(m.item != "q1" for m in close)


class _Terminal(io.StringIO):
    """What a person types at a terminal, one answer a line."""

    def isatty(self) -> bool:
        return True


def test_at_a_terminal_each_close_match_is_asked_about_and_only_a_yes_maps_it(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ms_forms_rows(3)
    rows[0][6], rows[0][8] = CLOSE_Q1, INSIDE_Q3
    export = _export(tmp_path, rows, "enkat.xlsx")
    monkeypatch.setattr("sys.stdin", _Terminal("j\nn\n"))

    assert main(["mappings", "suggest", "testkommun", str(export), "--config", str(config)]) == 0

    out = capsys.readouterr().out
    assert out.count("Map it to that item? [y/N]") == 2
    text = (config / "mappings" / "testkommun" / "testkommun-enkat.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text)["questions"] == {Q2: "q2", CLOSE_Q1: "q1"}
    assert f'  # "{INSIDE_Q3}": q3' in text


def test_without_a_unit_or_submit_time_column_the_mapping_is_refused_by_config_check_naming_them(
    config: Path, tmp_path: Path
) -> None:
    rows = [[cell for position, cell in enumerate(row) if position not in (1, 2, 5)] for row in ms_forms_rows(2)]
    export = _export(tmp_path, rows, "utan-enhet.xlsx")

    assert main(["mappings", "suggest", "testkommun", str(export), "--config", str(config), "--no-input"]) == 0

    problems = "\n".join(str(problem) for problem in check(config))
    assert "testkommun-utan-enhet.yaml" in problems
    assert "unit" in problems
    assert "columns.submitted_at" in problems
