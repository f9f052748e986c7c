"""What the overview pages (My units, HR overview) show, computed from scoring's answer. Pure.

The pages never compute a figure of their own: every number shown is one scoring marked publishable
for exactly that unit and period. Summing, averaging or subtracting units here could rebuild a group the
anonymity rules hide (a parent minus its shown children), so a hidden cell stays "för få svar" and a
förvaltning's row is scoring's figure for the förvaltning, never a total of the rows below it.

Colour bands: SKR publishes no cut-offs for HME. The field notes (shared/field/hme-and-municipal-surveys.md,
section 3.3) propose green at 75 or more (Region Gävleborg's target, near the national average of 78-79),
yellow 65 to 74.9 and red below 65, the red-yellow-green that HME suppliers such as Zondera show per group.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from tempen_shared.tenancy.org import OrgTree

Band = Literal["high", "middle", "low"]
HIGH_FROM = 75.0
MIDDLE_FROM = 65.0

SPARK_WIDTH = 96
SPARK_HEIGHT = 24
SPARK_PAD = 3


def band_of(index: float) -> Band:
    if index >= HIGH_FROM:
        return "high"
    return "middle" if index >= MIDDLE_FROM else "low"


@dataclass(frozen=True, slots=True)
class Cell:
    """One unit's figure for one dimension and period: an index, hidden ("för få svar"), or nothing
    (no answers, or not measured)."""

    index: float | None
    hidden: bool

    @property
    def band(self) -> Band | None:
        return band_of(self.index) if self.index is not None else None


EMPTY = Cell(None, False)
HIDDEN = Cell(None, True)


@dataclass(frozen=True, slots=True)
class Sparkline:
    """A small trend as inline SVG: runs of published periods as polylines, a hidden period a gap."""

    width: int
    height: int
    lines: tuple[str, ...]
    last: tuple[float, float] | None  # the newest published point, marked
    cells: tuple[tuple[str, Cell], ...]  # (period, cell), oldest first: the text alternative


def sparkline(cells: Sequence[tuple[str, Cell]]) -> Sparkline:
    """Periods spaced evenly, the index on a fixed 0-100 scale (as the alert page's chart)."""
    n = len(cells)
    span_x = SPARK_WIDTH - 2 * SPARK_PAD
    span_y = SPARK_HEIGHT - 2 * SPARK_PAD
    lines: list[str] = []
    run: list[str] = []
    last: tuple[float, float] | None = None
    for i, (_, cell) in enumerate(cells):
        if cell.index is None:
            if run:
                lines.append(" ".join(run))
                run = []
            continue
        x = round(SPARK_PAD + (span_x * i / (n - 1) if n > 1 else span_x / 2), 1)
        y = round(SPARK_PAD + span_y * (1 - max(0.0, min(100.0, cell.index)) / 100), 1)
        run.append(f"{x},{y}")
        last = (x, y)
    if run:
        lines.append(" ".join(run))
    return Sparkline(SPARK_WIDTH, SPARK_HEIGHT, tuple(lines), last, tuple(cells))


@dataclass(frozen=True, slots=True)
class Row:
    unit: str
    name: str
    depth: int  # below the first unit listed on the page's tree (0: the top one)
    forvaltning: str | None  # the unit's förvaltning (the level below the root); None for the root
    cells: Mapping[str, Cell]  # dimension -> the chosen period's cell
    trends: Mapping[str, Sparkline]  # dimension -> its sparkline, when periods were asked for
    respondents: int | None  # where the group is published in the chosen period
    response_rate: float | None  # where, besides, the org gives a headcount for every unit it covers


def forvaltning_of(tree: OrgTree, unit: str) -> str | None:
    """The förvaltning a unit belongs to: its ancestor (or itself) one level below the root."""
    if unit == tree.root or unit not in tree:
        return None
    current = unit
    while (parent := tree.units[current].parent) is not None and parent != tree.root:
        current = parent
    return current


def in_tree_order(tree: OrgTree, roots: Iterable[str]) -> list[str]:
    """The units under `roots`, each parent before its children, in the org file's order, once each."""
    seen: set[str] = set()
    out: list[str] = []
    for root in roots:
        stack = [root]
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            out.append(current)
            stack.extend(reversed(tree.children[current]))
    return out


def page_of(items: Sequence[str], number: int, size: int) -> tuple[list[str], int]:
    """Page `number` (from 1, clamped to the pages there are) of `items`, and how many pages there are."""
    pages = max(1, -(-len(items) // size))
    number = min(max(1, number), pages)
    return list(items[(number - 1) * size : number * size]), pages


def rows_of(
    answer: Mapping[str, Any], tree: OrgTree, units: Sequence[str], dimensions: Sequence[str], *, trend: bool
) -> list[Row]:
    """The rows of `units`, in that order, from scoring's answer (GET .../scores, one scope). A unit
    scoring has no figures for gets empty cells; a dimension scoring marks hidden is HIDDEN, whatever
    else the answer held."""
    periods: list[str] = list(answer.get("periods", []))
    chosen = periods[-1] if periods else None
    by_unit = {u["unit"]: {p["period"]: p for p in u.get("periods", [])} for u in answer.get("units", [])}
    top = min((tree.depths.get(u, 0) for u in units), default=0)
    rows: list[Row] = []
    for unit in units:
        series = by_unit.get(unit, {})
        point = series.get(chosen) if chosen is not None else None
        cells = {d: _cell(point, d) for d in dimensions}
        trends = {d: sparkline([(p, _cell(series.get(p), d)) for p in periods]) for d in dimensions} if trend else {}
        published = point is not None and point.get("published") is True
        rows.append(
            Row(
                unit=unit,
                name=tree.units[unit].name if unit in tree else unit,
                depth=tree.depths.get(unit, 0) - top,
                forvaltning=forvaltning_of(tree, unit),
                cells=cells,
                trends=trends,
                respondents=point.get("respondents") if published and point is not None else None,
                response_rate=point.get("response_rate") if published and point is not None else None,
            )
        )
    return rows


def _cell(point: Mapping[str, Any] | None, dimension: str) -> Cell:
    if point is None:
        return EMPTY
    found = point.get("dimensions", {}).get(dimension)
    if not isinstance(found, Mapping):
        return EMPTY
    if found.get("suppressed") or not isinstance(found.get("index"), int | float):
        return HIDDEN if found.get("suppressed") else EMPTY
    return Cell(float(found["index"]), False)


def age_in_days(opened_at: str | None, now: datetime) -> int | None:
    if not opened_at:
        return None
    try:
        opened = datetime.fromisoformat(opened_at)
    except ValueError:
        return None
    return max(0, (now - opened).days)


def plan_status(alert: Mapping[str, Any]) -> str:
    """The alert's plan as a phrase key: the plan's own status where alerts gives one, else whether an
    action plan was written with the acknowledgement."""
    status = alert.get("plan_status")  # alerts' list rows carry the current plan revision's status
    if status in ("planned", "in_progress", "done"):
        return f"plan_{status}"
    return "overview_plan_written" if alert.get("action_plan") else "overview_plan_none"
