"""An in-memory TokenLookup that issues and revokes like `tempen tokens` (a plain module, not conftest)."""

from __future__ import annotations

import uuid

from tempen_shared.access.tokens import Grant, Scope, generate_token, token_digest
from tempen_shared.db import StoreUnavailableError


class InMemoryTokens:
    def __init__(self) -> None:
        self._grants: dict[bytes, Grant] = {}
        self.lookups = 0
        self.down = False

    def issue(self, tenant: str | None, *scopes: Scope) -> str:
        new = generate_token()
        self._grants[new.digest] = Grant(
            token_id=uuid.uuid4(),
            prefix=new.prefix,
            tenant=tenant,
            scopes=frozenset(Scope) if tenant is None else frozenset(scopes),
        )
        return new.token

    def revoke(self, token: str) -> None:
        del self._grants[token_digest(token)]

    async def find(self, digest: bytes) -> Grant | None:
        self.lookups += 1
        if self.down:
            raise StoreUnavailableError("connection refused")
        return self._grants.get(digest)
