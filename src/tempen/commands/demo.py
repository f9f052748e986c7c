"""`tempen demo`: see an alert end to end on a running `tempen up`.

Posts four closed months of a realistic monthly pulse (the tenant's instrument, a few units of its
org, 6-25 respondents each) in which one first-line unit stays low on leadership, waits until the
alerts service has judged them, and prints the alert(s), where the e-mails went and how to
acknowledge one with curl. Submission ids are stable, so running it again adds nothing: ingest
answers "duplicate" and the same alerts are shown.
"""

from __future__ import annotations

import argparse
import email
import os
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from tempen.commands.config_check import CONFIG_DIR_ENV, default_config_dir
from tempen.commands.portal import DEFAULT_PORTAL_URL, SignInLinkError, issue_sign_in_link
from tempen_scoring.domain.periods import Period, period_of, previous_period
from tempen_shared.clock import utc_now
from tempen_shared.tenancy.loader import ConfigError, Tenant, load_catalog
from tempen_shared.tenancy.models import Instrument, Item

DEFAULT_TENANT = "hjo"
DEFAULT_INSTRUMENT = "hjo-puls"
DEFAULT_LOW_UNIT = "hjo-skola-ostra-f3"  # Östra skolan F–3: its rektor is the next management level
DEFAULT_PEERS = ("hjo-skola-ostra-46", "hjo-vo-hemtjanst-norra", "hjo-klk-hr")
LOW_DIMENSIONS = frozenset({"engagemang-entusiasm", "fortroende-tillit", "ledarskap"})  # what the low unit lacks
TOKEN_FILE = "admin-token"  # noqa: S105 - the name of the file `tempen up` writes, not a token
EXIT_OK = 0
EXIT_FAILED = 1

# Answer distributions on a 1-5 scale (before reverse-worded items are flipped).
Distribution = tuple[tuple[int, ...], tuple[float, ...]]  # answer values and their weights
_HEALTHY: Distribution = ((3, 4, 5), (0.12, 0.45, 0.43))
_AVERAGE: Distribution = ((2, 3, 4, 5), (0.08, 0.27, 0.45, 0.20))
_LOW: Distribution = ((1, 2, 3, 4), (0.30, 0.45, 0.20, 0.05))


@dataclass(frozen=True, slots=True)
class Token:
    value: str | None
    shown: str  # how the curl example refers to it, never the token itself


PORTAL_LINK = re.compile(r"https?://[^\s/]+/l/[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+")  # an e-mail's personal link


def closed_months(tenant: Tenant, *, now: datetime, count: int) -> list[Period]:
    """The last `count` months that have ended in the tenant's time zone, oldest first."""
    zone = tenant.config.zone
    months = [previous_period(period_of(now, "monthly", zone), "monthly", zone)]
    while len(months) < count:
        months.insert(0, previous_period(months[0], "monthly", zone))
    return months


def pulse(
    tenant: Tenant, instrument: Instrument, unit: str, month: Period, *, low: bool, chapter: int = 0
) -> list[dict[str, Any]]:
    """One unit's answers for one month: 6-25 respondents, the same people (by id) month after month.

    The answers are drawn from the month's place in the story (`chapter`, 0 for the oldest month
    posted), not from its name: the demo tells the same story whatever today's date is. Posting the
    same months again gives the same submissions, which ingest recognises as duplicates.
    """
    rng = random.Random(f"{tenant.id}|{unit}|{chapter}")  # noqa: S311 - synthetic answers, not secrets
    respondents = rng.randint(6, 25)
    start = month.start.astimezone(tenant.config.zone)
    batch = []
    for person in range(respondents):
        submitted = start + timedelta(days=rng.randint(2, 24), hours=rng.randint(7, 16), minutes=rng.randint(0, 59))
        batch.append(
            {
                "instrument": instrument.id,
                "unit": unit,
                "submission_id": f"demo-{unit}-{month.key}-{person:02d}",
                "submitted_at": submitted.isoformat(),
                "respondent": f"demo-{unit}-{person:02d}",
                "answers": {item.id: _answer(rng, instrument, item, low=low) for item in instrument.items},
            }
        )
    return batch


