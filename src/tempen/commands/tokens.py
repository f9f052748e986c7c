"""`tempen tokens`: create, list and revoke API tokens (docs/access.md).

This command is the only writer of the `access` schema. It connects to `DATABASE_URL`, or, when that
is unset, to the embedded PostgreSQL that `tempen up` starts (`DEFAULT_DATABASE_URL`). A new token is
printed once, alone on stdout, so `TOKEN=$(tempen tokens create ...)` captures it; the database keeps
only its SHA-256 digest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TypeVar

import asyncpg
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tempen.commands.config_check import CONFIG_DIR_ENV, default_config_dir
from tempen_shared.access.store import (
    TokenInfo,
    create_token,
    find_token,
    list_tokens,
    migrate_access,
    revoke_token,
)
from tempen_shared.access.tokens import Scope
from tempen_shared.db import TRANSIENT_DB_ERRORS, create_pool
from tempen_shared.tenancy.loader import ConfigError, load_tenant_config

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:54329/tempen"  # `tempen up`'s embedded PostgreSQL
# Names of things that hold tokens, not tokens:
TOKEN_ENV = "TEMPEN_TOKEN"  # noqa: S105
DEV_TOKEN_FILE = "admin-token"  # noqa: S105
DEV_TOKEN_NAME = "development (tempen up)"  # noqa: S105

EXIT_OK = 0
EXIT_FAILED = 1

T = TypeVar("T")
_DATABASE_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_DB_ERRORS, asyncpg.PostgresError)


def database_url(environ: Mapping[str, str] | None = None) -> str:
    return (os.environ if environ is None else environ).get("DATABASE_URL") or DEFAULT_DATABASE_URL


def default_token(environ: Mapping[str, str] | None = None) -> str | None:
    """`$TEMPEN_TOKEN`, else the development admin token `tempen up` wrote to the state directory."""
    env = os.environ if environ is None else environ
    if env.get(TOKEN_ENV):
        return env[TOKEN_ENV].strip()
    path = Path(env.get("TEMPEN_STATE_DIR") or ".tempen") / DEV_TOKEN_FILE
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def ensure_development_admin_token(url: str, state_dir: Path) -> tuple[Path, bool]:
    """Make `<state_dir>/admin-token` (mode 0600) hold a valid admin token; True when a new one was made.

    For `tempen up` on its embedded PostgreSQL only. A token already in the file is kept while it is
    valid; when it is not (a new database, or it was revoked), a new one replaces it and any other
    development token is revoked, so at most one is ever valid.
    """
    path = state_dir / DEV_TOKEN_FILE
    return path, ensure_admin_token_file(url, path, name=DEV_TOKEN_NAME)


def ensure_service_token(url: str, state_dir: Path, service: str) -> str:
    """The admin token a service of `tempen up` calls the other services' APIs with (the portal: it reads
    and acts for every tenant), kept in `<state_dir>/<service>-token` (0600) while it stays valid."""
    path = state_dir / f"{service}-token"
    ensure_admin_token_file(url, path, name=f"{service} (tempen up)")
    return path.read_text(encoding="utf-8").strip()


def ensure_admin_token_file(url: str, path: Path, *, name: str) -> bool:
    """Make `path` (mode 0600) hold a valid admin token named `name`; True when a new one was made. A
    token already in the file is kept while it is valid; when it is not (a new database, or it was
    revoked), a new one replaces it and every other token of that name is revoked."""

    try:
        current = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        current = ""

    async def ensure(pool: asyncpg.Pool) -> str | None:
        """The new token, or None when the current one is still valid."""
        if current:
            info = await find_token(pool, current)
            if info is not None and info.is_admin and info.revoked_at is None:
                return None
        for old in await list_tokens(pool, tenant=None):
            if old.name == name and old.revoked_at is None:
                await revoke_token(pool, tenant=None, reference=str(old.token_id))
        token, _ = await create_token(pool, tenant=None, name=name, scopes=())
        return token

    made = asyncio.run(_with_pool(url, ensure))
    if made is None:
        path.chmod(0o600)
        return False
    _write_private(path, made)
    return True


def private_text(path: Path, make: Callable[[], str]) -> str:
    """The text in `path`, made by `make` and written readable by its owner alone if it is not there yet
    (the link secret `tempen up` shares between alerts and the portal)."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    if not text:
        text = make()
        _write_private(path, text)
    return text


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text + "\n")
    partial.replace(path)


