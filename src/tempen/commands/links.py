"""`tempen links list|revoke`: the personal links in a person's alert e-mails, and revoking one.

Each alert e-mail carries a link that signs its recipient in to the portal (docs/portal.md). When an
e-mail went to the wrong person or was forwarded, revoke that one link: alerts keeps the revocation
with who did it and why (`POST /v1/tenants/{tenant}/admin/links/{notification_id}/revoke`, admin
token), the portal refuses the link from then on and ends the sessions it opened. The command only
calls alerts' API, like every command that changes a service's data.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
from typing import Any

import httpx
from rich.console import Console

ALERTS_URL_ENV = "TEMPEN_ALERTS_URL"
DEFAULT_URL = "http://127.0.0.1:8003"

EXIT_OK = 0
EXIT_REFUSED = 2  # refused: unknown tenant or link, bad input, no or wrong token
EXIT_UNAVAILABLE = 3  # alerts could not be reached or could not answer; running the command again is safe


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `links list` and `links revoke`; the parsed arguments carry `handler(args) -> exit code`."""
    links = subparsers.add_parser("links", help="the personal links in alert e-mails: list a person's, revoke one")
    actions = links.add_subparsers(dest="links_command", required=True, metavar="COMMAND")
    exits = (
        f"Needs an admin token. Exit codes: {EXIT_OK} done, {EXIT_REFUSED} refused, {EXIT_UNAVAILABLE} alerts "
        "unavailable."
    )
    listing = actions.add_parser(
        "list",
        help="the links in the alert e-mails sent to one person, newest first",
        description="Every alert e-mail sent to EMAIL in TENANT, newest first, with its link's id (the "
        "notification id), the alert, when it was sent, until when the link works and whether it was revoked. " + exits,
    )
    listing.add_argument("tenant", metavar="TENANT")
    listing.add_argument("email", metavar="EMAIL")
    listing.add_argument("--json", action="store_true", help="print alerts' answer as JSON")
    _connection(listing)
    listing.set_defaults(handler=run_list)

    revoke = actions.add_parser(
        "revoke",
        help="revoke the link in one alert e-mail; the portal refuses it and ends its sessions",
        description="Revoke the personal link of the e-mail NOTIFICATION_ID (from `tempen links list`). The "
        "portal refuses the link from then on and ends the sessions it opened (within "
        "TEMPEN_PORTAL_REVOCATION_POLL_S, 30 s by default). The recipient can still be sent a new e-mail, and "
        "can sign in otherwise. Revoking twice keeps the first revocation. " + exits,
    )
    revoke.add_argument("tenant", metavar="TENANT")
    revoke.add_argument("notification_id", metavar="NOTIFICATION_ID")
    revoke.add_argument("--reason", required=True, help="why, for the audit trail (3 to 500 characters)")
    revoke.add_argument("--by", default=None, help="who revokes, for the audit trail (default: your user name)")
    _connection(revoke)
    revoke.set_defaults(handler=run_revoke)


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get(ALERTS_URL_ENV, DEFAULT_URL),
        help=f"alerts (default ${ALERTS_URL_ENV} or {DEFAULT_URL})",
    )
    parser.add_argument("--token", help="an admin API token (default $TEMPEN_TOKEN or .tempen/admin-token)")


def run_list(args: argparse.Namespace) -> int:
    answer = _call(args, "GET", f"/v1/tenants/{args.tenant}/admin/links", params={"recipient": args.email})
    if isinstance(answer, int):
        return answer
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return EXIT_OK
    console = Console(soft_wrap=True)  # a line per link, whole: ids are copied from it
    links = answer.get("links", [])
    if not links:
        console.print(f"No alert e-mail has gone to {args.email} in {args.tenant}.", highlight=False, markup=False)
        return EXIT_OK
    console.print(f"Links in the alert e-mails to {args.email} in {args.tenant}, newest first:", highlight=False)
    for link in links:
        sent = f"sent {_minute(link['sent_at'])}" if link["sent_at"] else f"not sent yet ({link['delivery']})"
        console.print(
            f"  {link['notification_id']}  alert {link['alert_id']} ({link['unit']}, {link['dimension']}), "
            f"{sent}: {_status(link)}",
            highlight=False,
            markup=False,
        )
    console.print("Revoke one with: tempen links revoke TENANT NOTIFICATION_ID --reason '...'", highlight=False)
    return EXIT_OK


def run_revoke(args: argparse.Namespace) -> int:
    by = args.by or _user_name()
    if not by:
        Console(stderr=True).print("[red]Say who revokes, for the audit trail:[/red] --by NAME")
        return EXIT_REFUSED
    answer = _call(
        args,
        "POST",
        f"/v1/tenants/{args.tenant}/admin/links/{args.notification_id}/revoke",
        json={"reason": args.reason, "revoked_by": by},
    )
    if isinstance(answer, int):
        return answer
    console = Console(soft_wrap=True)
    if answer.get("already_revoked"):
        console.print(
            f"The link was already revoked at {answer['revoked_at']} by {answer['revoked_by']} "
            f"({answer['reason']}); nothing changed.",
            highlight=False,
            markup=False,
        )
    else:
        console.print(
            f"Revoked the link of e-mail {answer['notification_id']} (alert {answer['alert_id']}) at "
            f"{answer['revoked_at']}. The portal refuses it now and ends its sessions within its poll "
            "interval (30 s by default).",
            highlight=False,
            markup=False,
        )
    return EXIT_OK


def _user_name() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's numeric user with no name
        return None


def _status(link: dict[str, Any]) -> str:
    if link["status"] == "revoked":
        return f"revoked {_minute(link['revoked_at'])} by {link['revoked_by']} ({link['reason']})"
    if link["status"] == "expired":
        return f"expired {_minute(link['expires_at'])}"
    return f"valid until {_minute(link['expires_at'])}"


def _minute(iso: str) -> str:
    return iso[:16].replace("T", " ") + " UTC" if iso.endswith("+00:00") else iso


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> dict[str, Any] | int:
    """Alerts' JSON answer, or the exit code after saying on stderr why there is none."""
    from tempen.commands.tokens import default_token

    err = Console(stderr=True, soft_wrap=True)  # a command or path in an error stays whole, to copy
    token = args.token or default_token()
    try:
        response = httpx.request(
            method,
            f"{args.url.rstrip('/')}{path}",
            headers={"authorization": f"Bearer {token}"} if token else {},
            timeout=30,
            **kwargs,
        )
    except httpx.TransportError as exc:
        err.print(f"[red]Alerts is not reachable at {args.url}:[/red] {exc} (is `tempen up` running?)")
        return EXIT_UNAVAILABLE
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if response.status_code != 200:
        err.print(f"[red]Refused ({response.status_code} {body.get('title', '')}):[/red] {body.get('detail', '')}")
        for error in body.get("errors", []):
            err.print(f"  {error.get('field')}: {error.get('reason')}", markup=False, highlight=False)
        if response.status_code in (401, 403):
            err.print("  This needs an admin token: `tempen tokens create --admin --name NAME` (docs/access.md).")
        return EXIT_UNAVAILABLE if response.status_code >= 500 else EXIT_REFUSED
    return body
