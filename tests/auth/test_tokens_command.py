"""`tempen tokens` and the development admin token of `tempen up`, on the real PostgreSQL.

Synchronous tests: the command runs its own event loop, as it does from a shell."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from tempen.cli import main
from tempen.commands import tokens as tokens_command
from tempen.commands.tokens import DEFAULT_DATABASE_URL, default_token, ensure_development_admin_token
from tempen_shared.access.store import PostgresTokenLookup, list_tokens
from tempen_shared.access.tokens import Grant, Scope
from tempen_shared.auth import AccessControl
from tempen_shared.db import create_pool

pytestmark = pytest.mark.integration


def _grant(database_url: str, token: str) -> Grant | None:
    async def check() -> Grant | None:
        pool = await create_pool(database_url, max_size=2)
        try:
            return await AccessControl(PostgresTokenLookup(pool)).grant(token)
        finally:
            await pool.close()

    return asyncio.run(check())


def _tokens(database_url: str, tenant: str | None) -> list[str]:
    async def names() -> list[str]:
        pool = await create_pool(database_url, max_size=2)
        try:
            return [
                f"{t.name}:{'revoked' if t.revoked_at else 'valid'}" for t in await list_tokens(pool, tenant=tenant)
            ]
        finally:
            await pool.close()

    return asyncio.run(names())


def test_create_prints_the_token_once_list_shows_only_its_prefix_and_revoke_ends_it(
    database_url: str, fixture_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ["--database-url", database_url]
    created = main(
        ["tokens", "create", "testkommun", "--name", "HR portal", "--scope", "read", "--scope", "manage",
         "--config", str(fixture_config), *db]
    )  # fmt: skip
    out = capsys.readouterr()
    assert created == 0
    token = out.out.strip()
    assert out.out.count("\n") == 1  # the token alone on stdout, for TOKEN=$(...)
    grant = _grant(database_url, token)
    assert grant is not None
    assert grant.tenant == "testkommun"
    assert grant.scopes == {Scope.READ, Scope.MANAGE}

    assert main(["tokens", "list", "testkommun", *db]) == 0
    listing = capsys.readouterr()
    assert grant.prefix in listing.out
    assert "HR portal" in listing.out
    assert token not in listing.out + listing.err
    assert token.rsplit("_", 1)[1] not in listing.out + listing.err

    assert main(["tokens", "revoke", "grannkommun", grant.prefix, *db]) == 1  # not that tenant's token
    assert _grant(database_url, token) is not None
    assert main(["tokens", "revoke", "testkommun", grant.prefix, *db]) == 0
    assert _grant(database_url, token) is None
    assert _tokens(database_url, "testkommun") == ["HR portal:revoked"]


def test_create_refuses_an_unknown_tenant_and_a_tenant_token_without_scopes(
    database_url: str, fixture_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--name", "x", "--config", str(fixture_config), "--database-url", database_url]
    assert main(["tokens", "create", "no-such-kommun", "--scope", "submit", *common]) == 1
    assert "no tenant 'no-such-kommun'" in capsys.readouterr().err
    assert main(["tokens", "create", "testkommun", *common]) == 1
    assert main(["tokens", "create", "testkommun", "--admin", "--scope", "read", *common]) == 1
    assert main(["tokens", "create", "no-such-kommun", "--scope", "submit", "--no-tenant-check", *common]) == 0
    assert _tokens(database_url, "no-such-kommun") == ["x:valid"]
    assert _tokens(database_url, "testkommun") == []


def test_an_admin_token_acts_for_every_tenant(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tokens", "create", "--admin", "--name", "operations", "--database-url", database_url]) == 0
    grant = _grant(database_url, capsys.readouterr().out.strip())
    assert grant is not None
    assert grant.is_admin
    assert grant.scopes == set(Scope)


def test_an_unreachable_database_is_reported_without_its_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://tempen:hunter2@127.0.0.1:1/tempen"
    assert main(["tokens", "list", "--admin", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert "127.0.0.1:1/tempen" in err
    assert "hunter2" not in err


def test_the_command_defaults_to_the_embedded_database_of_tempen_up() -> None:
    assert tokens_command.database_url({}) == DEFAULT_DATABASE_URL == "postgresql://postgres@127.0.0.1:54329/tempen"
    assert tokens_command.database_url({"DATABASE_URL": "postgresql://db/x"}) == "postgresql://db/x"


def test_the_development_admin_token_is_private_kept_while_valid_and_replaced_when_not(
    database_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    path, created = ensure_development_admin_token(database_url, state)
    first = path.read_text().strip()
    assert created
    assert path == state / "admin-token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    grant = _grant(database_url, first)
    assert grant is not None
    assert grant.is_admin

    _, created = ensure_development_admin_token(database_url, state)
    assert not created
    assert path.read_text().strip() == first

    assert main(["tokens", "revoke", "--admin", grant.prefix, "--database-url", database_url]) == 0
    _, created = ensure_development_admin_token(database_url, state)
    second = path.read_text().strip()
    assert created
    assert second != first
    assert _grant(database_url, second) is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    path.write_text("tempen_00000000_" + "0" * 48)  # a token some other database issued
    ensure_development_admin_token(database_url, state)
    assert _grant(database_url, second) is None  # at most one development token is valid
    assert [n for n in _tokens(database_url, None) if n.endswith(":valid")] == ["development (tempen up):valid"]
    assert default_token({"TEMPEN_STATE_DIR": str(state)}) == path.read_text().strip()
    assert default_token({"TEMPEN_STATE_DIR": str(state), "TEMPEN_TOKEN": " t "}) == "t"
