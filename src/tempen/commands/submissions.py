"""`tempen submissions import`: load a file of submissions into a running ingest, with a per-row report.

The file is read here, row by row, into canonical submissions; they are posted in batches to ingest's
batch API (`POST /v1/tenants/{tenant}/submissions`), which validates, pseudonymises and stores them
exactly as it does every other submission. Ingest recognises submission ids it has seen, so running
the same import again stores nothing twice: those rows are reported as duplicates. `--dry-run`
checks every row against the local configuration with ingest's own validation and sends nothing.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TextIO

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tempen.commands.config_check import CONFIG_DIR_ENV, default_config_dir
from tempen_ingest.domain.canonical_csv import CsvFileError, read_canonical_csv
from tempen_ingest.domain.platforms import (
    DeliveryError,
    ParsedDelivery,
    PlatformMapping,
    json_export_columns,
    mapped_columns,
    missing_columns,
    parse_limesurvey_csv,
    parse_limesurvey_json,
    parse_spreadsheet,
    read_csv,
    read_xlsx,
    remotecontrol_export,
    skip_detail,
    survey_id_of_file,
)
from tempen_ingest.domain.validation import check_submission
from tempen_ingest.mappings import load_mappings
from tempen_shared.clock import utc_now
from tempen_shared.tenancy.loader import Catalog, ConfigError, load_catalog

Format = Literal["csv", "json", "ndjson", "limesurvey-json", "limesurvey-csv", "xlsx", "spreadsheet-csv"]
FORMATS: tuple[Format, ...] = ("csv", "json", "ndjson", "limesurvey-json", "limesurvey-csv", "xlsx", "spreadsheet-csv")
SPREADSHEET_FORMATS: tuple[Format, ...] = ("xlsx", "spreadsheet-csv")
INGEST_URL_ENV = "TEMPEN_INGEST_URL"
DEFAULT_URL = "http://127.0.0.1:8001"
# The clock skew ingest allows by default (TEMPEN_INGEST_MAX_CLOCK_SKEW_S), for --dry-run.
DRY_RUN_CLOCK_SKEW = timedelta(seconds=300)
REPORT_SHOWN = 30

EXIT_OK = 0
EXIT_REJECTED = 1  # the import ran, and some rows were rejected
EXIT_INVALID = 2  # the file, the mapping or the request cannot be used; nothing more was sent
EXIT_UNAVAILABLE = 3  # ingest could not be reached; re-running the import is safe

_RETRIES = (1.0, 2.0, 4.0)


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    submission_id: str | None
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the file: the submission to send, or why it cannot be sent, or why it is left out."""

    number: int  # the line in CSV and NDJSON files (the header is line 1); the position in JSON files
    submission: dict[str, Any] | None = None
    errors: tuple[RowError, ...] = ()
    skipped: str | None = None

    @property
    def submission_id(self) -> str | None:
        sid = self.submission.get("submission_id") if self.submission else None
        return sid if isinstance(sid, str) else None


@dataclass
class ImportReport:
    counts: Counter[str] = field(default_factory=Counter)
    errors: list[RowError] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return self.counts["rejected"]


class FileProblemError(ValueError):
    """The file as a whole cannot be read in the chosen format."""


