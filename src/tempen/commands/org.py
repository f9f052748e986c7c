"""`tempen org import` and `tempen org chain`: org trees from the command line.

An import reads the new file and reports every problem with its line. Ingest, which stores org versions,
compares it with the tenant's newest stored version and applies the guard rails (its dry run), and this
command shows that comparison; only with ingest out of reach does it compare with the configured org file
itself, and says so. Nothing is stored unless all of that passes, so a refused import changes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from tempen.commands.config_check import CONFIG_DIR_ENV, default_config_dir
from tempen_shared.clock import today_in
from tempen_shared.tenancy.loader import ConfigError, ConfigProblem, load_tenant_config
from tempen_shared.tenancy.models import TenantConfig
from tempen_shared.tenancy.org import OrgTree, management_chain
from tempen_shared.tenancy.org_import import (
    OrgFileError,
    ProgressCallback,
    check_guard_rails,
    diff_org,
    read_org,
)

EXIT_OK = 0
EXIT_INVALID = 1  # the file, the tenant or its current org cannot be read
EXIT_REFUSED = 3  # the guard rails refused the import
EXIT_NOT_STORED = 4  # valid and accepted, but there is nowhere to store it yet


class OrgVersionStore(Protocol):
    def __call__(self, *, tenant_id: str, tree: OrgTree, effective_from: date, source: str) -> None:
        """Store an accepted org version; raise NotImplementedError where there is no storage."""
        ...


@dataclass(frozen=True, slots=True)
class Comparison:
    """Ingest's comparison of an org file with the tenant's current org (its dry run)."""

    compared_with: str  # "version 3", or "the configured org file" when none is stored yet
    diff: str
    refusals: tuple[str, ...]


class OrgComparer(Protocol):
    def __call__(self, *, tenant_id: str, effective_from: date) -> Comparison | str:
        """The running system's comparison, or why there is none (ingest out of reach, or refusing)."""
        ...


