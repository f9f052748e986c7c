"""`tempen mappings suggest`: a first mapping for an Excel or CSV export, written for HR to check in.

It reads the export's header and answers, matches each column to the instrument's items by their text,
finds the response id, submit time, e-mail and unit columns, proposes numbers for the answer labels, and
writes `config/mappings/TENANT/ID.yaml` with a comment on everything a person should look at. Close
matches are asked about when a person is at the terminal; otherwise they are written as commented lines
to confirm. Nothing is guessed silently: what was not recognised is printed and left out.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path

from rich.console import Console
from rich.table import Table as RichTable

from tempen.commands.config_check import CONFIG_DIR_ENV, default_config_dir
from tempen_ingest.domain.platforms import DeliveryError, Table, read_csv, read_xlsx
from tempen_ingest.domain.platforms.suggest import (
    ColumnMatch,
    Suggestion,
    answer_labels,
    choose_instrument,
    propose_values,
    suggest,
)
from tempen_shared.tenancy.loader import ConfigError, Tenant, load_catalog

EXIT_OK = 0
EXIT_INVALID = 2
_RESPONSE_RANGE = re.compile(r"\s*\(\d+\s*-\s*\d+\)\s*$")  # Microsoft Forms names a download "Title(1-84).xlsx"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `mappings suggest`."""
    mappings = subparsers.add_parser("mappings", help="platform mappings: how a survey's answers reach tempen")
    actions = mappings.add_subparsers(dest="mappings_command", required=True, metavar="COMMAND")
    suggesting = actions.add_parser(
        "suggest",
        help="write a mapping for an Excel or CSV export (Microsoft Forms, Netigate...) from its columns",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Read the header row and answers of FILE (.xlsx or .csv), match each column to an item of the\n"
            "instrument by its text (case, punctuation and spacing ignored), and write a mapping for HR to\n"
            "check: config/mappings/TENANT/ID.yaml. Close matches are asked about on a terminal, otherwise\n"
            "written as commented lines to confirm. Then: tempen config check; tempen submissions import."
        ),
    )
    suggesting.add_argument("tenant", metavar="TENANT")
    suggesting.add_argument("file", metavar="FILE", type=Path)
    suggesting.add_argument("--instrument", metavar="ID", help="default: the tenant's instrument most columns match")
    suggesting.add_argument("--id", metavar="ID", help="the mapping's id (default: TENANT-<file name>)")
    suggesting.add_argument("--form-id", metavar="NAME", help="prefix of every submission id (default: the id)")
    suggesting.add_argument("--sheet", metavar="NAME", help="the worksheet with the responses (several sheets)")
    suggesting.add_argument("--header-row", type=int, default=1, metavar="N", help="the row of the column headings")
    suggesting.add_argument("--out", type=Path, metavar="PATH", help="default: CONFIG/mappings/TENANT/ID.yaml")
    suggesting.add_argument("--force", action="store_true", help="overwrite an existing mapping file")
    suggesting.add_argument(
        "--no-input", action="store_true", help="never ask; write close matches as comments to confirm"
    )
    suggesting.add_argument(
        "--config", type=Path, metavar="DIR", help=f"configuration directory (default ${CONFIG_DIR_ENV} or ./config)"
    )
    suggesting.set_defaults(handler=run_suggest)


