"""The trend chart's geometry: hidden periods are gaps, never points; the scale is always 0-100."""

from __future__ import annotations

from tempen_portal.domain.chart import HEIGHT, ChartPoint, trend_chart, y_of


def test_a_hidden_period_breaks_the_line_and_is_labelled_with_no_point() -> None:
    points = [
        ChartPoint("2026-01", 60.0, True),
        ChartPoint("2026-02", 55.0, True),
        ChartPoint("2026-03", None, False),
        ChartPoint("2026-04", 40.0, True),
    ]
    chart = trend_chart(points, threshold=50.0)
    assert len(chart.lines) == 2, "two runs either side of the gap"
    assert [m.period for m in chart.markers] == ["2026-01", "2026-02", "2026-04"]
    assert [g.period for g in chart.gaps] == ["2026-03"]
    assert chart.threshold_y == y_of(50.0)


def test_the_scale_is_zero_to_one_hundred_whatever_the_figures() -> None:
    chart = trend_chart([ChartPoint("2026-01", 71.0, True), ChartPoint("2026-02", 72.0, True)], threshold=None)
    assert [v for v, _ in chart.y_ticks] == [0, 25, 50, 75, 100]
    assert y_of(0) > y_of(100)  # SVG's y grows downwards
    assert y_of(0) < HEIGHT
    assert chart.markers[0].y - chart.markers[1].y < 3, "a one-point change stays a small step"


def test_at_most_eight_period_labels_and_the_latest_always_among_them() -> None:
    points = [ChartPoint(f"2025-{m:02d}", 50.0, True) for m in range(1, 13)] + [
        ChartPoint(f"2026-{m:02d}", 50.0, True) for m in range(1, 13)
    ]
    chart = trend_chart(points, threshold=None)
    labels = [p for p, _ in chart.x_labels]
    assert len(labels) <= 8
    assert labels[-1] == "2026-12"
