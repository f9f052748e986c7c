"""The `access` schema on the real PostgreSQL: one contract for the fake and the real lookup, hashing,
tenant-scoped revocation, and revocation reaching a running AccessControl."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

import asyncpg
import pytest

from tempen_shared.access.store import (
    SCHEMA,
    PostgresTokenLookup,
    create_token,
    find_token,
    list_tokens,
    migrate_access,
    revoke_token,
)
from tempen_shared.access.tokens import Scope, token_digest
from tempen_shared.auth import AccessControl, TokenLookup
from tempen_shared.db import create_pool
from tests.auth.fakes import InMemoryTokens


class Issuer(Protocol):
    lookup: TokenLookup

    async def issue(self, tenant: str | None, *scopes: Scope) -> str: ...

    async def revoke(self, token: str) -> None: ...


class TokenLookupContract:
    """What every TokenLookup must do; subclasses supply `issuer`."""

    @pytest.fixture
    def issuer(self) -> Issuer:
        raise NotImplementedError

    async def test_an_issued_token_is_found_with_its_tenant_and_scopes(self, issuer: Issuer) -> None:
        token = await issuer.issue("hjo", Scope.SUBMIT, Scope.READ)
        grant = await issuer.lookup.find(token_digest(token))
        assert grant is not None
        assert grant.tenant == "hjo"
        assert grant.scopes == {Scope.SUBMIT, Scope.READ}
        assert token.startswith(f"tempen_{grant.prefix}_")

    async def test_an_admin_token_has_no_tenant_and_every_scope(self, issuer: Issuer) -> None:
        grant = await issuer.lookup.find(token_digest(await issuer.issue(None)))
        assert grant is not None
        assert grant.is_admin
        assert grant.scopes == set(Scope)

    async def test_a_revoked_token_is_not_found(self, issuer: Issuer) -> None:
        token = await issuer.issue("hjo", Scope.READ)
        await issuer.revoke(token)
        assert await issuer.lookup.find(token_digest(token)) is None

    async def test_an_unknown_digest_is_not_found(self, issuer: Issuer) -> None:
        assert await issuer.lookup.find(token_digest("tempen_00000000_" + "0" * 48)) is None


class _FakeIssuer:
    def __init__(self) -> None:
        self._tokens = InMemoryTokens()
        self.lookup: TokenLookup = self._tokens

    async def issue(self, tenant: str | None, *scopes: Scope) -> str:
        return self._tokens.issue(tenant, *scopes)

    async def revoke(self, token: str) -> None:
        self._tokens.revoke(token)


class _PostgresIssuer:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.lookup: TokenLookup = PostgresTokenLookup(pool)

    async def issue(self, tenant: str | None, *scopes: Scope) -> str:
        token, _ = await create_token(self._pool, tenant=tenant, name="contract", scopes=scopes)
        return token

    async def revoke(self, token: str) -> None:
        info = await find_token(self._pool, token)
        assert info is not None
        assert await revoke_token(self._pool, tenant=info.tenant, reference=info.prefix) is not None


class TestInMemoryTokenLookup(TokenLookupContract):
    @pytest.fixture
    def issuer(self) -> Issuer:
        return _FakeIssuer()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4)
    try:
        await migrate_access(pool)
        yield pool
    finally:
        await pool.close()


@pytest.mark.integration
class TestPostgresTokenLookup(TokenLookupContract):
    @pytest.fixture
    def issuer(self, pool: asyncpg.Pool) -> Issuer:
        return _PostgresIssuer(pool)


@pytest.mark.integration
async def test_tokens_are_stored_only_as_digests_never_in_plain_text(pool: asyncpg.Pool) -> None:
    tenant_token, _ = await create_token(pool, tenant="hjo", name="Formbricks", scopes=[Scope.SUBMIT])
    admin_token, _ = await create_token(pool, tenant=None, name="operator", scopes=())
    # Every column of every row, as PostgreSQL's own text and as the raw bytes of bytea columns.
    dump = await pool.fetchval(f"SELECT string_agg(t::text, ' ') FROM {SCHEMA}.tokens t")
    raw = b"".join(
        value for row in await pool.fetch(f"SELECT token_hash FROM {SCHEMA}.tokens") for value in row.values()
    )
    for token in (tenant_token, admin_token):
        secret = token.rsplit("_", 1)[1]
        assert token not in dump
        assert secret not in dump
        assert secret.encode() not in raw
        assert token_digest(token).hex() in dump  # what is kept instead
    # Nothing else in the database holds them either (the schema has no other tables with data).
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name <> 'tokens'", SCHEMA
    )
    for table in tables:
        text = await pool.fetchval(f"SELECT coalesce(string_agg(t::text, ' '), '') FROM {SCHEMA}.\"{table[0]}\" t")
        assert all(token.rsplit("_", 1)[1] not in text for token in (tenant_token, admin_token))


@pytest.mark.integration
async def test_a_tenant_can_only_revoke_its_own_tokens(pool: asyncpg.Pool) -> None:
    _, hjo = await create_token(pool, tenant="hjo", name="hr", scopes=[Scope.READ])
    _, admin = await create_token(pool, tenant=None, name="op", scopes=())
    assert await revoke_token(pool, tenant="ljungby", reference=hjo.prefix) is None
    assert await revoke_token(pool, tenant="ljungby", reference=str(hjo.token_id)) is None
    assert await revoke_token(pool, tenant="hjo", reference=admin.prefix) is None
    assert await revoke_token(pool, tenant="hjo", reference="nonsense") is None
    revoked = await revoke_token(pool, tenant="hjo", reference=f"tempen_{hjo.prefix}")
    assert revoked is not None
    assert revoked.revoked_at is not None
    again = await revoke_token(pool, tenant="hjo", reference=str(hjo.token_id))
    assert again is not None
    assert again.revoked_at == revoked.revoked_at  # the first revocation stands
    assert [t.revoked_at is None for t in await list_tokens(pool, tenant=None)] == [True]


@pytest.mark.integration
async def test_listing_is_per_tenant_and_admin_tokens_are_listed_apart(pool: asyncpg.Pool) -> None:
    await create_token(pool, tenant="hjo", name="a", scopes=[Scope.SUBMIT, Scope.READ, Scope.SUBMIT])
    await create_token(pool, tenant="ljungby", name="b", scopes=[Scope.READ])
    await create_token(pool, tenant=None, name="c", scopes=[Scope.READ])
    hjo = await list_tokens(pool, tenant="hjo")
    assert [(t.name, t.scopes) for t in hjo] == [("a", (Scope.SUBMIT, Scope.READ))]
    assert [(t.name, t.scopes) for t in await list_tokens(pool, tenant=None)] == [("c", tuple(Scope))]


@pytest.mark.integration
async def test_a_tenant_token_without_scopes_is_refused(pool: asyncpg.Pool) -> None:
    with pytest.raises(ValueError, match="scope"):
        await create_token(pool, tenant="hjo", name="nothing", scopes=())


@pytest.mark.integration
async def test_the_schema_migrates_once_when_services_start_together(database_url: str) -> None:
    pools = [await create_pool(database_url, max_size=2) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(migrate_access(p) for p in pools))
        assert sorted(len(a) for a in applied) == [0, 0, 1]
        assert await migrate_access(pools[0]) == []
    finally:
        for p in pools:
            await p.close()


@pytest.mark.integration
async def test_a_revocation_reaches_a_running_service_within_the_cache_time(pool: asyncpg.Pool) -> None:
    now = [0.0]
    access = AccessControl(PostgresTokenLookup(pool), cache_ttl_s=30, clock=lambda: now[0])
    token, info = await create_token(pool, tenant="hjo", name="hr", scopes=[Scope.READ])
    assert await access.grant(token) is not None
    await revoke_token(pool, tenant="hjo", reference=info.prefix)
    now[0] = 29.0
    assert await access.grant(token) is not None
    now[0] = 30.5
    assert await access.grant(token) is None