def run_suggest(args: argparse.Namespace) -> int:
    console = Console()
    err = Console(stderr=True, soft_wrap=True)  # a path or command in an error stays whole, to copy
    config_dir: Path = args.config or default_config_dir()
    try:
        catalog = load_catalog(config_dir)
    except ConfigError as exc:
        err.print(f"[red]The configuration in {config_dir} has problems[/red] (tempen config check):")
        for problem in exc.problems:
            err.print(f"  {problem}")
        return EXIT_INVALID
    tenant = catalog.tenants.get(args.tenant)
    if tenant is None:
        err.print(f"[red]No tenant {args.tenant!r} in {config_dir}[/red] (known: {', '.join(sorted(catalog.tenants))})")
        return EXIT_INVALID
    try:
        table = _read(args.file, sheet=args.sheet, header_row=args.header_row)
    except (OSError, DeliveryError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) else f"{exc.field}: {exc.detail or exc.reason}"
        err.print(f"[red]Cannot read {args.file}:[/red] {detail}")
        return EXIT_INVALID
    if args.instrument and args.instrument not in tenant.instruments:
        err.print(
            f"[red]{args.instrument!r} is not one of {tenant.id}'s instruments[/red]: {', '.join(tenant.instruments)}"
        )
        return EXIT_INVALID
    instrument = (
        tenant.instruments[args.instrument]
        if args.instrument
        else choose_instrument(table.header, tenant.instruments.values())
    )
    found = suggest(table, instrument, tenant.org.units.values())
    confirmed = _confirm(found.close, ask=sys.stdin.isatty() and not args.no_input, console=console)
    mapping_id = args.id or _slug(f"{tenant.id}-{_RESPONSE_RANGE.sub('', args.file.stem)}")
    out: Path = args.out or config_dir / "mappings" / tenant.id / f"{mapping_id}.yaml"
    if out.exists() and not args.force:
        err.print(f"[red]{out} exists[/red]; give --force to overwrite it, or --id/--out for another file")
        return EXIT_INVALID
    text, unknown_labels = render(
        found,
        table,
        tenant,
        mapping_id=mapping_id,
        form_id=args.form_id or mapping_id,
        confirmed=confirmed,
        sheet=args.sheet,
        header_row=args.header_row,
        source=args.file.name,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    _print_summary(console, found, confirmed, unknown_labels, tenant, out, mapping_id, args.file)
    return EXIT_OK


def _read(path: Path, *, sheet: str | None, header_row: int) -> Table:
    data = path.read_bytes()
    if path.suffix.lower() == ".csv":
        return read_csv(data, header_row=header_row)
    return read_xlsx(data, sheet=sheet, header_row=header_row)


def _confirm(close: tuple[ColumnMatch, ...], *, ask: bool, console: Console) -> list[ColumnMatch]:
    if not ask:
        return []
    accepted: list[ColumnMatch] = []
    for match in close:
        console.print(
            f"Column [bold]{match.column}[/bold]\n  is close to {match.item}: {match.item_text} ({match.score})"
        )
        try:
            answer = input("  Map it to that item? [y/N] ")
        except EOFError:  # the terminal closed: what was not confirmed stays a comment
            break
        if answer.strip().lower() in ("y", "j", "yes", "ja"):
            accepted.append(match)
    return accepted


def render(
    found: Suggestion,
    table: Table,
    tenant: Tenant,
    *,
    mapping_id: str,
    form_id: str,
    confirmed: list[ColumnMatch],
    sheet: str | None,
    header_row: int,
    source: str,
) -> tuple[str, list[str]]:
    """The mapping file's text, and the answer labels it could not give a number."""
    mapped = [*found.exact, *confirmed]
    to_confirm = [match for match in found.close if match not in confirmed]
    scale = found.instrument.scale
    values, unknown = propose_values(answer_labels(table, [m.column for m in (*mapped, *to_confirm)]), scale)
    lines = [
        f"# Written by `tempen mappings suggest` from {source}. Check every line, then run `tempen config check`.",
        f"# Import with: tempen submissions import {tenant.id} <file> --mapping {mapping_id}",
        f"id: {mapping_id}",
        "platform: spreadsheet",
        f"form_id: {_q(form_id)}  # prefixes every submission id: keep it when you import later exports",
        f"tenant: {tenant.id}",
        f"instrument: {found.instrument.id}",
        f"timezone: {tenant.config.timezone}  # submit times without an offset are read in this zone",
        "columns:",
    ]
    if found.submitted_at:
        start_note = "  # no completion time found: the start time stands in" if found.submitted_is_start else ""
        lines.append(f"  submitted_at: {_q(found.submitted_at)}{start_note}")
    else:
        lines.append("  # submitted_at: <heading>  # no submit time column found: name the one the export has")
    if found.response_id:
        lines.append(f"  response_id: {_q(found.response_id)}  # the export's own id: a re-import stores nothing twice")
    else:
        lines += [
            "  # The export has no response id column. Give one (response_id: <heading>), or opt in to ids made",
            "  # from each row's content; see docs/platforms.md for what that costs before you do:",
            "  # id_from_content: true",
        ]
    if found.date_format:
        lines.append(f"  date_format: {_q(found.date_format)}")
    for choice in found.date_format_choices:
        lines.append(f"  # date_format: {_q(choice)}  # every date fits this and another: keep the right one")
    if sheet:
        lines.append(f"  sheet: {_q(sheet)}")
    if header_row != 1:
        lines.append(f"  header_row: {header_row}")
    lines += _unit_lines(found)
    if found.respondent:
        lines.append(
            f"respondent_field: {_q(found.respondent)}  # pseudonymised at ingest; needed for GDPR erasure requests"
        )
    lines.append("questions:")
    for match in mapped:
        lines.append(f"  {_q(match.column)}: {match.item}")
    for match in to_confirm:
        lines += [
            f"  # Close to {match.item} ({match.score}): {match.item_text}",
            "  # To confirm, remove the '# ' in front of the next line:",
            f"  # {_q(match.column)}: {match.item}",
        ]
    if not mapped:
        lines.append("  {}  # no column matched an item: map at least one heading to an item id")
    if values:
        lines.append(f"values:  # answer label -> number on the scale {scale.low}-{scale.high}")
        lines += [f"  {_q(label)}: {number}" for label, number in values.items()]
    else:
        lines.append("values: {}  # the answers are numbers, or no label was recognised (below)")
    lines += [
        f"  # {_q(label)}: ?   # not recognised: give its number, or rows with it are rejected" for label in unknown
    ]
    return "\n".join(lines) + "\n", unknown


def _unit_lines(found: Suggestion) -> list[str]:
    if found.unit_column is None:
        return [
            "# No column names the unit. Add one to the export (e.g. a question 'Vilken enhet arbetar du på?')",
            "# and name it here:",
            "# unit:",
            "#   field: <heading>",
        ]
    lines = ["unit:", f"  field: {_q(found.unit_column)}"]
    if found.units:
        lines.append("  units:  # the value in the file -> the unit id in the org file")
        lines += [f"    {_q(value)}: {unit}" for value, unit in found.units.items()]
    elif found.units is not None:
        lines.append("  units: {}  # none of the values is a unit id or name: give each one's unit id")
    lines += [f"    # {_q(value)}: ?   # no unit has this id or name" for value in found.unknown_units]
    return lines


def _print_summary(
    console: Console,
    found: Suggestion,
    confirmed: list[ColumnMatch],
    unknown_labels: list[str],
    tenant: Tenant,
    out: Path,
    mapping_id: str,
    file: Path,
) -> None:
    table = RichTable(title=f"{file.name} -> {found.instrument.id}")
    for name in ("column", "mapped to", "how"):
        table.add_column(name)
    for match in found.exact:
        table.add_row(_short(match.column), match.item, "same text")
    for match in found.close:
        how = "confirmed" if match in confirmed else f"close ({match.score}): confirm in the file"
        table.add_row(_short(match.column), match.item, how)
    for label, column in (
        ("response id", found.response_id),
        ("submit time", found.submitted_at),
        ("unit", found.unit_column),
    ):
        table.add_row(_short(column or "-"), label, "metadata" if column else "[red]not found[/red]")
    if found.respondent:
        table.add_row(_short(found.respondent), "respondent", "pseudonymised at ingest")
    for column in found.unmatched:
        table.add_row(_short(column), "-", "not mapped (ignored)")
    console.print(table)
    missing = [
        item.id for item in found.instrument.items if item.id not in {m.item for m in (*found.exact, *confirmed)}
    ]
    if missing:
        console.print(f"Items with no column: {', '.join(missing)}")
    if unknown_labels:
        console.print(f"[yellow]Answers with no number yet[/yellow] (rows with them are rejected): {unknown_labels}")
    if found.unknown_units:
        console.print(f"[yellow]Unit values that are no unit of {tenant.id}[/yellow]: {list(found.unknown_units)}")
    console.print(f"Wrote {out}. Check it, then:")
    console.print("  tempen config check")
    console.print(f"  tempen submissions import {tenant.id} {_shell(str(file))} --mapping {mapping_id} --dry-run")
    console.print(f"  tempen submissions import {tenant.id} {_shell(str(file))} --mapping {mapping_id}")


def _q(text: str) -> str:
    # A JSON string is a YAML double-quoted scalar: any heading or label, quotes and colons included, reads back.
    return json.dumps(text, ensure_ascii=False)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:100] or "export"


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _shell(text: str) -> str:
    return text if re.fullmatch(r"[\w./-]+", text) else "'" + text.replace("'", "'\\''") + "'"
