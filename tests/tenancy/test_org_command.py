from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from rich.console import Console

from tempen.commands import run
from tempen.commands.org import (
    EXIT_INVALID,
    EXIT_NOT_STORED,
    EXIT_OK,
    EXIT_REFUSED,
    ImportRequest,
    import_org,
)
from tempen_shared.tenancy.org import OrgTree
from tests.tenancy.support import SHIPPED_CONFIG, copy_config, replace_in


@dataclass
class RecordingStore:
    calls: list[tuple[str, OrgTree, date, str]] = field(default_factory=list)

    def __call__(self, *, tenant_id: str, tree: OrgTree, effective_from: date, source: str) -> None:
        self.calls.append((tenant_id, tree, effective_from, source))


@dataclass
class Outcome:
    exit_code: int
    out: str
    store: RecordingStore


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return copy_config(tmp_path)


@pytest.fixture
def new_org(config: Path, tmp_path: Path) -> Path:
    """Hjo's org with one unit added, one moved, one renamed and a vacancy filled."""
    path = tmp_path / "hjo-2026.csv"
    path.write_text((config / "org/hjo.csv").read_text(encoding="utf-8"), encoding="utf-8")
    replace_in(path, "hjo-klk-hr,HR och lön,", "hjo-klk-hr,HR-avdelningen,")
    replace_in(
        path, "hjo-soc-vuxen,Vuxen och försörjningsstöd,hjo-soc,", "hjo-soc-vuxen,Vuxen och försörjningsstöd,hjo-sbf,"
    )
    replace_in(
        path,
        "hjo-ktf-fritid,Fritid och turism,hjo-ktf,,,",
        "hjo-ktf-fritid,Fritid och turism,hjo-ktf,Ny Chef,ny.chef@hjo.example,",
    )
    with path.open("a", encoding="utf-8") as handle:
        handle.write("hjo-vo-hemtjanst-vaster,Hemtjänst väster,hjo-vo-hemtjanst,Ali Ek,ali.ek@hjo.example,24\n")
    return path


def do_import(
    config: Path,
    file: Path,
    *,
    tenant_id: str = "hjo",
    dry_run: bool = False,
    force: bool = False,
    effective_from: date | None = None,
) -> Outcome:
    store = RecordingStore()
    out = io.StringIO()
    request = ImportRequest(tenant_id, file, config, dry_run=dry_run, force=force, effective_from=effective_from)
    exit_code = import_org(request, store=store, out=out, err=Console(file=io.StringIO()))
    return Outcome(exit_code, out.getvalue(), store)


def test_a_dry_run_prints_the_diff_and_stores_nothing(config: Path, new_org: Path) -> None:
    outcome = do_import(config, new_org, dry_run=True, effective_from=date(2026, 1, 1))
    assert outcome.exit_code == EXIT_OK
    assert outcome.store.calls == []
    assert "41 units before, 42 after: 1 added, 1 moved, 1 renamed, 1 manager change" in outcome.out
    assert "  > hjo-soc-vuxen: hjo-soc -> hjo-sbf" in outcome.out
    assert "  * hjo-ktf-fritid: appointed Ny Chef <ny.chef@hjo.example> (was vacant)" in outcome.out
    assert outcome.out.rstrip().endswith("Dry run: nothing was stored.")


def test_an_accepted_import_is_stored_from_its_effective_date(config: Path, new_org: Path) -> None:
    outcome = do_import(config, new_org, effective_from=date(2026, 1, 1))
    assert outcome.exit_code == EXIT_OK
    ((tenant_id, tree, effective_from, source),) = outcome.store.calls
    assert (tenant_id, effective_from, source) == ("hjo", date(2026, 1, 1), str(new_org))
    assert "hjo-vo-hemtjanst-vaster" in tree


