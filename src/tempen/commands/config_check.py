"""`tempen config check [DIR]`: validate the configuration directory and list every problem with its line."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from tempen_ingest.mappings import read_mappings
from tempen_shared.tenancy.loader import Catalog, ConfigError, ConfigProblem, load_catalog

CONFIG_DIR_ENV = "TEMPEN_CONFIG_DIR"


def default_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """`$TEMPEN_CONFIG_DIR`, or `./config` when it is unset or empty."""
    value = (os.environ if environ is None else environ).get(CONFIG_DIR_ENV)
    return Path(value or "config")


def check(config_dir: Path) -> list[ConfigProblem]:
    """Every problem in the configuration directory; empty when it can be deployed."""
    return load_checked(config_dir)[1]


def summary(catalog: Catalog, mappings: int) -> str:
    units = sum(len(tenant.org.units) for tenant in catalog.tenants.values())
    return (
        f"OK: {len(catalog.tenants)} tenants, {len(catalog.instruments)} instruments, "
        f"{len(catalog.models)} models, {units} units, {mappings} platform mapping{'s' if mappings != 1 else ''}"
    )


def load_checked(config_dir: Path) -> tuple[Catalog | None, list[ConfigProblem], int]:
    """The catalogue, every problem of the directory (tenants, models, instruments, org files and the platform
    mappings, which ingest refuses to start with) and how many mappings are usable. The one check
    `config check` and `tempen up` share."""
    catalog, problems = _load_catalog(config_dir)
    if catalog is None or problems:
        return catalog, problems, 0
    mappings, problems = read_mappings(config_dir, catalog)
    return catalog, problems, len(mappings)


def _load_catalog(config_dir: Path) -> tuple[Catalog | None, list[ConfigProblem]]:
    if not config_dir.is_dir():
        return None, [
            ConfigProblem(
                str(config_dir), None, "", "configuration directory not found", f"pass DIR or set {CONFIG_DIR_ENV}"
            )
        ]
    try:
        catalog = load_catalog(config_dir)
    except ConfigError as exc:
        return None, list(exc.problems)
    if not catalog.tenants:
        return catalog, [
            ConfigProblem(str(config_dir / "tenants"), None, "", "no tenants", "add a file tenants/<id>.yaml")
        ]
    return catalog, []


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `config check [DIR]`; the parsed arguments carry `handler(args) -> exit code`."""
    config = subparsers.add_parser("config", help="work with the configuration directory")
    actions = config.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    parser = actions.add_parser(
        "check",
        help="validate tenants, models, instruments, org files and platform mappings",
        description="Validate the configuration directory (tenants, models, instruments, org files and "
        "mappings/<tenant>/*.yaml). Lists every problem as file:line: location: message (hint: ...) and exits 1 "
        "if there is any.",
    )
    parser.add_argument(
        "dir",
        nargs="?",
        type=Path,
        metavar="DIR",
        help=f"the configuration directory (default: ${CONFIG_DIR_ENV}, or ./config)",
    )
    parser.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    config_dir: Path = args.dir or default_config_dir()
    catalog, problems, mappings = load_checked(config_dir)
    for problem in problems:
        print(problem)
    for warning in catalog.address_warnings(config_dir) if catalog is not None else []:
        print(f"warning: {warning}")  # a warning never changes the exit code
    if problems or catalog is None:
        print(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {config_dir}", file=sys.stderr)
        return 1
    print(summary(catalog, mappings))
    return 0
