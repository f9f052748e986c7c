"""Ingest's store of imported org tree versions; each stored version is published through the outbox."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from typing import Any

import asyncpg

from tempen_shared.clock import utc_now
from tempen_shared.db import TRANSIENT_DB_ERRORS, StoreUnavailableError
from tempen_shared.events import OrgUnitVersioned, org_event_id
from tempen_shared.outbox import OutboxMessage, enqueue
from tempen_shared.tenancy.org import Manager, OrgTree, OrgUnit
from tempen_shared.topics import ORG, partition_key

SCHEMA = "ingest"


def _unit_json(unit: OrgUnit) -> dict[str, Any]:
    return {
        "id": unit.id,
        "name": unit.name,
        "parent": unit.parent,
        "headcount": unit.headcount,
        "manager_name": unit.manager.name if unit.manager else None,
        "manager_email": unit.manager.email if unit.manager else None,
    }


def _unit_of(data: dict[str, Any]) -> OrgUnit:
    manager = Manager(data["manager_name"] or "", data["manager_email"]) if data.get("manager_email") else None
    return OrgUnit(data["id"], data["name"], data["parent"], manager, data.get("headcount"))


class PostgresOrgStore:
    def __init__(self, pool: asyncpg.Pool, *, topic: Callable[[str], str], on_commit: Callable[[], None]) -> None:
        self._pool = pool
        self._topic = topic
        self._on_commit = on_commit

    async def latest(self, tenant: str) -> tuple[int, date, OrgTree] | None:
        row = await self._pool.fetchrow(
            f"SELECT version, effective_from, units FROM {SCHEMA}.org_versions WHERE tenant = $1"
            " ORDER BY version DESC LIMIT 1",
            tenant,
        )
        if row is None:
            return None
        return row["version"], row["effective_from"], OrgTree.build(_unit_of(u) for u in row["units"])

    async def known_units(self) -> dict[str, set[str]]:
        """Every unit id of every stored version, per tenant."""
        rows = await self._pool.fetch(
            f"SELECT tenant, jsonb_path_query(units, '$[*].id') #>> '{{}}' AS unit FROM {SCHEMA}.org_versions"
        )
        out: dict[str, set[str]] = {}
        for r in rows:
            out.setdefault(r["tenant"], set()).add(r["unit"])
        return out

    async def store(self, tenant: str, tree: OrgTree, *, effective_from: date, source: str) -> int:
        """Store a new version and its events in one transaction; returns its version number."""
        lock = int.from_bytes(hashlib.sha256(f"tempen-org-{tenant}".encode()).digest()[:8], "big", signed=True)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
                version = 1 + (
                    await conn.fetchval(
                        f"SELECT coalesce(max(version), 0) FROM {SCHEMA}.org_versions WHERE tenant = $1", tenant
                    )
                )
                units = [tree.units[u] for u in tree.subtree(tree.root)]
                await conn.execute(
                    f"INSERT INTO {SCHEMA}.org_versions (tenant, version, effective_from, unit_count, units, source)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    tenant,
                    version,
                    effective_from,
                    len(units),
                    [_unit_json(u) for u in units],
                    source[:500],
                )
                now = utc_now()
                await enqueue(
                    conn,
                    SCHEMA,
                    [
                        OutboxMessage.of(
                            self._topic(ORG.name),
                            partition_key(tenant, u.id),
                            OrgUnitVersioned(
                                event_id=org_event_id(tenant, version, u.id),
                                occurred_at=now,
                                tenant=tenant,
                                version=version,
                                effective_from=effective_from,
                                unit_count=len(units),
                                unit=u.id,
                                name=u.name,
                                parent=u.parent,
                                manager_name=u.manager.name if u.manager else None,
                                manager_email=u.manager.email if u.manager else None,
                                headcount=u.headcount,
                            ),
                        )
                        for u in units
                    ],
                )
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailableError(str(exc)) from exc
        self._on_commit()
        return int(version)
