"""API tokens and what they allow, as pure values (no I/O).

A token is `tempen_<prefix>_<secret>`: 8 hex characters that identify it in listings and logs (not
secret), then 192 random bits. Only its SHA-256 digest is stored. A slow password hash would add
nothing here: the secret is random, not chosen by a person, so there is no dictionary to try.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from enum import Enum, StrEnum
from uuid import UUID

TOKEN_MARK = "tempen_"  # noqa: S105 - the public marker every token starts with, not a secret
_PREFIX_BYTES = 4
_SECRET_BYTES = 24
# What a presented token must look like before it is worth a database lookup.
TOKEN_PATTERN = re.compile(rf"^{TOKEN_MARK}([0-9a-f]{{{2 * _PREFIX_BYTES}}})_[0-9a-f]{{{2 * _SECRET_BYTES}}}$")
PREFIX_PATTERN = re.compile(rf"^(?:{TOKEN_MARK})?([0-9a-f]{{{2 * _PREFIX_BYTES}}})$")


class Scope(StrEnum):
    """What a tenant token may do. An admin token may do everything, for every tenant."""

    SUBMIT = "submit"  # send submissions (survey platforms, HR systems)
    READ = "read"  # read scores and alerts
    MANAGE = "manage"  # acknowledge and resolve alerts
    ADMIN = "admin"  # the tenant's administration endpoints


@dataclass(frozen=True, slots=True)
class NewToken:
    token: str  # the secret: shown once, never stored
    prefix: str
    digest: bytes


def generate_token() -> NewToken:
    prefix = secrets.token_hex(_PREFIX_BYTES)
    token = f"{TOKEN_MARK}{prefix}_{secrets.token_hex(_SECRET_BYTES)}"
    return NewToken(token=token, prefix=prefix, digest=token_digest(token))


def token_digest(token: str) -> bytes:
    """The SHA-256 digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid (known, unrevoked) token allows."""

    token_id: UUID
    prefix: str
    tenant: str | None  # None: an admin token, for every tenant
    scopes: frozenset[Scope]

    @property
    def is_admin(self) -> bool:
        return self.tenant is None


class Denial(Enum):
    WRONG_TENANT = "wrong_tenant"
    MISSING_SCOPE = "missing_scope"


def authorize(grant: Grant, *, tenant: str | None, scope: Scope | None) -> Denial | None:
    """None when `grant` may call a route of `tenant` (None: a route outside any tenant) needing `scope`.

    An admin token passes everything. A tenant token passes only its own tenant's routes, and only
    with the route's scope; routes outside any tenant are for admin tokens alone.
    """
    if grant.is_admin:
        return None
    if tenant is None or tenant != grant.tenant:
        return Denial.WRONG_TENANT
    if scope is not None and scope not in grant.scopes:
        return Denial.MISSING_SCOPE
    return None
