"""`tempen gdpr erase`: erase one respondent's answers (GDPR article 17) in a running system.

The command asks ingest (`POST /v1/tenants/{tenant}/gdpr/erase`, admin scope), which computes the
respondent's pseudonym with the tenant's key, deletes the raw answers and free text it keeps, and
publishes a retraction per submission so that scoring takes them out of every aggregate. See
docs/privacy.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import httpx
from rich.console import Console

from tempen.commands.submissions import DEFAULT_URL, INGEST_URL_ENV

EXIT_OK = 0
EXIT_REFUSED = 2  # the request was refused (unknown tenant, no or wrong token, invalid respondent)
EXIT_UNAVAILABLE = 3  # ingest could not be reached or could not store; running the command again is safe


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gdpr erase`; the parsed arguments carry `handler(args) -> exit code`."""
    gdpr = subparsers.add_parser("gdpr", help="data-subject requests (GDPR)")
    actions = gdpr.add_subparsers(dest="gdpr_command", required=True, metavar="COMMAND")
    erase = actions.add_parser(
        "erase",
        help="erase one respondent's answers and take them out of the scores",
        description="Erase every submission of RESPONDENT (the respondent id the survey platform sent) in TENANT: "
        "ingest deletes the raw answers and free text, and scoring removes their contributions from the "
        "aggregates. Give - as RESPONDENT to read it from standard input, which keeps it out of the shell "
        "history. Running it again is harmless. Needs an admin token. "
        f"Exit codes: {EXIT_OK} done, {EXIT_REFUSED} refused, {EXIT_UNAVAILABLE} ingest unavailable.",
    )
    erase.add_argument("tenant", metavar="TENANT")
    erase.add_argument("respondent", metavar="RESPONDENT", help="the respondent id, or - to read it from stdin")
    erase.add_argument(
        "--url",
        default=os.environ.get(INGEST_URL_ENV, DEFAULT_URL),
        help=f"ingest (default ${INGEST_URL_ENV} or {DEFAULT_URL})",
    )
    erase.add_argument("--token", help="an admin token (default $TEMPEN_TOKEN or .tempen/admin-token)")
    erase.set_defaults(handler=run_erase)


def run_erase(args: argparse.Namespace) -> int:
    from tempen.commands.tokens import default_token

    console = Console()
    err = Console(stderr=True, soft_wrap=True)  # a path or command in an error stays whole, to copy
    respondent = sys.stdin.readline().strip() if args.respondent == "-" else args.respondent.strip()
    if not respondent:
        err.print("[red]No respondent id given.[/red]")
        return EXIT_REFUSED
    token = args.token or default_token()
    url = f"{args.url.rstrip('/')}/v1/tenants/{args.tenant}/gdpr/erase"
    try:
        response = httpx.post(
            url,
            json={"respondent": respondent},
            headers={"authorization": f"Bearer {token}"} if token else {},
            timeout=60,
        )
    except httpx.TransportError as exc:
        err.print(f"[red]ingest is not reachable at {args.url}:[/red] {exc}")
        return EXIT_UNAVAILABLE
    if response.status_code != 200:
        body = _json(response)
        err.print(
            f"[red]Erasure refused ({response.status_code} {body.get('title', '')}):[/red] {body.get('detail', '')}"
        )
        for error in body.get("errors", []):
            err.print(f"  {error.get('field')}: {error.get('reason')}")
        return EXIT_UNAVAILABLE if response.status_code >= 500 else EXIT_REFUSED
    result = _json(response)
    erased = result.get("erased", 0)
    pseudonym = result.get("respondent_pseudonym", "")
    if erased:
        console.print(
            f"Erased {erased} submission(s) of respondent {pseudonym} in {args.tenant}; their retractions are "
            "on their way to scoring, which removes them from the aggregates."
        )
        for item in result.get("retracted", []):
            console.print(f"  {item['submission_id']} (retracted as revision {item['revision']})")
    else:
        console.print(f"Nothing to erase: no stored submission of respondent {pseudonym} in {args.tenant}.")
    return EXIT_OK


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