class MappingChoiceError(ValueError):
    """--mapping is missing, unknown, or for another platform than the file's."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `submissions import`; the parsed arguments carry `handler(args) -> exit code`."""
    submissions = subparsers.add_parser("submissions", help="load survey answers into tempen")
    actions = submissions.add_subparsers(dest="submissions_command", required=True, metavar="COMMAND")
    importing = actions.add_parser(
        "import",
        help="import a file of submissions (CSV, JSON, NDJSON or a LimeSurvey export)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Send the submissions in FILE to ingest's batch API, in batches, and report every rejected row\n"
            "(row, field, reason). Re-running an import is safe: submissions already stored are reported as\n"
            "duplicates and change nothing.\n\n"
            "Canonical CSV columns: submission_id,unit,submitted_at,respondent,<item ids...>, plus instrument\n"
            "(or --instrument). An empty item cell is an unanswered item. JSON is an array of canonical\n"
            "submissions, NDJSON one per line. LimeSurvey exports need --mapping (config/mappings/TENANT/).\n"
            "Excel and CSV exports (Microsoft Forms, Netigate...) need a spreadsheet --mapping, which\n"
            "`tempen mappings suggest` writes; a .csv file with --mapping is read as such an export.\n\n"
            f"Exit codes: {EXIT_OK} all rows accepted (or duplicates), {EXIT_REJECTED} some rows rejected, "
            f"{EXIT_INVALID} unusable file,\nmapping or request, {EXIT_UNAVAILABLE} ingest unreachable "
            "(re-run the import)."
        ),
    )
    importing.add_argument("tenant", metavar="TENANT", help="the tenant id, e.g. hjo")
    importing.add_argument("file", metavar="FILE", type=Path)
    importing.add_argument("--format", choices=FORMATS, help="default: from the file name (.csv, .json, .ndjson)")
    importing.add_argument(
        "--mapping", metavar="ID", help="the LimeSurvey or spreadsheet mapping, config/mappings/TENANT/ID.yaml"
    )
    importing.add_argument(
        "--survey-id",
        metavar="ID",
        help="the LimeSurvey survey FILE is an export of, when its name does not say (results-survey<ID>.csv does)",
    )
    importing.add_argument("--instrument", metavar="ID", help="the instrument of rows that do not name one")
    importing.add_argument("--dry-run", action="store_true", help="check every row against the config; send nothing")
    importing.add_argument(
        "--url",
        default=os.environ.get(INGEST_URL_ENV, DEFAULT_URL),
        help=f"ingest (default ${INGEST_URL_ENV} or {DEFAULT_URL})",
    )
    importing.add_argument("--batch-size", type=_positive, default=1000, metavar="N", help="rows per request")
    importing.add_argument("--report", type=Path, metavar="CSV", help="also write the rejected rows to this CSV file")
    importing.add_argument(
        "--token", help="API token with the submit scope (default $TEMPEN_TOKEN or .tempen/admin-token)"
    )
    importing.add_argument(
        "--config", type=Path, metavar="DIR", help=f"configuration directory (default ${CONFIG_DIR_ENV} or ./config)"
    )
    importing.set_defaults(handler=run_import)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run_import(args: argparse.Namespace) -> int:
    console = Console()
    err = Console(stderr=True, soft_wrap=True)  # paths and commands stay whole, to copy
    fmt: Format | None = args.format or _format_of(args.file)
    if fmt == "csv" and args.format is None and args.mapping:
        fmt = "spreadsheet-csv"  # canonical CSV takes no mapping: with one, the file is an export
    if fmt is None:
        err.print(f"[red]Cannot tell the format of {args.file}:[/red] give --format ({', '.join(FORMATS)})")
        return EXIT_INVALID
    config_dir: Path = args.config or default_config_dir()
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        err.print(f"[red]Cannot read {args.file}:[/red] {exc.strerror}")
        return EXIT_INVALID
    catalog: Catalog | None = None
    mapping: PlatformMapping | None = None
    try:
        if args.dry_run or fmt.startswith("limesurvey") or fmt in SPREADSHEET_FORMATS:
            catalog = load_catalog(config_dir)
        if catalog is not None and fmt.startswith("limesurvey"):
            mapping = _limesurvey_mapping(config_dir, catalog, args.tenant, args.mapping)
            data = _limesurvey_export(data)
            _check_limesurvey_export(args.file, data, fmt, mapping, survey_id=args.survey_id, console=err)
        if catalog is not None and fmt in SPREADSHEET_FORMATS:
            mapping = _spreadsheet_mapping(config_dir, catalog, args.tenant, args.mapping)
        rows = read_rows(data, fmt, mapping=mapping, instrument=args.instrument, now=utc_now())
    except ConfigError as exc:
        err.print(f"[red]The configuration in {config_dir} has problems[/red] (tempen config check):")
        for problem in exc.problems:
            err.print(f"  {problem}")
        return EXIT_INVALID
    except (MappingChoiceError, FileProblemError) as exc:
        err.print(f"[red]Cannot import {args.file}:[/red] {exc}")
        return EXIT_INVALID
    if catalog is not None and args.dry_run:
        if args.tenant not in catalog.tenants:
            err.print(
                f"[red]No tenant {args.tenant!r} in {config_dir}[/red] (known: {', '.join(sorted(catalog.tenants))})"
            )
            return EXIT_INVALID
        report = check_rows(rows, tenant=args.tenant, catalog=catalog, now=utc_now())
    else:
        from tempen.commands.tokens import default_token

        try:
            report = send_rows(
                rows,
                tenant=args.tenant,
                url=args.url.rstrip("/"),
                token=args.token or default_token(),
                batch_size=args.batch_size,
                console=err,
            )
        except _StoppedError as exc:
            return exc.exit_code
    print_report(report, console=console, dry_run=args.dry_run)
    if args.report:
        write_report(report.errors, args.report)
        console.print(f"Rejected rows written to {args.report}")
    return EXIT_REJECTED if report.rejected else EXIT_OK


