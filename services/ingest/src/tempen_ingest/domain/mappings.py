"""Whether a platform mapping fits the tenant it feeds: its instrument, items and units. Pure."""

from __future__ import annotations

from tempen_ingest.domain.platforms import PlatformMapping
from tempen_ingest.domain.webhooks import WEBHOOK_PLATFORMS
from tempen_shared.tenancy.loader import Tenant


def mapping_problems(mapping: PlatformMapping, tenant: Tenant) -> list[tuple[str, str]]:
    """Every reason `mapping` cannot feed `tenant`, as (location, message); empty when it can."""
    problems: list[tuple[str, str]] = []
    if mapping.tenant != tenant.id:
        problems.append(("tenant", f"is {mapping.tenant!r}, but the file is in the folder of tenant {tenant.id!r}"))
    if mapping.instrument not in tenant.config.instruments:
        problems.append(
            (
                "instrument",
                f"{mapping.instrument!r} is not one of {tenant.id}'s instruments: "
                + ", ".join(tenant.config.instruments),
            )
        )
    instrument = tenant.instruments.get(mapping.instrument)
    if instrument is not None:
        for question, spec in mapping.questions.items():
            for item in spec.items():
                if instrument.item(item) is None:
                    problems.append((f"questions.{question}", f"{item!r} is not an item of {instrument.id!r}"))
    for key, unit in (mapping.unit.units or {}).items():
        if unit not in tenant.org:
            problems.append((f"unit.units.{key}", f"{unit!r} is not a unit in {tenant.id}'s organisation"))
    if mapping.platform in WEBHOOK_PLATFORMS and mapping.verification is None:
        problems.append(("verification", f"{mapping.platform} deliveries must be verified: add verification"))
    return problems
