"""`tempen alerts calibrate`: how the alert rules do on simulated units of 5 to 50 respondents.

The simulation and the rules are alerts' own (`tempen_alerts.domain.calibration`, `rules`); this module
chooses the policies to compare, shows the progress, and prints the table, the verdict on the targets
and, with --chart, an SVG chart. docs/alerts.md ("Small units: the calibration study") shows a run.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tempen.commands.config_check import CONFIG_DIR_ENV, default_config_dir
from tempen_alerts.domain.calibration import DROPS, SIZES, Outcome, Study, UnitModel, study
from tempen_shared.tenancy.loader import ConfigError, load_catalog
from tempen_shared.tenancy.models import AlertPolicy

EXIT_OK = 0
EXIT_INVALID = 2
# The targets (docs/alerts.md): at most 1 false alert per 50 unit-years at every size; a
# sustained 20-point drop caught within 3 periods in 90 % of units of 8 or more respondents, 70 % of 5-7.
MAX_FALSE_ALERTS = 1 / 50
TARGET_DROP = 20
SMALL_SIZES = range(5, 8)
CAUGHT_SMALL = 0.70
CAUGHT_LARGER = 0.90


def policies_to_compare(tenant_policy: tuple[str, AlertPolicy] | None = None) -> dict[str, AlertPolicy]:
    """The default (pooled), the per-period guard it replaced, and no guard at all; a tenant's, if asked."""
    default = AlertPolicy()
    compared = {
        "pooled (default)": default,
        "each period (before)": default.model_copy(update={"detection": "each_period"}),
        "no noise guard": default.model_copy(update={"detection": "each_period", "noise_z": 0.0}),
    }
    if tenant_policy is not None:
        name, policy = tenant_policy
        compared[f"{name}'s policy"] = policy
    return compared


def verdict(outcomes: Sequence[Outcome], caught_within: int) -> list[str]:
    """Each target in words: met, or missed where and by how much."""
    lines: list[str] = []
    for level in outcomes[0].false_alerts_per_unit_year if outcomes else ():
        worst = max(outcomes, key=lambda o: o.false_alerts_per_unit_year[level])
        rate = worst.false_alerts_per_unit_year[level]
        met = "met" if rate <= MAX_FALSE_ALERTS else "MISSED"
        lines.append(
            f"false alerts at most 1 per 50 unit-years at every size, units at {level:g}: {met}"
            f" (worst {rate:.3f} per unit-year, {worst.size} respondents)"
        )
    for label, sizes, target in (
        ("8 or more", [o for o in outcomes if o.size >= 8], CAUGHT_LARGER),
        ("5 to 7", [o for o in outcomes if o.size in SMALL_SIZES], CAUGHT_SMALL),
    ):
        if not sizes:
            continue
        short = [o for o in sizes if o.caught.get(TARGET_DROP, 0.0) < target]
        if not short:
            lines.append(
                f"a {TARGET_DROP}-point drop caught within {caught_within} periods in {target:.0%} of units of "
                f"{label}: met"
            )
            continue
        misses = ", ".join(f"{o.size}: {o.caught.get(TARGET_DROP, 0.0):.0%}" for o in short)
        lines.append(
            f"a {TARGET_DROP}-point drop caught within {caught_within} periods in {target:.0%} of units of {label}: "
            f"MISSED at {misses}"
        )
    return lines


def render(console: Console, results: dict[str, list[Outcome]], settings: Study, model: UnitModel) -> None:
    levels = settings.quiet_levels
    console.print(
        f"n: respondents the unit has; SE: of one period, as scoring reports it (median); hidden: periods below "
        f"the minimum group size; reach: units with 2 published periods among the first {settings.caught_within} "
        "after a drop, the most any rule on published scores can catch in time; false @L: alerts per unit-year in "
        f"units that stay at true level L; -D: share of "
        f"units whose drop of D points from {model.baseline:g} is caught within {settings.caught_within} periods; "
        f"periods: mean periods until a {TARGET_DROP}-point drop is caught.",
        soft_wrap=True,
    )
    for name, outcomes in results.items():
        table = Table(title=name, title_justify="left")
        for column in ("n", "SE", "hidden", "reach", *(f"false @{level:g}" for level in levels)):
            table.add_column(column, justify="right")
        for drop in sorted(outcomes[0].caught) if outcomes else ():
            table.add_column(f"-{drop}", justify="right")
        table.add_column("periods", justify="right")
        for outcome in outcomes:
            delay = outcome.periods_to_catch.get(TARGET_DROP)
            table.add_row(
                str(outcome.size),
                f"{outcome.median_standard_error:.1f}" if outcome.median_standard_error is not None else "-",
                f"{outcome.suppressed_share:.0%}",
                f"{outcome.reachable:.0%}",
                *(f"{outcome.false_alerts_per_unit_year[level]:.3f}" for level in levels),
                *(f"{outcome.caught[drop]:.0%}" for drop in sorted(outcome.caught)),
                f"{delay:.1f}" if delay is not None else "never",
            )
        console.print(table)
        for line in verdict(outcomes, settings.caught_within):
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
        console.print()
    console.print(
        f"{settings.units} simulated units per size and scenario; unchanged units watched for "
        f"{settings.baseline_years} years of {settings.periods_per_year} periods; drops from {model.baseline:g} after "
        f"{settings.drop_after} periods; response rate {model.response_rates[0]:.0%}-{model.response_rates[1]:.0%}; "
        f"turnover {model.turnover:.1%} a period; minimum group size {model.min_group_size}; seed {settings.seed}.",
        soft_wrap=True,
    )