_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".xlsx": "xlsx",
}


def _format_of(path: Path) -> Format | None:
    return _SUFFIXES.get(path.suffix.lower())


def _limesurvey_mapping(config_dir: Path, catalog: Catalog, tenant: str, mapping_id: str | None) -> PlatformMapping:
    if not mapping_id:
        raise MappingChoiceError(f"a LimeSurvey export needs --mapping (a file in {config_dir}/mappings/{tenant}/)")
    mapping = load_mappings(config_dir, catalog).get(tenant, mapping_id)
    if mapping is None:
        raise MappingChoiceError(f"no mapping {mapping_id!r} for tenant {tenant!r} in {config_dir}/mappings/{tenant}/")
    if mapping.platform != "limesurvey":
        raise MappingChoiceError(
            f"mapping {mapping_id!r} is for {mapping.platform}; a LimeSurvey export needs a limesurvey one"
        )
    return mapping


def _spreadsheet_mapping(config_dir: Path, catalog: Catalog, tenant: str, mapping_id: str | None) -> PlatformMapping:
    folder = f"{config_dir}/mappings/{tenant}/"
    if not mapping_id:
        raise MappingChoiceError(
            f"an Excel or CSV export needs --mapping (a file in {folder}; `tempen mappings suggest` writes one)"
        )
    mapping = load_mappings(config_dir, catalog).get(tenant, mapping_id)
    if mapping is None:
        raise MappingChoiceError(
            f"no mapping {mapping_id!r} for tenant {tenant!r} in {folder} (`tempen mappings suggest` writes one)"
        )
    if mapping.platform != "spreadsheet":
        raise MappingChoiceError(
            f"mapping {mapping_id!r} is for {mapping.platform}; an Excel or CSV export needs a spreadsheet one"
            + (" (or give --format limesurvey-csv)" if mapping.platform == "limesurvey" else "")
        )
    return mapping


def _limesurvey_export(data: bytes) -> bytes:
    """The export itself, also from a saved RemoteControl export_responses answer (base64, maybe in JSON-RPC)."""
    try:
        return remotecontrol_export(data)
    except DeliveryError as exc:
        raise FileProblemError(
            f"the RemoteControl answer holds no export: {exc.detail}; nothing was imported. Fix that in LimeSurvey "
            "(an active survey with responses, a fresh session key, the responses export permission) and export again"
        ) from None


def _check_limesurvey_export(
    path: Path, data: bytes, fmt: Format, mapping: PlatformMapping, *, survey_id: str | None, console: Console
) -> None:
    """Refuse an export that is not shown to be of the mapping's survey; warn of mapped columns it lacks.

    An export carries no survey id, and LimeSurvey's default question codes (G01Q01...) are the same
    in every survey, so the id comes from the file name LimeSurvey gives it or from --survey-id.
    """
    named = survey_id_of_file(path.name)
    expected = mapping.form_id
    if named is not None and named != expected:
        raise FileProblemError(
            f"{path.name} is an export of LimeSurvey survey {named}, but mapping {mapping.id!r} is for survey "
            f"{expected}; import it with a mapping for survey {named}"
        )
    if survey_id is not None and survey_id.strip() != expected:
        raise FileProblemError(
            f"--survey-id {survey_id} is not the survey of mapping {mapping.id!r}, which is survey {expected}"
        )
    if named is None and survey_id is None:
        raise FileProblemError(
            f"the name {path.name!r} does not say which LimeSurvey survey it is an export of (LimeSurvey names "
            f"exports results-survey<ID>.csv); if it is survey {expected}, confirm it with --survey-id {expected}"
        )
    missing = missing_columns(mapping, _limesurvey_columns(data, fmt))
    mapped = sum(len(columns) for columns in mapped_columns(mapping).values())
    if len(missing) == mapped:
        raise FileProblemError(
            f"the file has none of mapping {mapping.id!r}'s question columns ({', '.join(missing)}); export "
            f"survey {expected} with question codes as headings (see docs/platforms.md)"
        )
    if missing:
        console.print(
            f"[yellow]Mapped columns missing from {path.name}:[/yellow] {', '.join(missing)} "
            "(absent from every submission; was the survey changed, or the export limited to some columns?)"
        )


