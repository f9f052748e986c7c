"""The `tempen` command: the user's entry point."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tempen.embedded import EmbeddedError

EPILOG = """\
Start here:
  tempen up                          run everything (embedded broker and database unless URLs are set)
  tempen config check                validate tenants, models, instruments, org files, mappings
  tempen scores hjo hjo-skola-ost    a unit's scores per period, as a table
  tempen units hidden hjo            units whose results are hidden or that cannot alert, and what to do
  tempen tokens create hjo --name HR --scope read   an API token (docs/access.md)
Environment: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL (real Kafka/PostgreSQL), TEMPEN_CONFIG_DIR (default ./config),
TEMPEN_STATE_DIR (default ./.tempen), TEMPEN_TOKEN (API token; default the one `tempen up` writes to
.tempen/admin-token). Docs: README.md and docs/.
"""


def _default_config() -> Path:
    return Path(os.environ.get("TEMPEN_CONFIG_DIR", "config"))


def _default_state() -> Path:
    return Path(os.environ.get("TEMPEN_STATE_DIR", ".tempen"))


def cmd_up(args: argparse.Namespace) -> int:
    from rich.console import Console

    from tempen.commands.config_check import load_checked
    from tempen.supervisor import Supervisor

    console = Console()
    catalog, problems, _mappings = load_checked(args.config)
    if catalog is None or problems:
        # Checked here, before anything starts: a mapping ingest would refuse is one clear list, not a
        # service that exits during start-up with a traceback.
        console.print(
            f"[red]The configuration in {args.config} has problems; fix them first (tempen config check):",
            soft_wrap=True,
        )
        for problem in problems:  # unwrapped: a file:line is copied into an editor as it is
            console.print(f"  {problem}", markup=False, highlight=False, soft_wrap=True)
        return 2
    supervisor = Supervisor(config_dir=args.config, state_dir=args.state)
    stopping = False

    def on_signal(_signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        with console.status("Starting the broker and the database..."):
            supervisor.start_infrastructure()
        token_file = None
        if supervisor.postgres is not None:  # a development admin token, on the embedded database only
            from tempen.commands.tokens import ensure_development_admin_token

            token_file, _ = ensure_development_admin_token(supervisor.database_url, args.state)
        with console.status("Starting ingest, scoring, alerts and the portal..."):
            supervisor.start_services()
            supervisor.wait_ready(timeout_s=args.timeout)
        _print_summary(console, supervisor, catalog, time.monotonic() - started, token_file)
        while not stopping:
            restarted = supervisor.watch_once()
            if restarted[:1] == ["broker"]:
                console.print(
                    "[yellow]The broker stopped unexpectedly and was restarted, empty: the outboxes publish"
                    f" again what it had; {', '.join(restarted[1:])} restarted to read it from the start[/yellow]"
                )
            else:
                for name in restarted:
                    console.print(f"[yellow]{name} stopped unexpectedly and was restarted[/yellow]")
            time.sleep(0.5)
    except EmbeddedError as exc:
        console.print("[red]Could not start:[/red]", end=" ")
        console.print(str(exc), markup=False, highlight=False, soft_wrap=True)  # log lines hold [brackets]
        return 1
    finally:
        with console.status("Stopping..."):
            supervisor.stop()
        console.print("Stopped. Data is kept in", str(args.state / "pgdata") if supervisor.postgres else "PostgreSQL")
    return 0


def _print_summary(console: Any, supervisor: Any, catalog: Any, seconds: float, token_file: Path | None) -> None:
    from rich.table import Table

    table = Table(title=f"tempen is up ({seconds:.1f}s)", show_lines=False)
    table.add_column("part")
    table.add_column("where")
    broker = "embedded Tansu (memory only)" if supervisor.broker else "Kafka"
    database = "embedded PostgreSQL" if supervisor.postgres else "PostgreSQL"
    table.add_row(broker, supervisor.bootstrap_servers)
    table.add_row(database, supervisor.database_url.split("@")[-1])
    for name, service in supervisor.services.items():
        table.add_row(name, f"{service.url}  (/healthz /readyz /metrics)")
    table.add_row("logs", str(supervisor.state_dir / "logs"))
    mail = os.environ.get("TEMPEN_ALERTS_SMTP_HOST")
    table.add_row("e-mail", f"SMTP {mail}" if mail else f"mail folder {supervisor.state_dir / 'mail'}")
    table.add_row("tenants", ", ".join(sorted(catalog.tenants)))
    table.add_row("admin token", f"{token_file} (development only)" if token_file else "tempen tokens create")
    console.print(table)
    auth = f'-H "authorization: Bearer $(cat {token_file})"' if token_file else "-H 'authorization: Bearer <token>'"
    console.print(
        "Send a first submission (every /v1 call needs a token; see docs/access.md):\n"
        f"  curl -s -X POST {supervisor.services['ingest'].url}/v1/tenants/hjo/submissions {auth} \\\n"
        "    -H 'content-type: application/json' \\\n"
        '    -d \'{"instrument": "hjo-puls", "unit": "<unit id from config/org/hjo.csv>", '
        '"submission_id": "demo-1", "submitted_at": "2026-10-15T09:00:00+02:00", '
        '"answers": {"hme-1": 4, "hme-2": 3}}\'\n'
        "Or see an alert end to end:  tempen demo\n"
        "Press Ctrl-C to stop."
    )


def cmd_scores(args: argparse.Namespace) -> int:
    import httpx
    from rich.console import Console
    from rich.table import Table

    from tempen.commands.tokens import default_token

    console = Console()
    token = args.token or default_token()
    try:
        response = httpx.get(
            f"{args.url}/v1/tenants/{args.tenant}/units/{args.unit}/scores",
            params={k: v for k, v in (("model", args.model), ("scope", args.scope)) if v},
            headers={"authorization": f"Bearer {token}"} if token else {},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        console.print(f"[red]Scoring is not reachable at {args.url}:[/red] {exc} (is `tempen up` running?)")
        return 1
    if response.status_code != 200:
        body = response.json()
        console.print(f"[red]{body.get('title')}[/red]: {body.get('errors') or body.get('detail')}")
        return 1
    data = response.json()
    if not data["series"]:
        console.print(f"No scores yet for {data['unit_name']} ({args.unit}).")
        return 0
    for series in data["series"]:
        table = Table(title=f"{data['unit_name']}: {series['model']} / {series['dimension']} ({series['scope']})")
        for column in ("period", "index", "n", "± SE", "% favourable"):
            table.add_column(column, justify="right")
        for point in series["points"]:
            if point["suppressed"]:
                table.add_row(
                    point["period"],
                    "[dim]suppressed[/dim]",
                    f"<{data['min_group_size']}" if point.get("reason") == "below_minimum" else "-",
                    "",
                    point.get("reason", ""),
                )
            else:
                se = point.get("standard_error")
                fav = point.get("favourable_pct")
                table.add_row(
                    point["period"],
                    f"{point['index']:.1f}",
                    str(point["respondents"]),
                    f"{se:.1f}" if se is not None else "",
                    f"{fav:.0f}%" if fav is not None else "",
                )
        console.print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tempen",
        description="tempen: follow up employee surveys; sustained leadership challenges reach the next management"
        " level.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    up = commands.add_parser("up", help="run the whole system (broker, database, ingest, scoring, alerts)")
    up.add_argument("--config", type=Path, default=_default_config(), help="config directory (default ./config)")
    up.add_argument("--state", type=Path, default=_default_state(), help="state directory (default ./.tempen)")
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the services to be ready")
    up.set_defaults(handler=cmd_up)

    scores = commands.add_parser("scores", help="print a unit's scores per period as a table")
    scores.add_argument("tenant")
    scores.add_argument("unit")
    scores.add_argument("--model")
    scores.add_argument("--scope", choices=["unit", "subtree"])
    scores.add_argument("--url", default=os.environ.get("TEMPEN_SCORING_URL", "http://127.0.0.1:8002"))
    scores.add_argument("--token", help="API token with the read scope (default $TEMPEN_TOKEN or .tempen/admin-token)")
    scores.set_defaults(handler=cmd_scores)

    for register in _optional_commands():
        register(commands)
    return parser


def _optional_commands() -> list[Callable[[Any], None]]:
    """Commands that live in their own modules."""
    registers: list[Callable[[Any], None]] = []
    import importlib

    for module in (
        "tempen.commands.config_check",
        "tempen.commands.org",
        "tempen.commands.demo",
        "tempen.commands.alerts",
        "tempen.commands.tokens",
        "tempen.commands.dlq",
        "tempen.commands.submissions",
        "tempen.commands.mappings",
        "tempen.commands.gdpr",
        "tempen.commands.units",
        "tempen.commands.portal",
        "tempen.commands.links",
    ):
        try:
            registers.append(importlib.import_module(module).register)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return registers


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Paths are resolved once, here, against the folder the user started in: child processes (the
    # database's initdb and pg_ctl among them) run elsewhere and must never see a relative path.
    for name in ("config", "state"):
        value = getattr(args, name, None)
        if isinstance(value, Path):
            setattr(args, name, value.absolute())
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
