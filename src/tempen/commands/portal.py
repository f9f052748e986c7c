"""`tempen portal sign-in-link`: a personal sign-in link to the portal, for someone whose municipality
has no identity provider configured (or for the demo). The portal issues it through its API, with an
admin token; the command never signs anything itself."""

from __future__ import annotations

import argparse
import os
from typing import Any

import httpx
from rich.console import Console

from tempen.commands.tokens import default_token

DEFAULT_PORTAL_URL = "http://127.0.0.1:8000"
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_UNAVAILABLE = 3


class SignInLinkError(RuntimeError):
    """The portal did not issue the link; the message says why and what to do."""


def issue_sign_in_link(
    portal_url: str,
    tenant: str,
    email: str,
    *,
    token: str | None,
    hours: int | None = None,
    next_path: str | None = None,
) -> dict[str, Any]:
    """The portal's answer to `POST /v1/tenants/{tenant}/sign-in-links` (url, person, role, next, expires_at).
    Raises SignInLinkError with the portal's reason when it refuses, or when it cannot be reached."""
    body: dict[str, Any] = {"email": email}
    if hours is not None:
        body["valid_hours"] = hours
    if next_path is not None:
        body["next"] = next_path
    try:
        response = httpx.post(
            f"{portal_url.rstrip('/')}/v1/tenants/{tenant}/sign-in-links",
            json=body,
            headers={"authorization": f"Bearer {token}"} if token else {},
            timeout=30,
        )
    except httpx.HTTPError as exc:
        raise SignInLinkError(f"the portal is not reachable at {portal_url}: {exc} (is `tempen up` running?)") from None
    if response.status_code == 201:
        answer: dict[str, Any] = response.json()
        return answer
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    reason = problem.get("detail") or "; ".join(
        f"{e.get('field')}: {e.get('reason')}" for e in problem.get("errors", []) if isinstance(e, dict)
    )
    if response.status_code in (401, 403):
        reason = (
            f"{reason}. The portal's API needs an admin token: pass --token, set TEMPEN_TOKEN, or let `tempen up` "
            "write .tempen/admin-token (docs/access.md)"
        )
    raise SignInLinkError(f"the portal refused ({response.status_code} {problem.get('title', '')}): {reason}")


def run_sign_in_link(args: argparse.Namespace) -> int:
    console = Console(soft_wrap=True)
    try:
        answer = issue_sign_in_link(
            args.url,
            args.tenant,
            args.email,
            token=args.token or default_token(),
            hours=args.hours,
            next_path=args.next,
        )
    except SignInLinkError as exc:
        console.print(f"[red]No sign-in link:[/red] {exc}", markup=True, highlight=False)
        return EXIT_UNAVAILABLE if "not reachable" in str(exc) else EXIT_REFUSED
    console.print(
        f"A personal sign-in link for {answer['person']} ({answer['role']}) in {args.tenant}, opening "
        f"{answer['next']}, valid until {answer['expires_at']}. Send it to them alone: whoever has it is "
        "signed in as them until then.",
        highlight=False,
    )
    console.print(f"  {answer['url']}", highlight=False)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `portal sign-in-link`; the parsed arguments carry `handler(args) -> exit code`."""
    portal = subparsers.add_parser("portal", help="work with the portal (personal sign-in links)")
    actions = portal.add_subparsers(dest="portal_command", required=True, metavar="COMMAND")
    parser = actions.add_parser(
        "sign-in-link",
        help="issue a personal sign-in link to the portal for the tenant's HR address or a manager",
        description="Ask the portal for a personal sign-in link for EMAIL: the tenant's hr_email or a manager in "
        "its org tree (anyone else is refused, with the reason). For municipalities without an identity provider, "
        "and for the demo. The link is signed by the portal, expires (default 24 hours, at most 168) and opens "
        f"--next. Exit codes: {EXIT_REFUSED} refused, {EXIT_UNAVAILABLE} portal unreachable.",
    )
    parser.add_argument("email", metavar="EMAIL", help="the person's e-mail address")
    parser.add_argument("--tenant", required=True, help="the tenant id")
    parser.add_argument("--hours", type=int, help="how long the link works (default 24, at most 168)")
    parser.add_argument("--next", metavar="PATH", help="the portal page to open, e.g. /t/hjo/overview")
    parser.add_argument(
        "--url",
        default=os.environ.get("TEMPEN_PORTAL_URL") or DEFAULT_PORTAL_URL,
        help=f"the portal (default $TEMPEN_PORTAL_URL or {DEFAULT_PORTAL_URL})",
    )
    parser.add_argument("--token", help="an admin API token (default $TEMPEN_TOKEN or .tempen/admin-token)")
    parser.set_defaults(handler=run_sign_in_link)
