"""A trend chart's geometry, computed here and drawn by a template as inline SVG: no script, no library.

Pure. The index scale is fixed at 0-100, the scale every figure is on, so two units' charts compare at
a glance and a small change never looks like a cliff. Periods are spaced evenly in time order. A
period with no published figure (too few respondents, or derivable by subtraction) is a gap in the
line with a label, never a point: nothing about a hidden group is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 640
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 56  # room for the y labels, and the period labels below
Y_TICKS = (0, 25, 50, 75, 100)


@dataclass(frozen=True, slots=True)
class ChartPoint:
    period: str
    index: float | None  # None: nothing published for the period
    shown: bool  # False: hidden by the anonymity rules (a labelled gap)


@dataclass(frozen=True, slots=True)
class Marker:
    x: float
    y: float
    period: str
    index: float


@dataclass(frozen=True, slots=True)
class Gap:
    x: float
    period: str


@dataclass(frozen=True, slots=True)
class TrendChart:
    width: int
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    y_ticks: tuple[tuple[int, float], ...]  # (value, y)
    x_labels: tuple[tuple[str, float], ...]  # (period, x), thinned so they never overlap
    lines: tuple[str, ...]  # SVG polyline points, one per run of published periods
    markers: tuple[Marker, ...]
    gaps: tuple[Gap, ...]
    threshold_y: float | None


def y_of(value: float) -> float:
    span = HEIGHT - TOP - BOTTOM
    return round(TOP + span * (1 - max(0.0, min(100.0, value)) / 100), 1)


def trend_chart(points: Sequence[ChartPoint], *, threshold: float | None) -> TrendChart:
    n = len(points)
    span = WIDTH - LEFT - RIGHT
    xs = [round(LEFT + (span * (i + 0.5) / n if n else 0), 1) for i in range(n)]
    lines: list[str] = []
    run: list[str] = []
    markers: list[Marker] = []
    gaps: list[Gap] = []
    for x, point in zip(xs, points, strict=True):
        if point.shown and point.index is not None:
            y = y_of(point.index)
            run.append(f"{x},{y}")
            markers.append(Marker(x, y, point.period, point.index))
        else:
            if not point.shown:
                gaps.append(Gap(x, point.period))
            if run:
                lines.append(" ".join(run))
                run = []
    if run:
        lines.append(" ".join(run))
    every = max(1, -(-n // 8))  # at most eight period labels under the axis
    labels = tuple((p.period, x) for i, (x, p) in enumerate(zip(xs, points, strict=True)) if (n - 1 - i) % every == 0)
    return TrendChart(
        width=WIDTH,
        height=HEIGHT,
        plot_left=LEFT,
        plot_right=WIDTH - RIGHT,
        plot_top=TOP,
        plot_bottom=HEIGHT - BOTTOM,
        y_ticks=tuple((v, y_of(v)) for v in Y_TICKS),
        x_labels=labels,
        lines=tuple(lines),
        markers=tuple(markers),
        gaps=tuple(gaps),
        threshold_y=y_of(threshold) if threshold is not None else None,
    )
