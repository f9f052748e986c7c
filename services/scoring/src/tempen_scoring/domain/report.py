"""The HME report: SKR's HME total index and its three sub-indices for the municipality and each
förvaltning, per survey round, as municipalities report them to Kolada.

Pure: it assembles rows from the figures scoring has stored, and never decides anything about
anonymity itself. A row shows the index, the respondents and the response rate only when scoring
published that group (domain/anonymity.py); otherwise it carries the reason and nothing else, no size.
Every row shown is a published subtree group of one period and one org tree, so nothing can be
computed from the report (by subtracting förvaltningar from the municipality, say) that the published
groups do not already allow: the differencing rule covers the set of all published groups, and this is
a subset of it.

The municipality is the org tree's root; a förvaltning is a child of the root (the first level below
the kommundirektör: förvaltning, sektor, or in a kommun with one förvaltning its verksamhetsområden).
The org model has no level labels, so the tree's shape decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tempen_shared.tenancy.org import OrgTree

HME_MODEL = "hme"
# Kolada's KPIs for HME of the whole municipality ("Medarbetarengagemang (HME) totalt kommunen"),
# from Kolada's KPI list as of 2021 (docs/portal.md, "HME report"). Kolada has no KPI per förvaltning:
# its HME KPIs by activity (U15200 grundskola, ...) follow SKR's verksamhet categories, not a
# municipality's own förvaltningar, so the förvaltning rows carry no KPI id.
KOLADA_KPIS: Mapping[str, str] = {
    "hme": "U00200",
    "motivation": "U00201",
    "ledarskap": "U00202",
    "styrning": "U00203",
}

Level = Literal["municipality", "forvaltning"]


@dataclass(frozen=True, slots=True)
class StoredFigure:
    """One dimension of a stored subtree group, as scoring wrote it."""

    respondents: int
    publishable: bool
    reason: str | None
    index: float | None


@dataclass(frozen=True, slots=True)
class ReportRow:
    unit: str
    unit_name: str
    level: Level
    published: bool
    reason: str | None = None  # why not published; None when published
    respondents: int | None = None  # only when published
    response_rate: float | None = None  # only when published and every unit's headcount is known
    indices: Mapping[str, float | None] | None = None  # only when published; None for a dimension nobody answered


def report_units(tree: OrgTree) -> list[tuple[str, Level]]:
    """The municipality (the root) and then its förvaltningar (the root's children), in tree order."""
    return [(tree.root, "municipality"), *((child, "forvaltning") for child in tree.children[tree.root])]


def report_rows(
    tree: OrgTree, figures: Mapping[str, Mapping[str, StoredFigure]], indices: Sequence[str]
) -> list[ReportRow]:
    """The report's rows for one round: `figures` maps a unit to its subtree group's stored dimensions;
    a unit with none had no respondents. `indices` are the dimension ids to report (total first)."""
    rows: list[ReportRow] = []
    for unit, level in report_units(tree):
        name = tree.units[unit].name
        stored = figures.get(unit, {})
        if not stored:
            rows.append(ReportRow(unit, name, level, published=False, reason="no_responses"))
            continue
        # The dimensions of a group share its verdict; should they ever differ, hiding is the safe side.
        if not all(f.publishable for f in stored.values()):
            reason = next((f.reason for f in stored.values() if not f.publishable and f.reason), "below_minimum")
            rows.append(ReportRow(unit, name, level, published=False, reason=reason))
            continue
        respondents = max(f.respondents for f in stored.values())
        rows.append(
            ReportRow(
                unit,
                name,
                level,
                published=True,
                respondents=respondents,
                response_rate=response_rate(tree, unit, "subtree", respondents),
                indices={d: stored[d].index if d in stored else None for d in indices},
            )
        )
    return rows


def response_rate(tree: OrgTree | None, unit: str, scope: str, respondents: int) -> float | None:
    """Respondents over headcount, where the org in force then gives a headcount for every unit the group covers."""
    if tree is None or unit not in tree:
        return None
    units = list(tree.subtree(unit)) if scope == "subtree" else [unit]
    counts = [tree.units[u].headcount for u in units]
    if any(c is None for c in counts):
        return None
    headcount = sum(c for c in counts if c is not None)
    return round(respondents / headcount, 4) if headcount > 0 else None
