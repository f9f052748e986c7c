"""An in-memory ScoringStore and ScoreReader: the fake the contract suite holds to the same behaviour as
PostgreSQL. It runs the same pure domain code the adapter runs (`plan_changes`, `SliceState.advance`,
`rescore`) and scores on every batch, as the adapter does with no tick interval; realigning and the org
versions (`org_at`) are the adapter's alone: the fake rolls every slice up against the configured tree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tempen_scoring.domain.incremental import SliceState, StoredRow, deltas_by_slice, rescore
from tempen_scoring.domain.rescoring import (
    IncomingContribution,
    IncomingRetraction,
    ScoreRow,
    SliceKey,
    StoredContribution,
    plan_changes,
)
from tempen_shared.clock import utc_now
from tempen_shared.events import DeadLetter
from tempen_shared.positions import Claim, Partition, Position
from tempen_shared.tenancy.loader import Catalog
from tests.fake_positions import InMemoryPositions


@dataclass(frozen=True, slots=True)
class _Group:
    """One stored score group: its rows by dimension, as the adapter's `score_groups` row holds them."""

    model_version: str
    period_start: datetime
    period_end: datetime
    sequence: int
    computed_at: datetime
    rows: Mapping[str, ScoreRow]


@dataclass
class InMemoryScoring:
    catalog: Catalog
    ledger: dict[tuple[str, str, str], StoredContribution] = field(default_factory=dict)
    slices: dict[SliceKey, SliceState] = field(default_factory=dict)
    groups: dict[tuple[SliceKey, str, str], _Group] = field(default_factory=dict)  # (slice, unit, scope)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    backlogs: list[bool] = field(default_factory=list)  # each batch's `backlog`, in order
    positions: InMemoryPositions = field(default_factory=InMemoryPositions)  # the adapter's `consumer_positions`

    async def claim(self, group: str, partitions: Sequence[Partition], *, cluster: str) -> dict[Partition, Claim]:
        return self.positions.claim(group, partitions, cluster=cluster)

    async def apply(
        self,
        incoming: Sequence[IncomingContribution | IncomingRetraction],
        dead_letters: Sequence[DeadLetter],
        *,
        realign: Sequence[SliceKey] = (),
        backlog: bool = False,
        positions: Sequence[Position] = (),
    ) -> tuple[int, int, int]:
        self.positions.check(positions)  # before anything changes: a fenced batch leaves nothing, as a rollback
        self.backlogs.append(backlog)
        batch = {(i.tenant, i.submission_id) for i in incoming}
        plan = plan_changes(incoming, {k: c for k, c in self.ledger.items() if k[:2] in batch})
        periods = {group.slice: period for group, period in plan.delta.periods.items()}
        per_slice = deltas_by_slice(plan.delta)
        written = 0
        for key in sorted(
            set(plan.delta.touched_slices) | set(realign), key=lambda k: (k.tenant, k.instrument, k.model, k.period)
        ):
            tenant = self.catalog.tenants[key.tenant]
            state = self.slices.get(key)
            if state is None:
                period = periods[key]
                state = SliceState.build(
                    tenant, version=0, period_start=period.start, period_end=period.end, direct={}, rows={}
                )
                self.slices[key] = state
            state.advance(tenant.org, per_slice.get(key, {}))
            changed, _tenant_index = rescore(tenant, key, state, None)
            written += self._save(key, state, changed)
        for k, stored in plan.after.items():
            if k[:2] in batch:
                self.ledger[k] = stored
        self.dead_letters.extend(dead_letters)
        self.positions.save(positions)
        return len(plan.winners), plan.ignored, written

    def _save(self, key: SliceKey, state: SliceState, changed: Sequence[tuple[ScoreRow, int]]) -> int:
        model_version = self.catalog.tenants[key.tenant].models[key.model].version
        now = utc_now()
        by_group: dict[tuple[str, str], tuple[int, dict[str, ScoreRow]]] = {}
        for row, sequence in changed:
            by_group.setdefault((row.unit, row.scope), (sequence, {}))[1][row.dimension] = row
        for (unit, scope), (sequence, rows) in by_group.items():
            self.groups[(key, unit, scope)] = _Group(
                model_version, state.period_start, state.period_end, sequence, now, rows
            )
            state.rows[(unit, scope)] = {
                d: StoredRow(r.respondents, r.publishable, r.index, r.standard_error, r.favourable_pct, sequence)
                for d, r in rows.items()
            }
        return len(changed)

    async def unit_series(
        self, tenant: str, unit: str, *, model: str | None, scope: str | None, dimension: str | None
    ) -> Sequence[Mapping[str, Any]]:
        out: list[dict[str, Any]] = []
        for (key, group_unit, group_scope), group in self.groups.items():
            if (key.tenant, group_unit) != (tenant, unit) or model not in (None, key.model):
                continue
            if scope not in (None, group_scope):
                continue
            for d, row in group.rows.items():
                if dimension in (None, d) and row.respondents > 0:
                    out.append(
                        {
                            "instrument": key.instrument,
                            "model": key.model,
                            "model_version": group.model_version,
                            "dimension": d,
                            "scope": group_scope,
                            "period": key.period,
                            "period_start": group.period_start,
                            "period_end": group.period_end,
                            "respondents": row.respondents,
                            "publishable": row.publishable,
                            "suppression_reason": row.suppression_reason,
                            "index": row.index,
                            "standard_error": row.standard_error,
                            "favourable_pct": row.favourable_pct,
                            "details": dict(row.details),
                            "computed_at": group.computed_at,
                        }
                    )
        return sorted(out, key=lambda r: (r["model"], r["dimension"], r["scope"], r["period_start"]))

    async def group_statuses(self, tenant: str, instrument: str, periods: Sequence[str]) -> Sequence[Mapping[str, Any]]:
        out: list[dict[str, Any]] = []
        for (key, unit, scope), group in self.groups.items():
            if (key.tenant, key.instrument) != (tenant, instrument) or key.period not in periods:
                continue
            rows = group.rows.values()
            if any(r.publishable for r in rows):
                status = "published"
            else:
                answered = [r.suppression_reason for r in rows if r.respondents > 0 and r.suppression_reason]
                reasons = answered or [r.suppression_reason for r in rows if r.suppression_reason]
                status = min(reasons) if reasons else "no_responses"
            out.append({"model": key.model, "period": key.period, "unit": unit, "scope": scope, "status": status})
        return out

    async def measured_periods(self, tenant: str, instrument: str, periods: Sequence[str]) -> set[tuple[str, str]]:
        return {
            (key.model, key.period)
            for key in self.slices
            if (key.tenant, key.instrument) == (tenant, instrument) and key.period in periods
        }

    async def subtree_figures(
        self, tenant: str, instrument: str, model: str, periods: Sequence[str], units: Sequence[str]
    ) -> Sequence[Mapping[str, Any]]:
        return [
            {
                "period": key.period,
                "unit": unit,
                "dimension": d,
                "respondents": row.respondents,
                "publishable": row.publishable,
                "suppression_reason": row.suppression_reason,
                "index": row.index,
            }
            for (key, unit, scope), group in self.groups.items()
            if (key.tenant, key.instrument, key.model, scope) == (tenant, instrument, model, "subtree")
            and key.period in periods
            and unit in units
            for d, row in group.rows.items()
            if row.respondents > 0
        ]

    async def tenant_scores(
        self,
        tenant: str,
        instrument: str,
        model: str,
        periods: Sequence[str],
        *,
        scope: str | None,
        units: Sequence[str] | None,
    ) -> Sequence[Mapping[str, Any]]:
        return [
            {
                "unit": unit,
                "scope": group_scope,
                "period": key.period,
                "dimension": d,
                "publishable": row.publishable,
                "suppression_reason": row.suppression_reason,
                # As the adapter's query: a hidden group's figures never leave the store.
                "index": row.index if row.publishable else None,
                "respondents": row.respondents if row.publishable else None,
            }
            for (key, unit, group_scope), group in self.groups.items()
            if (key.tenant, key.instrument, key.model) == (tenant, instrument, model)
            and key.period in periods
            and scope in (None, group_scope)
            and (units is None or unit in units)
            for d, row in group.rows.items()
            if row.respondents > 0
        ]