class _ReportedError(Exception):
    """The command has reported why it stops; `exit_code` is what it exits with."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


def store_org_version(*, tenant_id: str, tree: OrgTree, effective_from: date, source: str) -> None:
    """Without a running system there is nowhere to store a version; `run_import` uses `http_store`."""
    raise NotImplementedError(
        f"storing org versions requires the running system; {tenant_id}'s org of {len(tree.units)} units "
        f"from {source}, in force from {effective_from.isoformat()}, was checked but not stored "
        "(use --dry-run to only check)"
    )


class OrgImportRefusedError(RuntimeError):
    """The running system refused the import (its current version differs from the config file)."""


def http_store(*, url: str, token: str | None, file: Path, force: bool) -> OrgVersionStore:
    """Store through ingest's admin endpoint, which re-checks against the newest stored version."""
    import httpx

    def store(*, tenant_id: str, tree: OrgTree, effective_from: date, source: str) -> None:
        headers = {"content-type": "application/json" if file.suffix.lower() == ".json" else "text/csv"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        params = {"effective_from": effective_from.isoformat(), "force": str(force).lower(), "source": source}
        try:
            response = httpx.post(
                f"{url}/v1/tenants/{tenant_id}/admin/org",
                params=params,
                content=file.read_bytes(),
                headers=headers,
                timeout=60,
            )
        except httpx.HTTPError as exc:
            raise NotImplementedError(f"ingest is not reachable at {url} ({exc}); is `tempen up` running?") from exc
        if response.status_code == 409:
            raise OrgImportRefusedError(response.json().get("detail", "refused"))
        if response.status_code != 201:
            body = response.json() if response.headers.get("content-type", "").endswith("json") else {}
            raise NotImplementedError(
                f"ingest answered {response.status_code}: {body.get('title', response.text)} {body.get('errors', '')}"
            )
        stored = response.json()
        print(
            f"Stored {len(tree.units)} units as version {stored['version']} (compared with {stored['compared_with']})."
        )

    return store


def http_compare(*, url: str, token: str | None, file: Path) -> OrgComparer:
    """Ask ingest's admin endpoint for a dry run: its diff against the newest stored version, and its guard
    rails' refusals (force=true, so a refused import still comes back with its diff; nothing is stored)."""
    import httpx

    def compare(*, tenant_id: str, effective_from: date) -> Comparison | str:
        headers = {"content-type": "application/json" if file.suffix.lower() == ".json" else "text/csv"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        params = {"effective_from": effective_from.isoformat(), "force": "true", "dry_run": "true"}
        try:
            response = httpx.post(
                f"{url}/v1/tenants/{tenant_id}/admin/org",
                params=params,
                content=file.read_bytes(),
                headers=headers,
                timeout=60,
            )
        except httpx.HTTPError as exc:
            return f"ingest is not reachable at {url} ({exc})"
        if response.status_code != 200:
            return f"ingest answered {response.status_code} to a dry run"
        body = response.json()
        return Comparison(str(body["compared_with"]), str(body["diff"]), tuple(map(str, body["refusals"])))

    return compare


def _token(explicit: str | None) -> str | None:
    import os

    if explicit:
        return explicit
    if os.environ.get("TEMPEN_TOKEN"):
        return os.environ["TEMPEN_TOKEN"]
    token_file = Path(os.environ.get("TEMPEN_STATE_DIR", ".tempen")) / "admin-token"
    return token_file.read_text().strip() if token_file.is_file() else None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `org import` and `org chain`; the parsed arguments carry `handler(args) -> exit code`."""
    org = subparsers.add_parser("org", help="import and inspect tenants' org trees")
    actions = org.add_subparsers(dest="org_command", required=True, metavar="COMMAND")

    importing = actions.add_parser(
        "import",
        help="check a new org file against the current org and import it",
        description="Read a new org file (CSV or JSON), report every problem with its line, show what changes "
        "compared with the tenant's current org, and refuse imports that remove more than 40%% of the units or "
        f"replace the root unit unless --force is given. Exit codes: {EXIT_INVALID} invalid, {EXIT_REFUSED} "
        f"refused, {EXIT_NOT_STORED} not stored.",
    )
    importing.add_argument("tenant", metavar="TENANT", help="the tenant id, e.g. hjo")
    importing.add_argument("file", metavar="FILE", type=Path, help="the new org file (.csv or .json)")
    importing.add_argument("--dry-run", action="store_true", help="check and show the changes, store nothing")
    importing.add_argument("--force", action="store_true", help="import even if a guard rail refuses it")
    importing.add_argument(
        "--effective-date",
        type=_iso_date,
        metavar="YYYY-MM-DD",
        help="the first day the new org is in force (default: today in the tenant's time zone)",
    )
    importing.add_argument(
        "--url",
        default=os.environ.get("TEMPEN_INGEST_URL", "http://127.0.0.1:8001"),
        help="ingest, which stores the version (default http://127.0.0.1:8001)",
    )
    importing.add_argument("--token", help="an admin token (default $TEMPEN_TOKEN or .tempen/admin-token)")
    _config_option(importing)
    importing.set_defaults(handler=run_import)

    chain = actions.add_parser(
        "chain",
        help="show who an alert about a unit goes to, level by level",
        description="List the management chain above a unit in the tenant's current org: level 1 is the next "
        "management level. Vacant posts and the unit's own manager are skipped.",
    )
    chain.add_argument("tenant", metavar="TENANT")
    chain.add_argument("unit", metavar="UNIT", help="a unit id from the org file")
    _config_option(chain)
    chain.set_defaults(handler=run_chain)


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="DIR",
        help=f"the configuration directory (default: ${CONFIG_DIR_ENV}, or ./config)",
    )


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


@dataclass(frozen=True, slots=True)
class ImportRequest:
    tenant_id: str
    file: Path
    config_dir: Path
    dry_run: bool = False
    force: bool = False
    effective_from: date | None = None  # None: today in the tenant's time zone


def run_import(args: argparse.Namespace) -> int:
    request = ImportRequest(
        tenant_id=args.tenant,
        file=args.file,
        config_dir=args.config or default_config_dir(),
        dry_run=args.dry_run,
        force=args.force,
        effective_from=args.effective_date,
    )
    token = _token(args.token)
    store = http_store(url=args.url, token=token, file=args.file, force=args.force)
    compare = http_compare(url=args.url, token=token, file=args.file)
    return import_org(request, store=store, compare=compare, out=sys.stdout, err=Console(stderr=True))


def import_org(
    request: ImportRequest,
    *,
    store: OrgVersionStore,
    out: TextIO,
    err: Console,
    compare: OrgComparer | None = None,
) -> int:
    """Check, compare and (unless a dry run) store one org import; returns the exit code. Without `compare`
    (or with ingest out of reach) the file is compared with the configured org file here."""
    try:
        return _import(request, store=store, compare=compare, out=out, err=err)
    except _ReportedError as stop:
        print("Nothing was imported.", file=out)
        return stop.exit_code


def _import(
    request: ImportRequest, *, store: OrgVersionStore, compare: OrgComparer | None, out: TextIO, err: Console
) -> int:
    config = _tenant(request.config_dir, request.tenant_id, out)
    with _progress_bar(err, f"Reading {request.file.name}") as on_progress:
        new = _org(request.file, out, on_progress=on_progress)
    effective_from = request.effective_from or today_in(config.zone)
    print(f"Org import for {config.id} ({config.name}) from {request.file}, in force from {effective_from}", file=out)
    compared = compare(tenant_id=config.id, effective_from=effective_from) if compare is not None else None
    if isinstance(compared, Comparison):
        print(f"Compared with {compared.compared_with} (the running system's current org)", file=out)
        print(compared.diff, file=out)
        refusals = list(compared.refusals)
    else:
        if compared is not None:
            print(f"Not compared by the running system: {compared}; comparing with the config file", file=out)
        current_path = request.config_dir / config.org_file
        old = _org(current_path, out) if current_path.exists() else None
        print(f"Compared with {current_path}" if old is not None else "No current org: every unit is new", file=out)
        print(diff_org(old, new).render(), file=out)
        refusals = check_guard_rails(old, new, force=False)
    print(file=out)
    if refusals and not request.force:
        for reason in refusals:
            print(f"Refused: {reason}.", file=out)
        print("Use --force if the change is intended. Nothing was imported.", file=out)
        return EXIT_REFUSED
    for reason in refusals:
        print(f"Accepted with --force: {reason}.", file=out)
    if request.dry_run:
        print("Dry run: nothing was stored.", file=out)
        return EXIT_OK
    try:
        store(tenant_id=config.id, tree=new, effective_from=effective_from, source=str(request.file))
    except NotImplementedError as exc:
        print(f"Not stored: {exc}", file=out)
        return EXIT_NOT_STORED
    except OrgImportRefusedError as exc:
        print(f"Refused by the running system: {exc}", file=out)
        return EXIT_REFUSED
    print(f"Stored: {config.id}'s org of {len(new.units)} units, in force from {effective_from}.", file=out)
    return EXIT_OK


def _tenant(config_dir: Path, tenant_id: str, out: TextIO) -> TenantConfig:
    try:
        return load_tenant_config(config_dir, tenant_id)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=out)
        raise _ReportedError(EXIT_INVALID) from None


def _org(path: Path, out: TextIO, *, on_progress: ProgressCallback | None = None) -> OrgTree:
    """The tree in an org file; if it cannot be read, the problems are printed and the command stops."""
    try:
        return read_org(path, on_progress=on_progress)
    except FileNotFoundError:
        print(f"{path}: no such file", file=out)
    except OrgFileError as exc:
        for problem in exc.problems:
            print(ConfigProblem(str(path), problem.line, problem.location, problem.reason, problem.hint), file=out)
        print(f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} in {path}.", file=out)
    except OSError as exc:
        print(f"{path}: cannot read the file: {exc.strerror}", file=out)
    raise _ReportedError(EXIT_INVALID)


@contextmanager
def _progress_bar(console: Console, label: str) -> Iterator[ProgressCallback]:
    # Drawn on stderr and only on a terminal, so piped output and tests see just the report.
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


def run_chain(args: argparse.Namespace) -> int:
    try:
        return _chain(args.config or default_config_dir(), args.tenant, args.unit, out=sys.stdout)
    except _ReportedError as stop:
        return stop.exit_code


def _chain(config_dir: Path, tenant_id: str, unit_id: str, *, out: TextIO) -> int:
    config = _tenant(config_dir, tenant_id, out)
    tree = _org(config_dir / config.org_file, out)
    if unit_id not in tree:
        print(f"unknown unit {unit_id!r} in {config_dir / config.org_file}", file=out)
        return EXIT_INVALID
    unit = tree.units[unit_id]
    own = f"{unit.manager.name} <{unit.manager.email}>" if unit.manager else "vacant"
    print(f"{unit.id}  {unit.name}  (manager: {own})", file=out)
    chain = management_chain(tree, unit.id)
    for level, manager in enumerate(chain, start=1):
        print(f"  level {level}: {manager.name} <{manager.email}>", file=out)
    if not chain:
        print(f"  nobody above: alerts go to HR ({config.hr_email})", file=out)
    return EXIT_OK