def _limesurvey_columns(data: bytes, fmt: Format) -> set[str]:
    text = _text(data)
    if fmt == "limesurvey-csv":
        header_line = text.split("\n", 1)[0]
        delimiter = max((";", ",", "\t"), key=header_line.count)
        return set(next(csv.reader(io.StringIO(header_line), delimiter=delimiter), []))
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileProblemError(f"not JSON: {exc}") from None
    entries = document.get("responses") if isinstance(document, dict) else document
    return json_export_columns(entries if isinstance(entries, list) else [])


# Reading ---------------------------------------------------------------------------------------------


def read_rows(
    data: bytes, fmt: Format, *, mapping: PlatformMapping | None = None, instrument: str | None = None, now: datetime
) -> list[Row]:
    """Every row of `data` in format `fmt`, as a submission to send or the reasons it cannot be sent.

    Raises:
        FileProblemError: the file as a whole is not in that format.
    """
    if fmt == "csv":
        rows = list(_canonical_csv(data))
    elif fmt == "json":
        rows = list(_canonical_json(data))
    elif fmt == "ndjson":
        rows = list(_canonical_ndjson(data))
    elif fmt in SPREADSHEET_FORMATS:
        if mapping is None:
            raise FileProblemError("an Excel or CSV export needs a mapping")
        return _spreadsheet_rows(data, fmt, mapping)
    else:
        if mapping is None:
            raise FileProblemError("a LimeSurvey export needs a mapping")
        reader = _limesurvey_json if fmt == "limesurvey-json" else _limesurvey_csv
        return list(reader(data, mapping, now))
    if instrument:
        rows = [_with_instrument(row, instrument) for row in rows]
    return rows


def _with_instrument(row: Row, instrument: str) -> Row:
    if row.submission is None or row.submission.get("instrument"):
        return row
    return Row(row.number, {**row.submission, "instrument": instrument}, row.errors, row.skipped)


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileProblemError("the file is not UTF-8 text; save it as UTF-8") from None


def _canonical_csv(data: bytes) -> Iterator[Row]:
    """The file's rows as ingest reads canonical CSV (its `text/csv` API reads them the same way)."""
    try:
        for row in read_canonical_csv(data):
            errors = tuple(RowError(row.line, row.submission_id, field, reason) for field, reason in row.errors)
            yield Row(row.line, row.submission, errors)
    except CsvFileError as exc:
        raise FileProblemError(f"{exc} (see tempen submissions import --help)") from None


def _canonical_json(data: bytes) -> Iterator[Row]:
    try:
        document = json.loads(_text(data))
    except json.JSONDecodeError as exc:
        raise FileProblemError(f"not JSON: {exc}") from None
    if isinstance(document, dict) and isinstance(document.get("submissions"), list):
        document = document["submissions"]
    if not isinstance(document, list):
        raise FileProblemError('expected a JSON array of submissions (or {"submissions": [...]})')
    for index, item in enumerate(document, start=1):
        yield _object_row(index, item)