def _answer(rng: random.Random, instrument: Instrument, item: Item, *, low: bool) -> int:
    scale = instrument.scale_of(item)
    if scale.not_applicable and rng.random() < 0.03:
        return scale.not_applicable[0]  # "vet ej": stored, never scored
    if low and item.dimension in LOW_DIMENSIONS:
        table = _LOW
    elif low:
        table = _AVERAGE
    else:
        table = _HEALTHY
    values, weights = table
    value = rng.choices(values, weights)[0]
    return scale.low + scale.high - value if item.reverse else value  # a reverse-worded item is agreed with low


def resolve_token(explicit: str | None, environ_token: str | None, state_dir: Path) -> Token:
    """--token, else $TEMPEN_TOKEN, else the development admin token `tempen up` wrote to the state directory."""
    if explicit:
        return Token(explicit, "<your token>")
    if environ_token:
        return Token(environ_token, "$TEMPEN_TOKEN")
    path = state_dir / TOKEN_FILE
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError:
        return Token(None, "<your token>")
    return Token(value or None, f"$(cat {path})")


def run_demo(args: argparse.Namespace) -> int:
    console = Console() if Console().is_terminal else Console(width=200)
    try:
        catalog = load_catalog(args.config)
    except ConfigError as exc:
        console.print(f"[red]The configuration in {args.config} has problems; run tempen config check.[/red]")
        for problem in exc.problems[:10]:
            console.print(f"  {problem}")
        return EXIT_FAILED
    tenant = catalog.tenants.get(args.tenant)
    if tenant is None or args.instrument not in tenant.instruments:
        console.print(f"[red]No tenant {args.tenant!r} with the instrument {args.instrument!r} in {args.config}.[/red]")
        return EXIT_FAILED
    instrument = tenant.instruments[args.instrument]
    if args.unit not in tenant.org:
        console.print(f"[red]{args.unit!r} is not a unit of {tenant.id}[/red] (see config/org/{tenant.id}.csv)")
        return EXIT_FAILED
    peers = [u for u in DEFAULT_PEERS if u in tenant.org and u != args.unit] or [
        u for u in sorted(tenant.org.units) if tenant.org.is_leaf(u) and u != args.unit
    ][:3]
    token = resolve_token(args.token, os.environ.get("TEMPEN_TOKEN"), args.state)
    headers = {"authorization": f"Bearer {token.value}"} if token.value else {}
    months = closed_months(tenant, now=utc_now(), count=args.months)
    low_name = tenant.org.units[args.unit].name
    console.print(
        f"Posting {len(months)} months ({months[0].key} to {months[-1].key}) of {instrument.name} for "
        f"{low_name} (stays low on leadership) and {', '.join(tenant.org.units[u].name for u in peers)}..."
    )
    try:
        with httpx.Client(headers=headers, timeout=60) as http:
            for chapter, month in enumerate(months):
                batch = [
                    s
                    for unit in (args.unit, *peers)
                    for s in pulse(tenant, instrument, unit, month, low=unit == args.unit, chapter=chapter)
                ]
                response = http.post(f"{args.ingest_url}/v1/tenants/{tenant.id}/submissions", json=batch)
                if response.status_code in (401, 403):
                    console.print(_token_help(response, args.state))
                    return EXIT_FAILED
                if response.status_code != 202:
                    console.print(f"[red]ingest answered {response.status_code}:[/red] {response.text[:500]}")
                    return EXIT_FAILED
                counts = response.json().get("counts", {})
                console.print(
                    f"  {month.key}: {len(batch)} submissions "
                    + ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()) if n)
                )
            console.print(f"Waiting for scoring and alerts (up to {args.timeout:.0f}s)...")
            alerts = _wait_for_alerts(http, args.alerts_url, tenant.id, args.unit, timeout_s=args.timeout)
    except httpx.HTTPError as exc:
        console.print(f"[red]Could not reach the services:[/red] {exc}\nIs `tempen up` (make run) running?")
        return EXIT_FAILED
    if not alerts:
        console.print(
            f"[yellow]No alert for {low_name} within {args.timeout:.0f}s.[/yellow] Look at "
            f"{args.state / 'logs'} and `tempen scores {tenant.id} {args.unit}`."
        )
        return EXIT_FAILED
    _print_alerts(console, tenant, alerts)
    _print_mail(console, alerts, args.state / "mail" / tenant.id, low_name)
    _print_acknowledge(console, tenant, alerts, args.alerts_url, token, months[-1])
    _print_hr_link(console, tenant, args.portal_url, token)
    return EXIT_OK


