"""Builders for the alert unit tests: months of scores, alerts and org trees with literal values."""

from __future__ import annotations

from datetime import UTC, datetime

from tempen_alerts.domain.rules import AlertSnapshot, PeriodScore
from tempen_shared.tenancy.org import Manager, OrgTree, OrgUnit

FIRST_YEAR = 2026
SUPPRESSED = None


def month_period(offset: int) -> tuple[str, datetime]:
    """The period name and end of the month `offset` months after January of FIRST_YEAR."""
    year, month = divmod(offset, 12)
    next_year, next_month = divmod(offset + 1, 12)
    end = datetime(FIRST_YEAR + next_year, next_month + 1, 1, tzinfo=UTC)
    return f"{FIRST_YEAR + year}-{month + 1:02d}", end


def score(
    offset: int,
    index: float | None,
    *,
    respondents: int = 8,
    standard_error: float | None = None,
    tenant_index: float | None = None,
) -> PeriodScore:
    period, end = month_period(offset)
    return PeriodScore(
        period=period,
        period_end=end,
        index=index,
        respondents=respondents if index is not None else 2,
        standard_error=standard_error if index is not None else None,
        tenant_index=tenant_index,
    )


def months(
    *indices: float | None, standard_error: float | None = None, tenant_index: float | None = None
) -> list[PeriodScore]:
    """One score per month from January, in order; None is a period suppressed for anonymity."""
    return [
        score(offset, index, standard_error=standard_error, tenant_index=tenant_index)
        for offset, index in enumerate(indices)
    ]


def open_alert(
    history: list[PeriodScore],
    *,
    opened_offset: int,
    level: int = 1,
    acknowledged: bool = True,
) -> AlertSnapshot:
    """An alert that opened (and sits at `level` since) the period `opened_offset` of `history`.

    Acknowledged unless told otherwise, so only the score rules are in play.
    """
    opened = history[opened_offset]
    assert opened.index is not None
    when = opened.period_end
    return AlertSnapshot(
        state="acknowledged" if acknowledged else ("escalated" if level > 1 else "open"),
        level=level,
        opened_period=opened.period,
        opened_at=when,
        baseline_period=opened.period,
        baseline_index=opened.index,
        acknowledged_at=when if acknowledged else None,
        last_escalated_at=when if level > 1 else None,
    )


def manager(name: str) -> Manager:
    return Manager(name=name, email=f"{name.lower()}@kommun.example")


def unit(unit_id: str, parent: str | None, boss: Manager | None) -> OrgUnit:
    return OrgUnit(id=unit_id, name=unit_id.title(), parent=parent, manager=boss)


def tree(*units: OrgUnit) -> OrgTree:
    return OrgTree.build(units)
