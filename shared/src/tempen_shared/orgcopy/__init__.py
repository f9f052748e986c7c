"""A consumer's own copy of the tenants' org trees, built from `tempen.org` events.

Each consuming service keeps it in its own schema (`migrate(pool, schema=..., package="tempen_shared.orgcopy")`).
The org file in the configuration is the base version, in force from the beginning; imported versions
follow from their effective dates. A version counts only once all its units have arrived.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import asyncpg

from tempen_shared.db import TRANSIENT_DB_ERRORS, Connection, StoreUnavailableError
from tempen_shared.events import OrgUnitVersioned
from tempen_shared.tenancy.org import Manager, OrgHistory, OrgTree, OrgUnit

ORG_COPY = "tempen_shared.orgcopy"  # the migrations package a consuming service applies to its schema


async def store_org_units(conn: Connection, schema: str, events: Sequence[OrgUnitVersioned]) -> int:
    """Upsert org unit records (idempotent); returns how many were new or changed."""
    if not events:
        return 0
    cols: list[list[Any]] = [[] for _ in range(10)]
    for e in events:
        for col, value in zip(
            cols,
            (
                e.tenant,
                e.version,
                e.effective_from,
                e.unit_count,
                e.unit,
                e.name,
                e.parent,
                e.manager_name,
                e.manager_email,
                e.headcount,
            ),
            strict=True,
        ):
            col.append(value)
    status = await conn.execute(
        f"""INSERT INTO {schema}.org_units (tenant, version, effective_from, unit_count, unit, name, parent,
                manager_name, manager_email, headcount)
            SELECT * FROM unnest($1::text[], $2::int[], $3::date[], $4::int[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::text[], $10::int[])
            ON CONFLICT (tenant, version, unit) DO NOTHING""",
        *cols,
    )
    return int(status.split()[-1])


async def load_history(conn: Connection | asyncpg.Pool, schema: str, tenant: str, base: OrgTree) -> OrgHistory:
    """The tenant's org history: the configured tree from the beginning, then every complete version."""
    rows = await conn.fetch(
        f"""SELECT u.* FROM {schema}.org_units u
            JOIN (SELECT version FROM {schema}.org_units WHERE tenant = $1
                  GROUP BY version HAVING count(*) = max(unit_count)) complete USING (version)
            WHERE u.tenant = $1 ORDER BY u.version""",
        tenant,
    )
    by_version: dict[int, tuple[date, list[OrgUnit]]] = {}
    for r in rows:
        manager = Manager(r["manager_name"] or "", r["manager_email"]) if r["manager_email"] else None
        unit = OrgUnit(r["unit"], r["name"], r["parent"], manager, r["headcount"])
        by_version.setdefault(r["version"], (r["effective_from"], []))[1].append(unit)
    versions: dict[date, OrgTree] = {date.min: base}
    for _version, (effective, units) in sorted(by_version.items()):
        versions[effective] = OrgTree.build(units)  # a later version with the same date wins
    return OrgHistory.of(versions.items())


class OrgHistories:
    """Per-tenant org histories read from the service's own copy, re-read at most every `ttl_s` seconds."""

    def __init__(self, pool: asyncpg.Pool, schema: str, bases: dict[str, OrgTree], *, ttl_s: float = 2.0) -> None:
        self._pool = pool
        self._schema = schema
        self._bases = bases
        self._ttl_s = ttl_s
        self._cache: dict[str, tuple[tuple[object, ...], float, OrgHistory]] = {}

    def invalidate(self) -> None:
        """Look again at the next call (this process stored new org rows); unchanged trees stay the same objects."""
        self._cache = {tenant: (marker, float("-inf"), history) for tenant, (marker, _, history) in self._cache.items()}

    async def of(self, tenant: str) -> OrgHistory:
        now = time.monotonic()
        cached = self._cache.get(tenant)
        if cached is not None and now - cached[1] < self._ttl_s:
            return cached[2]
        # Rows are only ever added, so their count and the newest version tell whether anything
        # arrived: when nothing did, the same history (the same tree objects) is kept, which is what
        # lets scoring keep the slices it holds in memory.
        marker = tuple(
            await self._pool.fetchrow(
                f"SELECT count(*), max(version) FROM {self._schema}.org_units WHERE tenant = $1", tenant
            )
            or ()
        )
        if cached is not None and cached[0] == marker:
            history = cached[2]
        else:
            history = await load_history(self._pool, self._schema, tenant, self._bases[tenant])
        self._cache[tenant] = (marker, now, history)
        return history

    async def at(self, tenant: str, day: date) -> OrgTree:
        return (await self.of(tenant)).at(day)


def consume_org(
    router: Any,
    *,
    settings: Any,
    group_id: str,
    metrics: Any,
    pool: Callable[[], asyncpg.Pool],
    schema: str,
    on_change: Callable[[], None],
) -> None:
    """Subscribe a service to `tempen.org`, keeping its own copy in `schema`.org_units."""
    from tempen_shared.consumer import Parsed, Record
    from tempen_shared.events import DeadLetter
    from tempen_shared.outbox import dead_letter_messages, enqueue
    from tempen_shared.subscribe import consume_topic
    from tempen_shared.topics import ORG

    def parse(record: Record) -> OrgUnitVersioned:
        return OrgUnitVersioned.model_validate_json(record.value)

    async def handle(parsed: Sequence[Parsed[OrgUnitVersioned]], dead: Sequence[DeadLetter]) -> None:
        try:
            async with pool().acquire() as conn, conn.transaction():
                changed = await store_org_units(conn, schema, [p.value for p in parsed])
                await enqueue(conn, schema, dead_letter_messages(dead))
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailableError(str(exc)) from exc
        if changed:
            on_change()

    consume_topic(
        router,
        name=f"{group_id}",
        topic=settings.topic(ORG.name),
        group_id=group_id,
        settings=settings,
        metrics=metrics,
        parse=parse,
        handle=handle,
    )