def _wait_for_alerts(
    http: httpx.Client, alerts_url: str, tenant: str, unit: str, *, timeout_s: float
) -> list[dict[str, Any]]:
    """The unit's alerts with their details, once they and their notifications have stopped changing."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    steady = 0
    details: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = http.get(f"{alerts_url}/v1/tenants/{tenant}/alerts", params={"unit": unit})
        response.raise_for_status()
        listed = response.json()["alerts"]
        details = [
            http.get(f"{alerts_url}/v1/tenants/{tenant}/alerts/{a['alert_id']}").raise_for_status().json()
            for a in listed
        ]
        seen = sorted(
            (d["alert_id"], d["state"], d["level"], tuple(n["state"] for n in d["notifications"])) for d in details
        )
        pending = any(n["state"] in ("pending", "sending") for d in details for n in d["notifications"])
        steady = steady + 1 if seen == last and details and not pending else 0
        last = seen
        if steady >= 3:  # three quiet seconds: the last month has been judged and its e-mails are out
            return details
        time.sleep(1.0)
    return details


def _print_alerts(console: Console, tenant: Tenant, alerts: Sequence[dict[str, Any]]) -> None:
    table = Table(title=f"Alerts for {tenant.org.units[alerts[0]['unit']].name}", show_lines=True)
    for column in ("alert", "dimension", "state", "level", "opened", "history", "latest reason"):
        table.add_column(column, overflow="fold")
    for alert in sorted(alerts, key=lambda a: (a["model"], a["dimension"])):
        # The whole story, not only the last step: how the alert opened, then each move up or down.
        steps = [f"{h['period']} {h['to_state']} ({h['rule']}) level {h['level']}" for h in alert["history"]]
        latest = alert["history"][-1] if alert["history"] else {}
        table.add_row(
            alert["alert_id"][:8],
            f"{alert['model']} / {_dimension_name(tenant, alert['model'], alert['dimension'])}",
            alert["state"],
            str(alert["level"]),
            alert["opened_period"],
            "\n".join(steps),
            str(latest.get("reason", "")),
        )
    console.print(table)


def _print_mail(console: Console, alerts: Sequence[dict[str, Any]], folder: Path, unit_name: str) -> None:
    notes = [n for a in alerts for n in a["notifications"] if n["channel"] in ("email", "mailfolder")]
    if any(n["channel"] == "email" for n in notes):
        people = sorted({f"{n['recipient']} ({n['recipient_role']})" for n in notes})
        console.print(f"The e-mails went out over SMTP to: {', '.join(people)}")
        return
    files = sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime)
    mine = []
    for path in files:
        with path.open("rb") as handle:
            message = email.message_from_binary_file(handle, policy=policy.default)
        if unit_name in str(message["Subject"]):
            mine.append((path, message))
    if not mine:
        console.print(f"No e-mail about {unit_name} in {folder} yet.")
        return
    table = Table(title=f"E-mails written to {folder} (no SMTP server configured)")
    for column in ("file", "to", "subject"):
        table.add_column(column, overflow="fold")
    for path, message in mine:
        table.add_row(path.name, str(message["To"]), str(message["Subject"]))
    console.print(table)
    console.print(f"Open one in a mail program, or read it: less {mine[0][0]}")
    body = mine[0][1].get_body(preferencelist=("plain",))
    link = PORTAL_LINK.search(body.get_content() if body is not None else "")
    if link:
        console.print(
            f"Open its personal link in a browser, as {mine[0][1]['To']}: the alert, its trend, and acknowledge it"
            f" with a plan:\n  {link.group(0)}",
            soft_wrap=True,  # a link to copy must not be broken into lines
        )


def _print_hr_link(console: Console, tenant: Tenant, portal_url: str, token: Token) -> None:
    """A sign-in link for the tenant's HR address to the HR overview, issued by the portal."""
    hr = str(tenant.config.hr_email)
    try:
        answer = issue_sign_in_link(portal_url, tenant.id, hr, token=token.value, next_path=f"/t/{tenant.id}/overview")
    except SignInLinkError as exc:
        console.print(f"[yellow]No sign-in link for HR:[/yellow] {exc}", soft_wrap=True)
        return
    console.print(
        f"HR ({hr}) sees the whole municipality: open this personal sign-in link (valid until "
        f"{answer['expires_at']}):\n  {answer['url']}",
        soft_wrap=True,  # a link to copy must not be broken into lines
    )


