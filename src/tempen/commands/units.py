"""`tempen units hidden`: the units whose results cannot be shown or that cannot raise an alert, and why.

The command asks scoring (`GET /v1/tenants/{tenant}/hidden-units`, read scope), which decides what is
hidden and whether a unit can alert (`tempen_scoring.domain.hidden`); this only prints it, so that HR
can merge teams in the org file, encourage answers or change an instrument's cadence. See
docs/scoring.md, "Units that cannot be shown, and why".
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

SCORING_URL_ENV = "TEMPEN_SCORING_URL"
DEFAULT_URL = "http://127.0.0.1:8002"

EXIT_OK = 0
EXIT_REFUSED = 2  # the request was refused (unknown tenant or instrument, bad period, no or wrong token)
EXIT_UNAVAILABLE = 3  # scoring could not be reached or could not answer; running the command again is safe

_STATUS = {
    "published": "shown",
    "below_minimum": "too few answers",
    "no_responses": "no answers",
    "differencing": "protects a smaller group",
    "not_in_org": "not in the org",
    "unmeasured": "not measured",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `units hidden`; the parsed arguments carry `handler(args) -> exit code`."""
    units = subparsers.add_parser("units", help="units seen from HR: which cannot be shown or cannot alert")
    actions = units.add_subparsers(dest="units_command", required=True, metavar="COMMAND")
    hidden = actions.add_parser(
        "hidden",
        help="units whose results were hidden, why, whether they can alert, and what HR can do",
        description="List every unit of TENANT whose own results (unit) or roll-up (subtree) were hidden in the "
        "last closed period or the periods before it, with the reason, how often, whether the unit can raise "
        "an alert at all, and what HR can do about it. No respondent count is ever shown. Needs a token with "
        f"the read scope. Exit codes: {EXIT_OK} done, {EXIT_REFUSED} refused, {EXIT_UNAVAILABLE} scoring "
        "unavailable.",
    )
    hidden.add_argument("tenant", metavar="TENANT")
    hidden.add_argument("--period", help="the last period of the span, e.g. 2026-11 (default: the latest closed)")
    hidden.add_argument("--periods", type=int, help="how many periods to look back over (default 6)")
    hidden.add_argument("--instrument", help="only this instrument (default: all of the tenant's)")
    hidden.add_argument("--model", help="only this model")
    hidden.add_argument("--json", action="store_true", help="print scoring's answer as JSON")
    hidden.add_argument(
        "--url",
        default=os.environ.get(SCORING_URL_ENV, DEFAULT_URL),
        help=f"scoring (default ${SCORING_URL_ENV} or {DEFAULT_URL})",
    )
    hidden.add_argument("--token", help="API token with the read scope (default $TEMPEN_TOKEN or .tempen/admin-token)")
    hidden.set_defaults(handler=run_hidden)


def run_hidden(args: argparse.Namespace) -> int:
    from tempen.commands.tokens import default_token

    console = Console()
    err = Console(stderr=True, soft_wrap=True)  # a path or command in an error stays whole, to copy
    token = args.token or default_token()
    params = {
        name: str(value)
        for name, value in (
            ("period", args.period),
            ("periods", args.periods),
            ("instrument", args.instrument),
            ("model", args.model),
        )
        if value is not None
    }
    try:
        response = httpx.get(
            f"{args.url.rstrip('/')}/v1/tenants/{args.tenant}/hidden-units",
            params=params,
            headers={"authorization": f"Bearer {token}"} if token else {},
            timeout=30,
        )
    except httpx.TransportError as exc:
        err.print(f"[red]Scoring is not reachable at {args.url}:[/red] {exc} (is `tempen up` running?)")
        return EXIT_UNAVAILABLE
    body = _json(response)
    if response.status_code != 200:
        err.print(f"[red]Refused ({response.status_code} {body.get('title', '')}):[/red] {body.get('detail', '')}")
        for error in body.get("errors", []):
            err.print(f"  {error.get('field')}: {error.get('reason')}")
        return EXIT_UNAVAILABLE if response.status_code >= 500 else EXIT_REFUSED
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return EXIT_OK
    for report in body.get("reports", []):
        _print_report(console, body, report)
    return EXIT_OK


def _print_report(console: Console, body: dict[str, Any], report: dict[str, Any]) -> None:
    periods = [p["period"] for p in report["periods"]]
    measured = sum(p["measured"] for p in report["periods"])
    where = f"{report['instrument']} / {report['model']}, {periods[0]} to {periods[-1]}"
    if not report["units"]:
        console.print(f"{where}: no unit was hidden in the {measured} measured period(s).")
        return
    table = Table(
        title=f"{where}: hidden units (shown from {body['min_group_size']} answers; an alert needs "
        f"{body['sustained_periods']} published periods)",
        title_justify="left",
    )
    for column in ("unit", "scope", periods[-1], "hidden", "alerts"):
        table.add_column(column, justify="right" if column == "hidden" else "left")
    for entry in report["units"]:
        table.add_row(
            entry["unit_name"],
            entry["scope"],
            _STATUS.get(entry["latest"], entry["latest"]),
            f"{entry['hidden_periods']} of {entry['measured_periods']}",
            _alerts(entry["alerts"]),
        )
    console.print(table)
    console.print("What to do:")
    for entry in report["units"]:
        # Unwrapped: a line per reason and per action reads and greps as one.
        console.print(f"  {entry['unit_name']} ({entry['unit']}, {entry['scope']})", style="bold", highlight=False)
        console.print(f"    {entry['explanation']}", markup=False, highlight=False, soft_wrap=True)
        for action in entry["actions"]:
            console.print(f"    - {action['text']}", markup=False, highlight=False, soft_wrap=True)


def _alerts(reach: dict[str, Any] | None) -> str:
    if reach is None:
        return "-"  # alerts judge unit scores, not roll-ups
    if reach["can_alert"] is None:
        return "too early to tell"
    if not reach["can_alert"]:
        return "cannot alert"
    late = reach["periods_to_alert"]
    return f"late (~{late} periods)" if late is not None and late > reach["needed"] else "can alert"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