async def _with_pool(url: str, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    pool = await create_pool(url, max_size=2)
    try:
        await migrate_access(pool)  # the command may run before any service has started
        return await work(pool)
    finally:
        await pool.close()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `tokens create|list|revoke`; the parsed arguments carry `handler(args) -> exit code`."""
    tokens = subparsers.add_parser(
        "tokens",
        help="create, list and revoke API tokens",
        description="API tokens for survey platforms, HR systems and administrators. Connects to DATABASE_URL, "
        f"or to {DEFAULT_DATABASE_URL} (the embedded PostgreSQL of `tempen up`) when it is unset. See docs/access.md.",
    )
    actions = tokens.add_subparsers(dest="tokens_command", required=True, metavar="COMMAND")
    scopes = ", ".join(s.value for s in Scope)

    create = actions.add_parser(
        "create",
        help="create a token and print it once",
        description=f"Create a token for TENANT with the given scopes ({scopes}), or an admin token for every "
        "tenant with --admin. The token is printed once on stdout; only its digest is stored.",
    )
    _tenant_or_admin(create)
    create.add_argument("--name", required=True, help="who or what uses it, e.g. 'Formbricks' or 'HR system'")
    create.add_argument(
        "--scope",
        dest="scopes",
        action="append",
        choices=[s.value for s in Scope],
        default=[],
        help="repeat for several; a tenant token needs at least one (admin tokens hold all)",
    )
    create.add_argument(
        "--config",
        type=Path,
        default=default_config_dir(),
        help=f"configuration directory, to check that TENANT exists (default ${CONFIG_DIR_ENV} or ./config)",
    )
    create.add_argument(
        "--no-tenant-check", action="store_true", help="create it even if TENANT is not in the configuration"
    )
    create.set_defaults(handler=cmd_create)

    listing = actions.add_parser("list", help="list a tenant's tokens (prefixes, never the tokens)")
    _tenant_or_admin(listing)
    listing.set_defaults(handler=cmd_list)

    revoke = actions.add_parser(
        "revoke",
        help="revoke a token by its prefix or id",
        description="Revoke one of TENANT's tokens (or an admin token with --admin). Services stop accepting it "
        "within 30 seconds.",
    )
    _tenant_or_admin(revoke)
    revoke.add_argument("reference", metavar="PREFIX_OR_ID", help="the prefix `tempen tokens list` shows, or the id")
    revoke.set_defaults(handler=cmd_revoke)


def _tenant_or_admin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tenant", nargs="?", metavar="TENANT", help="the tenant (municipality) id")
    parser.add_argument("--admin", action="store_true", help="admin tokens, for every tenant, instead of TENANT's")
    parser.add_argument(
        "--database-url",
        default=None,
        help=f"PostgreSQL URL (default $DATABASE_URL, else {DEFAULT_DATABASE_URL})",
    )


def _target(args: argparse.Namespace, err: Console) -> tuple[bool, str | None]:
    """(valid, tenant); tenant None means the admin tokens."""
    if args.admin and args.tenant:
        err.print("[red]Give TENANT or --admin, not both.[/red]")
        return False, None
    if not args.admin and not args.tenant:
        err.print("[red]Give TENANT, or --admin for admin tokens.[/red]")
        return False, None
    return True, None if args.admin else args.tenant


class _ReportedError(Exception):
    """The command has said why it stops."""


def _run(args: argparse.Namespace, err: Console, work: Callable[[asyncpg.Pool], Awaitable[T]]) -> T:
    url = args.database_url or database_url()
    try:
        return asyncio.run(_with_pool(url, work))
    except _DATABASE_ERRORS as exc:
        where = url.rpartition("@")[2]  # never print the password
        err.print(f"[red]Cannot use PostgreSQL at {escape(where)}:[/red] {escape(str(exc))}")
        err.print("Is `tempen up` running? Otherwise set DATABASE_URL or pass --database-url.")
        raise _ReportedError from exc


def cmd_create(args: argparse.Namespace) -> int:
    err = Console(stderr=True, soft_wrap=True)
    ok, tenant = _target(args, err)
    if not ok:
        return EXIT_FAILED
    if tenant is not None:
        if not args.scopes:
            err.print(f"[red]Give at least one --scope ({', '.join(s.value for s in Scope)}).[/red]")
            return EXIT_FAILED
        if not args.no_tenant_check:
            try:
                load_tenant_config(args.config, tenant)
            except ConfigError as exc:
                for problem in exc.problems:
                    err.print(str(problem), style="red", markup=False)
                err.print("Check the tenant id, pass --config DIR, or --no-tenant-check.")
                return EXIT_FAILED
    elif args.scopes:
        err.print("[yellow]Admin tokens hold every scope; --scope is ignored.[/yellow]")

    async def work(pool: asyncpg.Pool) -> tuple[str, TokenInfo]:
        return await create_token(pool, tenant=tenant, name=args.name, scopes=[Scope(s) for s in args.scopes])

    try:
        token, info = _run(args, err, work)
    except ValueError as exc:
        err.print(str(exc), style="red", markup=False)
        return EXIT_FAILED
    except _ReportedError:
        return EXIT_FAILED
    kind = "Admin token (every tenant)" if info.is_admin else f"Token for {escape(str(info.tenant))}"
    err.print(f"{kind} [bold]{escape(info.name)}[/bold], prefix {info.prefix}, scopes {', '.join(info.scopes)}.")
    err.print("It is shown only now; store it in the caller's secret store. Use: Authorization: Bearer <token>")
    sys.stdout.write(token + "\n")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    err = Console(stderr=True, soft_wrap=True)
    ok, tenant = _target(args, err)
    if not ok:
        return EXIT_FAILED

    async def work(pool: asyncpg.Pool) -> list[TokenInfo]:
        return await list_tokens(pool, tenant=tenant)

    try:
        infos = _run(args, err, work)
    except _ReportedError:
        return EXIT_FAILED
    if not infos:
        err.print("No tokens." if tenant is None else f"No tokens for {escape(tenant)}.")
        return EXIT_OK
    table = Table(title="Admin tokens" if tenant is None else f"Tokens of {escape(tenant)}")
    for column in ("prefix", "name", "scopes", "created", "revoked"):
        table.add_column(column)
    table.add_column("id", overflow="fold")  # whole, so it can be copied into `revoke`
    for info in infos:
        table.add_row(
            info.prefix,
            escape(info.name),
            " ".join(info.scopes),
            f"{info.created_at:%Y-%m-%d %H:%M}",
            f"{info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "",
            str(info.token_id),
        )
    Console().print(table)
    return EXIT_OK


def cmd_revoke(args: argparse.Namespace) -> int:
    err = Console(stderr=True, soft_wrap=True)
    ok, tenant = _target(args, err)
    if not ok:
        return EXIT_FAILED

    async def work(pool: asyncpg.Pool) -> TokenInfo | None:
        return await revoke_token(pool, tenant=tenant, reference=args.reference)

    try:
        info = _run(args, err, work)
    except _ReportedError:
        return EXIT_FAILED
    if info is None:
        owner = "admin token" if tenant is None else f"token of {escape(tenant)}"
        err.print(f"[red]No {owner} with prefix or id {escape(repr(args.reference))}.[/red]")
        return EXIT_FAILED
    err.print(
        f"Revoked {info.prefix} ({escape(info.name)}) at {info.revoked_at:%Y-%m-%d %H:%M:%S %Z}. "
        "Services refuse it within 30 seconds."
    )
    return EXIT_OK
