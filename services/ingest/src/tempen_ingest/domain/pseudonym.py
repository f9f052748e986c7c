"""Respondent pseudonyms: a keyed hash per tenant, so the same person maps to the same pseudonym
within a tenant (corrections, GDPR erasure) but nothing links them across tenants or back to the id."""

import hashlib
import hmac


def pseudonymise(*, key: bytes, tenant: str, respondent: str) -> str:
    digest = hmac.new(key, f"{tenant}\x1f{respondent}".encode(), hashlib.sha256).hexdigest()
    return f"p-{digest[:32]}"