def _print_acknowledge(
    console: Console,
    tenant: Tenant,
    alerts: Sequence[dict[str, Any]],
    alerts_url: str,
    token: Token,
    last_month: Period,
) -> None:
    active = [a for a in alerts if a["state"] in ("open", "escalated", "acknowledged")]
    if not active:
        console.print("Every alert has resolved already.")
        return
    alert = active[0]
    follow_up = (last_month.end.astimezone(tenant.config.zone) + timedelta(days=45)).date().isoformat()
    console.print(
        "Or acknowledge it through alerts' API, with an action plan and a follow-up date:\n"
        f"  curl -s -X POST {alerts_url}/v1/tenants/{tenant.id}/alerts/{alert['alert_id']}/acknowledge \\\n"
        f'    -H "authorization: Bearer {token.shown}" -H "content-type: application/json" \\\n'
        '    -d \'{"action_plan": "Samtal med enhetschefen varannan vecka; arbetsplatsträff om '
        f'förtroende i nästa månad", "follow_up_date": "{follow_up}", "acknowledged_by": "demo"}}\'\n'
        "See it with its history and notifications:\n"
        f"  curl -s {alerts_url}/v1/tenants/{tenant.id}/alerts/{alert['alert_id']} "
        f'-H "authorization: Bearer {token.shown}"',
        soft_wrap=True,  # commands to copy must not be broken into lines
    )


def _token_help(response: httpx.Response, state: Path) -> str:
    return (
        f"[red]ingest refused the request ({response.status_code}).[/red] Every /v1 call needs a token: pass --token, "
        f"set TEMPEN_TOKEN, or let `tempen up` write {state / TOKEN_FILE} (see docs/access.md)."
    )


def _dimension_name(tenant: Tenant, model_id: str, dimension_id: str) -> str:
    model = tenant.models.get(model_id)
    if model is None:
        return dimension_id
    for dimension in [*model.dimensions, *([model.total] if model.total else [])]:
        if dimension.id == dimension_id:
            return dimension.name_sv
    return dimension_id


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `demo`; the parsed arguments carry `handler(args) -> exit code`."""
    parser = subparsers.add_parser(
        "demo",
        help="send example pulses to a running `tempen up` and show the alert they raise",
        description="Against a running `tempen up`: post four closed months of the tenant's monthly pulse for a few "
        "units, one of which stays low on leadership, wait for the alert, and show where the e-mail went and how "
        "to acknowledge it. Running it again posts the same submissions (duplicates) and shows the same alerts.",
    )
    parser.add_argument("--tenant", default=DEFAULT_TENANT, help=f"default {DEFAULT_TENANT}")
    parser.add_argument("--instrument", default=DEFAULT_INSTRUMENT, help=f"default {DEFAULT_INSTRUMENT}")
    parser.add_argument(
        "--unit", default=DEFAULT_LOW_UNIT, help=f"the unit that stays low (default {DEFAULT_LOW_UNIT})"
    )
    parser.add_argument("--months", type=int, default=4, help="closed months to post (default 4)")
    parser.add_argument("--ingest-url", default="http://127.0.0.1:8001")
    parser.add_argument("--alerts-url", default="http://127.0.0.1:8003")
    parser.add_argument("--portal-url", default=os.environ.get("TEMPEN_PORTAL_URL") or DEFAULT_PORTAL_URL)
    parser.add_argument("--token", help=f"API token (default $TEMPEN_TOKEN, else .tempen/{TOKEN_FILE})")
    parser.add_argument(
        "--state",
        type=Path,
        default=Path(os.environ.get("TEMPEN_STATE_DIR") or ".tempen"),
        help="tempen up's state directory (default $TEMPEN_STATE_DIR or .tempen)",
    )
    parser.add_argument(
        "--config", type=Path, default=default_config_dir(), help=f"config directory (default ${CONFIG_DIR_ENV})"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the alert")
    parser.set_defaults(handler=run_demo)