def chart(results: dict[str, list[Outcome]], settings: Study) -> str:
    """Two panels as one SVG: the share of 20-point drops caught in time, and false alerts at the lowest
    unchanged level, by unit size, one line per policy, the targets dashed. Text alternative: the table."""
    width, height, pad = 860, 400, 56
    panel = (width - 3 * pad) / 2
    sizes = [o.size for o in next(iter(results.values()))]
    colours = ("#0b6e4f", "#b5651d", "#6c4f9c", "#1f5fa8")
    level = min(settings.quiet_levels)
    worst_false = max(
        [MAX_FALSE_ALERTS * 2]
        + [o.false_alerts_per_unit_year[level] for outcomes in results.values() for o in outcomes]
    )

    def x(left: float, index: int) -> float:
        return left + index * panel / max(1, len(sizes) - 1)

    bottom = height - 96  # room below the plots for the sizes, the axis title and the legend

    def y(share: float) -> float:
        return pad + (1 - share) * (bottom - pad)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        'aria-labelledby="title desc" font-family="sans-serif" font-size="12">',
        f'<title id="title">Alert rules on simulated units: {TARGET_DROP}-point drops caught within '
        f"{settings.caught_within} periods, and false alerts per unit-year, by unit size</title>",
        '<desc id="desc">One line per policy; dashed lines are the targets. The table in docs/alerts.md holds every '
        "figure.</desc>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    panels: list[tuple[float, str, Callable[[Outcome], float], float, list[tuple[int, float]]]] = [
        (
            pad,
            f"{TARGET_DROP}-point drop caught within {settings.caught_within} periods",
            lambda o: o.caught.get(TARGET_DROP, 0.0),
            1.0,
            [(s, CAUGHT_SMALL if s in SMALL_SIZES else CAUGHT_LARGER) for s in sizes],
        ),
        (
            2 * pad + panel,
            f"false alerts per unit-year, unchanged units at {level:g}",
            lambda o: o.false_alerts_per_unit_year[level],
            worst_false,
            [(s, MAX_FALSE_ALERTS) for s in sizes],
        ),
    ]
    for left, heading, value, scale, targets in panels:
        parts.append(f'<text x="{left}" y="{pad - 24}" font-weight="bold">{escape(heading)}</text>')
        parts.append(
            f'<line x1="{left}" y1="{y(0)}" x2="{left + panel}" y2="{y(0)}" stroke="#444"/>'
            f'<line x1="{left}" y1="{y(0)}" x2="{left}" y2="{y(1)}" stroke="#444"/>'
        )
        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            label = f"{tick:.0%}" if scale == 1.0 else f"{tick * scale:.3f}"
            parts.append(
                f'<text x="{left - 6}" y="{y(tick) + 4}" text-anchor="end">{label}</text>'
                f'<line x1="{left}" y1="{y(tick)}" x2="{left + panel}" y2="{y(tick)}" stroke="#ddd"/>'
            )
        for index, size in enumerate(sizes):
            parts.append(f'<text x="{x(left, index)}" y="{y(0) + 16}" text-anchor="middle">{size}</text>')
        parts.append(
            f'<text x="{left + panel / 2}" y="{y(0) + 34}" text-anchor="middle">respondents in the unit</text>'
        )
        target_points = " ".join(f"{x(left, i)},{y(t / scale)}" for i, (_, t) in enumerate(targets))
        parts.append(f'<polyline points="{target_points}" fill="none" stroke="#c00" stroke-dasharray="5,4"/>')
        if left == pad:  # the ceiling anonymity sets: units with two published periods in time
            reach = " ".join(f"{x(left, i)},{y(o.reachable)}" for i, o in enumerate(next(iter(results.values()))))
            parts.append(f'<polyline points="{reach}" fill="none" stroke="#777" stroke-dasharray="2,3"/>')
        for colour, outcomes in zip(colours, results.values(), strict=False):
            points = " ".join(f"{x(left, i)},{y(min(1.0, value(o) / scale))}" for i, o in enumerate(outcomes))
            parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
            parts.extend(
                f'<circle cx="{x(left, i)}" cy="{y(min(1.0, value(o) / scale))}" r="3" fill="{colour}"/>'
                for i, o in enumerate(outcomes)
            )
    for row, (colour, name) in enumerate(zip(colours, results, strict=False)):
        parts.append(
            f'<rect x="{pad + row * 190}" y="{height - 38}" width="14" height="4" fill="{colour}"/>'
            f'<text x="{pad + row * 190 + 20}" y="{height - 32}">{escape(name)}</text>'
        )
    parts.append(
        f'<text x="{pad}" y="{height - 10}" fill="#c00">- - target</text>'
        f'<text x="{pad + 90}" y="{height - 10}" fill="#555">··· the most a rule on published scores can catch '
        "(units with 2 periods at or above the minimum group size in time)</text></svg>"
    )
    return "\n".join(parts) + "\n"


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = actions.add_parser(
        "calibrate",
        help="simulate units of 5-50 respondents and report false alerts and caught drops per policy",
        description="Simulate units of 5 to 50 respondents (a lasting person effect plus answer noise on the "
        "1-5 scale, response rates of 60-95 %%, people coming and going), with no change and with sustained "
        "drops of 10, 15, 20 and 30 index points, and judge them with the production alert rules. Prints, for "
        "each policy, false alerts per unit-year with no change, the share of drops caught within 3 periods and "
        "the periods until caught, and whether the targets are met. Seeded: a rerun gives the same figures.",
    )
    parser.add_argument("--units", type=int, default=300, help="simulated units per size and scenario (default 300)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="unit sizes (default %(default)s)")
    parser.add_argument("--baseline", type=float, default=75.0, help="true level before a drop (default 75)")
    parser.add_argument("--seed", type=int, default=Study().seed)
    parser.add_argument("--tenant", metavar="TENANT", help="also judge with this tenant's alert policy")
    parser.add_argument("--chart", type=Path, metavar="FILE.svg", help="also write the chart as SVG")
    parser.add_argument(
        "--config", type=Path, default=default_config_dir(), help=f"config directory (default ${CONFIG_DIR_ENV})"
    )
    parser.set_defaults(handler=run_calibrate)


def run_calibrate(args: argparse.Namespace) -> int:
    console = Console()
    err = Console(stderr=True, soft_wrap=True)  # a path or command in an error stays whole, to copy
    try:
        sizes = tuple(int(part) for part in args.sizes.split(","))
    except ValueError:
        err.print(f"[red]--sizes must be whole numbers separated by commas, not {args.sizes!r}")
        return EXIT_INVALID
    if not sizes or any(size < 1 or size > 500 for size in sizes) or not 1 <= args.units <= 100_000:
        err.print("[red]--sizes must lie in 1-500 and --units in 1-100000")
        return EXIT_INVALID
    if not 20 <= args.baseline <= 100:
        err.print("[red]--baseline must lie in 20-100 (a drop of 30 must stay on the 0-100 scale)")
        return EXIT_INVALID
    tenant_policy = None
    if args.tenant:
        try:
            tenant = load_catalog(args.config).tenants.get(args.tenant)
        except ConfigError as exc:
            err.print(f"[red]The configuration in {args.config} has problems (tempen config check):")
            for problem in exc.problems:
                err.print(f"  {problem}", markup=False)
            return EXIT_INVALID
        if tenant is None:
            err.print(f"[red]No tenant {args.tenant!r} in {args.config}")
            return EXIT_INVALID
        tenant_policy = (tenant.id, tenant.config.alert_policy)
    model = UnitModel(baseline=args.baseline)
    settings = Study(units=args.units, seed=args.seed)
    policies = policies_to_compare(tenant_policy)
    progress = Progress(
        TextColumn("[bold]Simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sizes"),
        TimeElapsedColumn(),
        console=err,
    )
    with progress:
        task = progress.add_task("sizes", total=len(sizes))
        results = study(policies, model, settings, sizes, DROPS, progress=lambda _size: progress.advance(task))
    render(console, results, settings, model)
    if args.chart:
        args.chart.write_text(chart(results, settings), encoding="utf-8")
        console.print(f"Chart written to {args.chart}")
    return EXIT_OK
