"""Secrets are configured by reference (an environment variable or a file), never written in config."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr

from tempen_shared.tenancy.loader import Catalog
from tempen_shared.tenancy.models import SecretRef


class MissingSecretError(RuntimeError):
    pass


def resolve(ref: SecretRef) -> str | None:
    if ref.env is not None:
        return os.environ.get(ref.env) or None
    if ref.file is not None:
        path = Path(ref.file)
        return path.read_text(encoding="utf-8").strip() if path.is_file() else None
    return None


def pseudonym_keys(catalog: Catalog, *, fallback: SecretStr, allow_fallback: bool) -> dict[str, bytes]:
    """Each tenant's respondent-pseudonym key; the fallback only where allowed (development)."""
    keys: dict[str, bytes] = {}
    for tenant_id, tenant in catalog.tenants.items():
        ref = tenant.config.pseudonym_key
        value = resolve(ref) if ref else None
        if value is None:
            if not allow_fallback:
                where = f"{ref.env or ref.file}" if ref else "pseudonym_key in the tenant file"
                raise MissingSecretError(f"tenant {tenant_id}: no pseudonym key (set {where})")
            value = f"{fallback.get_secret_value()}:{tenant_id}"
        keys[tenant_id] = value.encode()
    return keys