def test_an_invalid_file_is_refused_with_its_lines_and_nothing_changes(config: Path, new_org: Path) -> None:
    current = (config / "org/hjo.csv").read_bytes()
    replace_in(new_org, "ali.ek@hjo.example", "ali.ek(at)hjo.example")
    outcome = do_import(config, new_org)
    assert outcome.exit_code == EXIT_INVALID
    assert f"{new_org}:43: hjo-vo-hemtjanst-vaster.manager_email: malformed e-mail" in outcome.out
    assert outcome.out.rstrip().endswith("Nothing was imported.")
    assert outcome.store.calls == []
    assert (config / "org/hjo.csv").read_bytes() == current


def test_an_import_removing_most_units_is_refused_unless_forced(config: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial.csv"
    lines = (config / "org/hjo.csv").read_text(encoding="utf-8").splitlines()
    partial.write_text("\n".join(lines[:20]) + "\n", encoding="utf-8")
    refused = do_import(config, partial)
    assert refused.exit_code == EXIT_REFUSED
    assert "Refused: the import removes 22 of 41 units" in refused.out
    assert refused.store.calls == []
    forced = do_import(config, partial, force=True)
    assert forced.exit_code == EXIT_OK
    assert "Accepted with --force: the import removes 22 of 41 units" in forced.out
    assert len(forced.store.calls) == 1


def test_a_tenant_without_an_org_yet_imports_everything_as_new(config: Path, new_org: Path) -> None:
    (config / "org/hjo.csv").unlink()
    outcome = do_import(config, new_org, dry_run=True)
    assert outcome.exit_code == EXIT_OK
    assert "No current org: every unit is new" in outcome.out
    assert "0 units before, 42 after: 42 added" in outcome.out


def test_an_unknown_tenant_is_refused_naming_the_known_ones(config: Path, new_org: Path) -> None:
    outcome = do_import(config, new_org, tenant_id="hjoo")
    assert outcome.exit_code == EXIT_INVALID
    assert "no tenant 'hjoo' (hint: known tenants: hjo, ljungby)" in outcome.out
    assert outcome.store.calls == []


def test_without_storage_the_cli_checks_the_import_but_says_it_was_not_stored(
    config: Path, new_org: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on the URL: the import is checked and shown, then reported as not stored.
    exit_code = run(
        [
            "org",
            "import",
            "hjo",
            str(new_org),
            "--config",
            str(config),
            "--effective-date",
            "2026-01-01",
            "--url",
            "http://127.0.0.1:9",
        ]
    )
    assert exit_code == EXIT_NOT_STORED
    out = capsys.readouterr().out
    assert "Not compared by the running system: ingest is not reachable at http://127.0.0.1:9" in out
    assert "1 added, 1 moved, 1 renamed, 1 manager change" in out
    assert "Not stored: ingest is not reachable at http://127.0.0.1:9" in out


def test_the_cli_dry_run_succeeds(config: Path, new_org: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["org", "import", "hjo", str(new_org), "--config", str(config), "--dry-run"]) == EXIT_OK
    assert "Dry run: nothing was stored." in capsys.readouterr().out


def test_an_effective_date_that_is_not_a_date_is_a_usage_error(
    config: Path, new_org: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        run(["org", "import", "hjo", str(new_org), "--config", str(config), "--effective-date", "1/1/2026"])
    assert caught.value.code == 2
    assert "write YYYY-MM-DD" in capsys.readouterr().err


def test_chain_shows_the_next_management_level_of_a_unit(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["org", "chain", "hjo", "hjo-vo-hemtjanst-norra", "--config", str(SHIPPED_CONFIG)]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("hjo-vo-hemtjanst-norra  Hemtjänst norra  (manager: ")
    assert lines[1].startswith("  level 1: ")


def test_chain_of_the_root_unit_points_to_hr(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["org", "chain", "hjo", "hjo", "--config", str(SHIPPED_CONFIG)]) == EXIT_OK
    assert "nobody above: alerts go to HR (hr@hjo.example)" in capsys.readouterr().out
