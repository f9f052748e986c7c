"""A backtest: what the alert rules would have done with a tenant's score history, notifying nobody.

Pure: the history comes in (from alerts' copy of the scores, scoring's API, or a synthetic one), each
series the policy alerts on is replayed with `evaluate_history`, and every alert that would have opened,
escalated or resolved comes out with whom it would have reached. Alerts' API
(`POST /v1/tenants/{tenant}/alerts/backtest`) and `tempen alerts backtest --demo` both run it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tempen_alerts.domain.routing import levels_available, recipients
from tempen_alerts.domain.rules import Escalate, OpenAlert, PeriodScore, Transition, evaluate_history
from tempen_shared.tenancy.loader import Tenant
from tempen_shared.tenancy.models import AlertPolicy, Dimension

Change = Literal["opened", "escalated", "escalated to HR", "resolved"]
CHANGES: tuple[Change, ...] = ("opened", "escalated", "escalated to HR", "resolved")


@dataclass(frozen=True, slots=True, order=True)
class SeriesId:
    unit: str
    instrument: str
    model: str
    dimension: str


History = dict[SeriesId, list[PeriodScore]]


@dataclass(frozen=True, slots=True)
class BacktestRow:
    series: SeriesId
    unit_name: str
    dimension_name: str
    transition: Transition
    change: Change
    level: int  # the level the alert sits with after the change
    told: str  # who the main notification would have gone to


@dataclass(frozen=True, slots=True)
class Backtest:
    rows: tuple[BacktestRow, ...]
    replayed: int  # series the policy alerts on, each replayed
    left_out: int  # series the policy's alert_on leaves out
    alert_on: str  # the policy's alert_on, in words

    def counts(self) -> dict[Change, int]:
        return {change: sum(1 for r in self.rows if r.change == change) for change in CHANGES}

    @property
    def still_active(self) -> int:
        """Alerts opened and not resolved by the end of the history."""
        opened = {(r.series, r.transition.period) for r in self.rows if r.change == "opened"}
        return len(opened) - self.counts()["resolved"]


def backtest(
    tenant: Tenant,
    history: Mapping[SeriesId, Sequence[PeriodScore]],
    policy: AlertPolicy,
    *,
    assume_acknowledged: bool = True,
) -> Backtest:
    """Every state change the rules make on each series the policy alerts on (`alert_on`), in series then
    time order."""
    rows: list[BacktestRow] = []
    replayed = 0
    for series in sorted(history):
        if not policy.alerts_on(tenant.models.get(series.model), series.dimension):
            continue
        replayed += 1
        levels = levels_available(tenant.org, series.unit)
        level = 0
        transitions = evaluate_history(
            history[series], policy, levels_available=levels, assume_acknowledged=assume_acknowledged
        )
        for transition in transitions:
            decision = transition.decision
            change: Change
            if isinstance(decision, OpenAlert):
                change, level = "opened", decision.level
            elif isinstance(decision, Escalate):
                change, level = ("escalated to HR" if decision.to_hr else "escalated"), decision.to_level
            else:
                change = "resolved"
            rows.append(
                BacktestRow(
                    series=series,
                    unit_name=_unit_name(tenant, series.unit),
                    dimension_name=_dimension_name(tenant, series),
                    transition=transition,
                    change=change,
                    level=level,
                    told=_told(tenant, series.unit, level),
                )
            )
    return Backtest(rows=tuple(rows), replayed=replayed, left_out=len(history) - replayed, alert_on=_alert_on(policy))


def backtest_json(tenant: Tenant, result: Backtest) -> dict[str, Any]:
    """The backtest as alerts' API answers it: each row as `tempen alerts backtest` prints it, and the totals.

    `judged_on` is the day the period was judged in the tenant's time zone; `judged_at` the instant."""
    zone = tenant.config.zone
    counts = result.counts()
    return {
        "tenant": tenant.id,
        "tenant_name": tenant.config.name,
        "rows": [
            {
                "unit": row.series.unit,
                "unit_name": row.unit_name,
                "instrument": row.series.instrument,
                "model": row.series.model,
                "dimension": row.series.dimension,
                "dimension_name": row.dimension_name,
                "period": row.transition.period,
                "judged_at": row.transition.judged_at.isoformat(),
                "judged_on": row.transition.judged_at.astimezone(zone).date().isoformat(),
                "change": row.change,
                "level": row.level,
                "told": row.told,
                "reason": row.transition.decision.reason,
            }
            for row in result.rows
        ],
        "summary": {
            "series_replayed": result.replayed,
            "series_left_out": result.left_out,
            "alert_on": result.alert_on,
            "opened": counts["opened"],
            "escalated": counts["escalated"],
            "handed_to_hr": counts["escalated to HR"],
            "resolved": counts["resolved"],
            "still_active": result.still_active,
        },
    }


def _alert_on(policy: AlertPolicy) -> str:
    if isinstance(policy.alert_on, str):
        return policy.alert_on
    return "; ".join(f"{model}: {', '.join(ids)}" for model, ids in policy.alert_on.items())


def _unit_name(tenant: Tenant, unit: str) -> str:
    found = tenant.org.units.get(unit)
    return found.name if found else f"{unit} (not in the org)"


def _dimension_name(tenant: Tenant, series: SeriesId) -> str:
    model = tenant.models.get(series.model)
    if model is None:
        return series.dimension
    dimensions: list[Dimension] = [*model.dimensions, *([model.total] if model.total else [])]
    for dimension in dimensions:
        if dimension.id == series.dimension:
            return dimension.name_sv if tenant.config.notifications.language == "sv" else dimension.name_en
    return series.dimension


def _told(tenant: Tenant, unit: str, level: int) -> str:
    if level < 1:
        return ""
    main = recipients(tenant.org, unit, level=level, inform_unit_manager=False, hr_email=tenant.config.hr_email)[0]
    return main.name if main.role == "next_level" else f"HR ({main.email})"