def _canonical_ndjson(data: bytes) -> Iterator[Row]:
    for number, line in enumerate(_text(data).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            yield Row(number, errors=(RowError(number, None, "(line)", "not valid JSON"),))
            continue
        yield _object_row(number, item)


def _object_row(number: int, item: object) -> Row:
    if not isinstance(item, dict):
        return Row(number, errors=(RowError(number, None, "(row)", "a submission must be a JSON object"),))
    return Row(number, item)


def _limesurvey_json(data: bytes, mapping: PlatformMapping, now: datetime) -> Iterator[Row]:
    try:
        document = json.loads(_text(data))
    except json.JSONDecodeError as exc:
        raise FileProblemError(f"not JSON: {exc}") from None
    entries = document.get("responses") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise FileProblemError('not a LimeSurvey JSON export: expected {"responses": [...]}')
    # One response at a time, so one that cannot be mapped is reported on its row, not the whole file refused.
    for number, entry in enumerate(entries, start=1):
        single = json.dumps({"responses": [entry]}, ensure_ascii=False).encode()
        yield from _limesurvey_rows(number, parse_limesurvey_json, single, mapping, now)


def _limesurvey_csv(data: bytes, mapping: PlatformMapping, now: datetime) -> Iterator[Row]:
    text = _text(data)
    header_line = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=header_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise FileProblemError("the file is empty")
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue
        single = io.StringIO()
        writer = csv.writer(single, delimiter=";", quoting=csv.QUOTE_ALL)
        writer.writerow(header)
        writer.writerow(cells)
        yield from _limesurvey_rows(reader.line_num, parse_limesurvey_csv, single.getvalue().encode(), mapping, now)


LimeSurveyParser = Callable[..., ParsedDelivery]


def _limesurvey_rows(
    number: int, parse: LimeSurveyParser, data: bytes, mapping: PlatformMapping, now: datetime
) -> Iterator[Row]:
    try:
        parsed = parse(data, mapping, received_at=now)
    except DeliveryError as exc:
        sid = exc.response_id
        reason = f"{exc.reason}: {exc.detail}" if exc.detail else exc.reason
        yield Row(number, errors=(RowError(number, sid, exc.field, reason),))
        return
    for response_id, reason in parsed.skipped:
        yield Row(number, skipped=f"response {response_id}: {reason}: {skip_detail(reason)}")
    for submission in parsed.submissions:
        yield Row(number, submission.model_dump(mode="json", exclude_none=True))


def _spreadsheet_rows(data: bytes, fmt: Format, mapping: PlatformMapping) -> list[Row]:
    columns = mapping.columns
    sheet, header_row = (columns.sheet, columns.header_row) if columns else (None, 1)
    try:
        table = (
            read_xlsx(data, sheet=sheet, header_row=header_row)
            if fmt == "xlsx"
            else read_csv(data, header_row=header_row)
        )
        parsed = parse_spreadsheet(table, mapping)
    except DeliveryError as exc:
        raise FileProblemError(f"{exc.field}: {exc.detail or exc.reason}") from None
    rows: list[Row] = []
    for row in parsed:
        if row.error is not None:
            sid = f"{mapping.form_id}:{row.error.response_id}" if row.error.response_id else None
            reason = f"{row.error.reason}: {row.error.detail}" if row.error.detail else row.error.reason
            rows.append(Row(row.number, errors=(RowError(row.number, sid, row.error.field, reason),)))
        elif row.submission is not None:
            rows.append(Row(row.number, row.submission.model_dump(mode="json", exclude_none=True)))
        else:
            rows.append(Row(row.number, skipped=row.skipped or "left out"))
    return rows


# Checking and sending -------------------------------------------------------------------------------


def check_rows(rows: Sequence[Row], *, tenant: str, catalog: Catalog, now: datetime) -> ImportReport:
    """--dry-run: ingest's own validation of every row against the local configuration; nothing is sent."""
    report = ImportReport()
    seen: set[str] = set()
    for row, submission in _sendable(rows, report):
        checked = check_submission(
            submission, tenant_id=tenant, catalog=catalog, now=now, max_clock_skew=DRY_RUN_CLOCK_SKEW
        )
        if isinstance(checked, list):
            report.counts["rejected"] += 1
            report.errors.extend(RowError(row.number, row.submission_id, e.field, e.reason) for e in checked)
        elif checked.submission_id in seen:
            report.counts["repeated in file"] += 1
        else:
            seen.add(checked.submission_id)
            report.counts["valid"] += 1
    report.errors.sort(key=lambda e: e.row)
    return report


def _sendable(rows: Sequence[Row], report: ImportReport) -> list[tuple[Row, dict[str, Any]]]:
    """The rows with a submission to check or send; the others are counted in `report` as they are."""
    sendable: list[tuple[Row, dict[str, Any]]] = []
    for row in rows:
        if row.skipped is not None:
            report.skipped.append((row.number, row.skipped))
            report.counts["skipped"] += 1
        elif row.errors or row.submission is None:
            report.counts["rejected"] += 1
            report.errors.extend(row.errors)
        else:
            sendable.append((row, row.submission))
    return sendable


class _StoppedError(Exception):
    def __init__(self, exit_code: int) -> None:
        super().__init__(exit_code)
        self.exit_code = exit_code


def send_rows(
    rows: Sequence[Row], *, tenant: str, url: str, token: str | None, batch_size: int, console: Console
) -> ImportReport:
    """Post the sendable rows in batches and collect ingest's verdict on each; raises _StoppedError to stop."""
    report = ImportReport()
    sendable = _sendable(rows, report)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    endpoint = f"{url}/v1/tenants/{tenant}/submissions"
    progress = Progress(
        TextColumn("[bold]Importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    sent = 0
    with progress, httpx.Client(timeout=120, headers=headers) as client:
        task = progress.add_task("import", total=len(rows))
        progress.advance(task, len(rows) - len(sendable))
        for start in range(0, len(sendable), batch_size):
            batch = sendable[start : start + batch_size]
            response = _post(client, endpoint, [submission for _row, submission in batch], console, sent)
            for item in response["results"]:
                row = batch[item["index"]][0]
                status = item["status"]
                report.counts[status] += 1
                for error in item.get("errors", []):
                    report.errors.append(RowError(row.number, row.submission_id, error["field"], error["reason"]))
            sent += len(batch)
            progress.advance(task, len(batch))
    report.errors.sort(key=lambda e: e.row)
    return report


def _post(client: httpx.Client, endpoint: str, batch: list[Any], console: Console, sent: int) -> dict[str, Any]:
    for attempt, pause in enumerate((*_RETRIES, None)):
        try:
            response = client.post(endpoint, json=batch)
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 202:
                body: dict[str, Any] = response.json()
                return body
            if response.status_code < 500:
                _print_problem(console, response)
                raise _StoppedError(EXIT_INVALID)
            problem = f"HTTP {response.status_code}"
        if pause is None:
            break
        console.print(f"[yellow]ingest did not answer ({problem}); retrying in {pause:.0f}s (attempt {attempt + 2})")
        time.sleep(pause)
    console.print(
        f"[red]ingest at {endpoint.rsplit('/v1/', 1)[0]} is unavailable[/red] ({problem}). {sent} rows were sent "
        "before; running the same import again is safe (stored rows come back as duplicates)."
    )
    raise _StoppedError(EXIT_UNAVAILABLE)


def _print_problem(console: Console, response: httpx.Response) -> None:
    try:
        body = response.json()
    except ValueError:
        body = {}
    title = body.get("title") if isinstance(body, dict) else None
    console.print(
        f"[red]ingest refused the request ({response.status_code} {title or ''}):[/red] {body.get('detail', '')}"
    )
    for error in body.get("errors", []) if isinstance(body, dict) else []:
        console.print(f"  {error.get('field')}: {error.get('reason')}")
    if response.status_code in (401, 403):
        console.print("Give a token with the submit scope: --token, or $TEMPEN_TOKEN (tempen tokens create).")


# Reporting ------------------------------------------------------------------------------------------


def print_report(report: ImportReport, *, console: Console, dry_run: bool) -> None:
    order = ("valid", "repeated in file", "accepted", "corrected", "duplicate", "erased", "rejected", "skipped")
    parts = [f"{report.counts[name]} {name}" for name in order if report.counts[name]]
    console.print(("Dry run, nothing sent: " if dry_run else "Imported: ") + (", ".join(parts) or "no rows"))
    if report.counts["duplicate"]:
        console.print(f"{report.counts['duplicate']} rows were stored before (duplicates): nothing changed for them.")
    if report.counts["erased"]:
        console.print(f"{report.counts['erased']} rows belong to erased respondents (GDPR) and were not stored.")
    for number, reason in report.skipped[:REPORT_SHOWN]:
        console.print(f"  skipped row {number}: {reason}")
    if not report.errors:
        return
    table = Table(title=f"Rejected rows ({report.rejected})")
    for column in ("row", "submission_id", "field", "reason"):
        table.add_column(column)
    for error in report.errors[:REPORT_SHOWN]:
        table.add_row(str(error.row), error.submission_id or "", error.field, error.reason)
    console.print(table)
    if len(report.errors) > REPORT_SHOWN:
        console.print(f"... and {len(report.errors) - REPORT_SHOWN} more; --report FILE writes them all.")


def write_report(errors: Sequence[RowError], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        _write_report(errors, out)


def _write_report(errors: Sequence[RowError], out: TextIO) -> None:
    writer = csv.writer(out)
    writer.writerow(("row", "submission_id", "field", "reason"))
    for error in errors:
        writer.writerow((error.row, error.submission_id or "", error.field, error.reason))
