"""Ingest's org import use case: parse, compare with the current version, guard, store (or not)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from tempen_ingest.ports import OrgStore
from tempen_shared.tenancy.loader import Tenant
from tempen_shared.tenancy.org_import import OrgFileError, check_guard_rails, diff_org, parse_org


@dataclass(frozen=True)
class OrgImportOutcome:
    status: Literal["stored", "dry_run", "refused", "invalid"]
    diff: str = ""
    summary: str = ""
    refusals: tuple[str, ...] = ()
    problems: tuple[dict[str, Any], ...] = ()
    version: int | None = None
    effective_from: date | None = None
    compared_with: str = ""
    units: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


async def import_org_version(
    store: OrgStore,
    tenant: Tenant,
    text: str,
    *,
    file_format: Literal["csv", "json"],
    effective_from: date,
    force: bool,
    dry_run: bool,
    source: str,
) -> OrgImportOutcome:
    try:
        new = parse_org(text, file_format=file_format)
    except OrgFileError as exc:
        return OrgImportOutcome(
            "invalid",
            problems=tuple(
                {
                    "field": f"line {p.line}" if p.line is not None else "(file)",
                    "reason": f"{p.location}: {p.reason}" if p.location else p.reason,
                    "hint": p.hint,
                }
                for p in exc.problems
            ),
        )
    latest = await store.latest(tenant.id)
    old, compared = (latest[2], f"version {latest[0]}") if latest else (tenant.org, "the configured org file")
    diff = diff_org(old, new)
    refusals = tuple(check_guard_rails(old, new, force=False))
    checked = OrgImportOutcome(
        "dry_run",
        diff=diff.render(),
        summary=diff.summary(),
        refusals=refusals,
        compared_with=compared,
        effective_from=effective_from,
        units=len(new.units),
    )
    if refusals and not force:
        return replace(checked, status="refused")
    if dry_run:
        return checked
    version = await store.store(tenant.id, new, effective_from=effective_from, source=source)
    return replace(checked, status="stored", version=version)
