"""`tempen alerts backtest`: what the alert rules would have done with a score history, notifying nobody.

The history comes from scoring's `scores` table (read only, through `DATABASE_URL`), from alerts' own
`period_scores` (`--source alerts`), from scoring's HTTP API (`--url`), or, with `--demo`, from a
synthetic year of a shipped tenant generated in memory. Each unit, model and dimension is replayed
period by period with `evaluate_history`, under the tenant's policy or one from a YAML file, and every
alert that would have opened, escalated or resolved is printed with when and why.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from tempen.commands.config_check import CONFIG_DIR_ENV, default_config_dir
from tempen_alerts.domain.routing import levels_available, recipients
from tempen_alerts.domain.rules import Escalate, OpenAlert, PeriodScore, Transition, evaluate_history
from tempen_scoring.domain.periods import period_of, previous_period
from tempen_shared.clock import utc_now
from tempen_shared.tenancy.loader import Catalog, ConfigError, Tenant, alert_on_problems, load_catalog
from tempen_shared.tenancy.models import AlertPolicy, Dimension, LeadershipModel

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:54329/tempen"  # `tempen up`'s embedded PostgreSQL
DEMO_TENANT = "hjo"
DEMO_SEED = 20261
EXIT_OK = 0
EXIT_UNAVAILABLE = 1
EXIT_INVALID = 2


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
    change: str  # "opened", "escalated", "escalated to HR", "resolved"
    level: int  # the level the alert sits with after the change
    told: str  # who the main notification would have gone to


class SourceError(Exception):
    """The history could not be read; the message says where and why, without credentials."""


def backtest(
    tenant: Tenant,
    history: Mapping[SeriesId, Sequence[PeriodScore]],
    policy: AlertPolicy,
    *,
    assume_acknowledged: bool = True,
) -> list[BacktestRow]:
    """Every state change the rules make on each series the policy alerts on (`alert_on`), in series then
    time order."""
    rows: list[BacktestRow] = []
    for series in sorted(history):
        if not policy.alerts_on(tenant.models.get(series.model), series.dimension):
            continue
        levels = levels_available(tenant.org, series.unit)
        level = 0
        transitions = evaluate_history(
            history[series], policy, levels_available=levels, assume_acknowledged=assume_acknowledged
        )
        for transition in transitions:
            decision = transition.decision
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
    return rows


def load_policy(path: Path, models: dict[str, LeadershipModel] | None = None) -> AlertPolicy:
    """An AlertPolicy from YAML: the policy's keys at the top, or under `alert_policy:` (a tenant file's block).
    With `models` (the tenant's), its `alert_on` must name only their models and dimensions.

    Raises:
        ValueError: the file cannot be read or is not a valid policy; the message lists every problem.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("alert_policy"), dict):
        data = data["alert_policy"]
    try:
        policy = AlertPolicy.model_validate(data or {})
    except ValidationError as exc:
        problems = [
            f"{path}: {'.'.join(str(p) for p in error['loc']) or '(file)'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise ValueError("\n".join(problems)) from None
    if models is not None:
        unknown = [
            f"{path}: {'.'.join(map(str, loc))}: {message} (hint: {hint})"
            for loc, message, hint in alert_on_problems(policy, models)
        ]
        if unknown:
            raise ValueError("\n".join(unknown))
    return policy


async def history_from_database(url: str, tenant: Tenant, *, source: str, now: datetime) -> History:
    """The closed periods of every unit series, read in a read-only transaction."""
    try:
        conn = await asyncpg.connect(url, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise SourceError(f"cannot connect to {_where(url)}: {exc}") from None
    try:
        async with conn.transaction(readonly=True):
            if source == "alerts":
                return await _alerts_history(conn, tenant, now=now)
            return await _scoring_history(conn, tenant, now=now)
    except asyncpg.UndefinedTableError:
        table = "alerts.period_scores" if source == "alerts" else "scoring.scores"
        raise SourceError(f"{_where(url)} has no {table} table: has that service run against this database?") from None
    except (OSError, asyncpg.PostgresError) as exc:
        raise SourceError(f"reading {_where(url)} failed: {exc}") from None
    finally:
        await conn.close()


async def _scoring_history(conn: asyncpg.Connection, tenant: Tenant, *, now: datetime) -> History:
    rows = await conn.fetch(
        """SELECT unit, scope, instrument, model, dimension, period, period_start, period_end, respondents,
                  publishable, index, standard_error
           FROM scoring.scores
           WHERE tenant = $1 AND period_end <= $2 AND (scope = 'unit' OR unit = $3)
           ORDER BY unit, instrument, model, dimension, period_start""",
        tenant.id,
        now,
        tenant.org.root,
    )
    tenant_index = {
        (r["instrument"], r["model"], r["dimension"], r["period"]): r["index"]
        for r in rows
        if r["scope"] == "subtree" and r["publishable"]
    }
    history: History = {}
    for r in rows:
        if r["scope"] != "unit":
            continue
        series = SeriesId(r["unit"], r["instrument"], r["model"], r["dimension"])
        published = bool(r["publishable"]) and r["index"] is not None
        history.setdefault(series, []).append(
            PeriodScore(
                period=r["period"],
                period_end=r["period_end"],
                index=r["index"] if published else None,
                respondents=r["respondents"] if published else 0,  # a suppressed group's size is never shown
                standard_error=r["standard_error"] if published else None,
                tenant_index=tenant_index.get((r["instrument"], r["model"], r["dimension"], r["period"]))
                if published
                else None,
            )
        )
    return history


async def _alerts_history(conn: asyncpg.Connection, tenant: Tenant, *, now: datetime) -> History:
    rows = await conn.fetch(
        """SELECT unit, instrument, model, dimension, period, period_end, index, respondents, standard_error,
                  tenant_index
           FROM alerts.period_scores WHERE tenant = $1 AND period_end <= $2
           ORDER BY unit, instrument, model, dimension, period_start""",
        tenant.id,
        now,
    )
    history: History = {}
    for r in rows:
        series = SeriesId(r["unit"], r["instrument"], r["model"], r["dimension"])
        history.setdefault(series, []).append(
            PeriodScore(
                period=r["period"],
                period_end=r["period_end"],
                index=r["index"],
                respondents=r["respondents"],
                standard_error=r["standard_error"],
                tenant_index=r["tenant_index"],
            )
        )
    return history


def history_from_api(url: str, tenant: Tenant, *, token: str | None, now: datetime) -> History:
    """The same history through scoring's read API, one request per unit of the tenant's org."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    base = f"{url.rstrip('/')}/v1/tenants/{tenant.id}/units"
    history: History = {}
    try:
        with httpx.Client(timeout=30, headers=headers) as http:
            root = _api_series(http, f"{base}/{tenant.org.root}/scores", scope="subtree")
            tenant_index = {
                (s["instrument"], s["model"], s["dimension"], p["period"]): p["index"]
                for s in root
                for p in s["points"]
                if not p["suppressed"]
            }
            for unit in tenant.org.units:
                for s in _api_series(http, f"{base}/{unit}/scores", scope="unit"):
                    series = SeriesId(unit, s["instrument"], s["model"], s["dimension"])
                    for p in s["points"]:
                        end = datetime.fromisoformat(p["period_end"])
                        if end > now:
                            continue
                        shown = not p["suppressed"]
                        key = (s["instrument"], s["model"], s["dimension"], p["period"])
                        history.setdefault(series, []).append(
                            PeriodScore(
                                period=p["period"],
                                period_end=end,
                                index=p["index"] if shown else None,
                                respondents=p["respondents"] if shown else 0,
                                standard_error=p.get("standard_error") if shown else None,
                                tenant_index=tenant_index.get(key) if shown else None,
                            )
                        )
    except httpx.HTTPError as exc:
        raise SourceError(f"scoring is not reachable at {url}: {exc} (is `tempen up` running?)") from None
    return history


def _api_series(http: httpx.Client, url: str, *, scope: str) -> list[dict[str, Any]]:
    response = http.get(url, params={"scope": scope})
    if response.status_code in (401, 403):
        raise SourceError(f"scoring refused the token ({response.status_code}): pass --token or set TEMPEN_TOKEN")
    if response.status_code == 404:
        return []
    response.raise_for_status()
    series: list[dict[str, Any]] = response.json()["series"]
    return series


def demo_history(tenant: Tenant, *, now: datetime, months: int = 12, seed: int = DEMO_SEED) -> History:
    """A synthetic year of monthly pulses for every first-line unit of `tenant`, in memory.

    Most units are healthy and noisy the way small groups are. A few follow a scripted story: one
    stays low until it has climbed the management chain and then recovers, one has a single bad
    month (no alert), one improves after its alert opens (no escalation), one hides a month behind
    too few responses, and one is still low at the end. Deterministic for a given `now` and `seed`.
    """
    rng = random.Random(seed)  # noqa: S311 - synthetic scores, not secrets
    zone = tenant.config.zone
    latest = previous_period(period_of(now, "monthly", zone), "monthly", zone)
    periods = [latest]
    while len(periods) < months:
        periods.insert(0, previous_period(periods[0], "monthly", zone))
    series_dims = [
        (instrument.id, model.id, dimension.id)
        for instrument in tenant.instruments.values()
        for model in (tenant.models[m] for m in instrument.models if m in tenant.models)
        for dimension in (*model.dimensions, *((model.total,) if model.total else ()))
    ]
    leaves = sorted(u for u in tenant.org.units if tenant.org.is_leaf(u))
    stories = _stories(leaves, months)
    raw: dict[SeriesId, list[tuple[float | None, int, float]]] = {}
    for unit in leaves:
        headcount = tenant.org.units[unit].headcount or 15
        level = rng.uniform(76.0, 84.0)
        story = stories.get(unit, {})
        for number, (instrument, model, dimension) in enumerate(series_dims):
            base = level + rng.uniform(-3.0, 3.0)
            shape = story.get(number, [0.0] * months)
            points: list[tuple[float | None, int, float]] = []
            for month in range(months):
                respondents = max(1, round(headcount * rng.uniform(0.55, 0.9)))
                if shape[month] is None:
                    respondents = min(respondents, tenant.config.min_group_size - 2)
                se = 21.0 / respondents**0.5
                index = min(100.0, max(0.0, base + (shape[month] or 0.0) + rng.gauss(0.0, se * 0.6)))
                shown = respondents >= tenant.config.min_group_size
                points.append((round(index, 1) if shown else None, respondents, round(se, 1)))
            raw[SeriesId(unit, instrument, model, dimension)] = points
    averages: dict[tuple[str, str, str, int], float] = {}
    for key in {(s.instrument, s.model, s.dimension) for s in raw}:
        for month in range(months):
            published = [p[month][0] for s, p in raw.items() if (s.instrument, s.model, s.dimension) == key]
            values = [v for v in published if v is not None]
            if values:
                averages[(*key, month)] = round(sum(values) / len(values), 1)
    history: History = {}
    for series, points in raw.items():
        history[series] = [
            PeriodScore(
                period=periods[month].key,
                period_end=periods[month].end,
                index=index,
                respondents=respondents if index is not None else 0,
                standard_error=se if index is not None else None,
                tenant_index=averages.get((series.instrument, series.model, series.dimension, month))
                if index is not None
                else None,
            )
            for month, (index, respondents, se) in enumerate(points)
        ]
    return history


# (preferred unit, {series number: offsets per month, oldest first; None: too few responses}).
# Series numbers follow the instrument's models and dimensions: for hjo-puls 0-3 are the four
# cornerstones of Hjo's leadership model, 4-7 HME's motivation, ledarskap, styrning and total.
_LOW_TO_THE_TOP: list[float | None] = [0, 0, 0, -27, -26, -27, -28, -27, -26, -27, -2, 0]
_ONE_BAD_MONTH: list[float | None] = [0, 0, 0, 0, 0, -28, 0, 0, 0, 0, 0, 0]
_IMPROVES_THEN_RECOVERS: list[float | None] = [0, 0, -24, -25, -24, -16, -16, -15, 0, 0, 0, 0]
_HIDDEN_MONTH: list[float | None] = [0, 0, 0, 0, 0, -26, None, -27, -12, 0, 0, 0]
_LOW_AT_THE_END: list[float | None] = [0, 0, 0, 0, 0, 0, 0, 0, 0, -27, -28, -27]
_STORIES: tuple[tuple[str, dict[int, list[float | None]]], ...] = (
    ("hjo-skola-ostra-f3", {1: _LOW_TO_THE_TOP}),
    ("hjo-vo-hemtjanst-norra", {2: _ONE_BAD_MONTH}),
    ("hjo-vo-sabo-ekbacken", {0: _IMPROVES_THEN_RECOVERS}),
    ("hjo-klk-hr", {3: _HIDDEN_MONTH}),
    ("hjo-sbf-kost", {5: _LOW_AT_THE_END}),
)


def _stories(leaves: Sequence[str], months: int) -> dict[str, dict[int, list[float | None]]]:
    chosen: dict[str, dict[int, list[float | None]]] = {}
    spare = [u for u in leaves if u not in {unit for unit, _ in _STORIES}]
    for preferred, shapes in _STORIES:
        unit = preferred if preferred in leaves else (spare.pop(0) if spare else None)
        if unit is None:
            continue
        chosen[unit] = {number: _fit(shape, months) for number, shape in shapes.items()}
    return chosen


def _fit(shape: list[float | None], months: int) -> list[float | None]:
    """A 12-month story placed at the end of a history of `months` months."""
    return ([0.0] * months + shape)[-months:]


def render(console: Console, tenant: Tenant, rows: Sequence[BacktestRow], *, title: str, series: int) -> None:
    if not rows:
        console.print(f"{title}\nNo alert would have opened in {series} series.")
        return
    table = Table(title=title, show_lines=True)
    for column, justify in (
        ("unit", "left"),
        ("model / dimension", "left"),
        ("period", "left"),
        ("judged", "left"),
        ("change", "left"),
        ("level", "right"),
        ("would have told", "left"),
        ("reason", "left"),
    ):
        table.add_column(column, justify=justify, overflow="fold")  # type: ignore[arg-type]
    styles = {"opened": "red", "escalated": "bold red", "escalated to HR": "bold magenta", "resolved": "green"}
    for row in rows:
        judged = row.transition.judged_at.astimezone(tenant.config.zone).date().isoformat()
        table.add_row(
            row.unit_name,
            f"{row.series.model} / {row.dimension_name}",
            row.transition.period,
            judged,
            f"[{styles[row.change]}]{row.change}[/]",
            str(row.level),
            row.told,
            row.transition.decision.reason,
        )
    console.print(table)
    counts = {
        change: sum(1 for r in rows if r.change == change)
        for change in ("opened", "escalated", "escalated to HR", "resolved")
    }
    alerts = {(r.series, r.transition.period) for r in rows if r.change == "opened"}
    still = len(alerts) - counts["resolved"]
    console.print(
        f"{series} series replayed: {counts['opened']} opened, {counts['escalated']} escalated, "
        f"{counts['escalated to HR']} handed to HR, {counts['resolved']} resolved, {still} still active at the "
        "end. Nobody was notified."
    )


def run_backtest(args: argparse.Namespace) -> int:
    console = Console() if Console().is_terminal else Console(width=200)
    err = Console(stderr=True, soft_wrap=True)  # a path or command in an error stays whole, to copy
    tenant_id = args.tenant or (DEMO_TENANT if args.demo else None)
    if tenant_id is None:
        err.print("[red]Name the tenant[/red] (e.g. tempen alerts backtest hjo), or use --demo.")
        return EXIT_INVALID
    try:
        catalog: Catalog = load_catalog(args.config)
    except ConfigError as exc:
        err.print(f"[red]The configuration in {args.config} has problems (tempen config check):[/red]")
        for problem in exc.problems:
            err.print(f"  {problem}")
        return EXIT_INVALID
    tenant = catalog.tenants.get(tenant_id)
    if tenant is None:
        err.print(f"[red]Unknown tenant {tenant_id!r}[/red]; known: {', '.join(sorted(catalog.tenants)) or 'none'}")
        return EXIT_INVALID
    try:
        policy = load_policy(args.policy, tenant.models) if args.policy else tenant.config.alert_policy
    except ValueError as exc:
        err.print("[red]The policy file is not a valid alert policy:[/red]")
        err.print(str(exc), markup=False)
        return EXIT_INVALID
    now = utc_now()
    try:
        if args.demo:
            history = demo_history(tenant, now=now, months=args.months)
            source = f"a synthetic history of {args.months} months (--demo)"
        elif args.url:
            history = history_from_api(args.url, tenant, token=args.token or _default_token(), now=now)
            source = f"scoring at {args.url}"
        else:
            url = args.database_url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
            history = asyncio.run(history_from_database(url, tenant, source=args.source, now=now))
            source = f"{'alerts.period_scores' if args.source == 'alerts' else 'scoring.scores'} at {_where(url)}"
    except SourceError as exc:
        err.print(f"[red]Could not read the score history:[/red] {exc}", markup=True)
        return EXIT_UNAVAILABLE
    if args.unit:
        history = {s: h for s, h in history.items() if s.unit in set(args.unit)}
    rows = backtest(tenant, history, policy, assume_acknowledged=not args.unacknowledged)
    policy_name = str(args.policy) if args.policy else f"the {tenant.id} tenant's alert_policy"
    left_out = sum(1 for s in history if not policy.alerts_on(tenant.models.get(s.model), s.dimension))
    render(
        console,
        tenant,
        rows,
        title=f"Backtest of {tenant.config.name} ({tenant.id}): {source}, policy from {policy_name}",
        series=len(history) - left_out,
    )
    if left_out:
        console.print(f"{left_out} series not replayed: alert_policy.alert_on ({_alert_on(policy)}) leaves them out.")
    return EXIT_OK


def _alert_on(policy: AlertPolicy) -> str:
    if isinstance(policy.alert_on, str):
        return policy.alert_on
    return "; ".join(f"{model}: {', '.join(ids)}" for model, ids in policy.alert_on.items())


def _default_token() -> str | None:
    from tempen.commands.tokens import default_token

    return default_token()


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path}"  # never the password


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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `alerts backtest` and `alerts calibrate`; the parsed arguments carry `handler(args) -> exit code`."""
    from tempen.commands import calibrate

    alerts = subparsers.add_parser(
        "alerts", help="work with alerts (backtest the rules on stored scores, calibrate them on simulated units)"
    )
    actions = alerts.add_subparsers(dest="alerts_command", required=True, metavar="COMMAND")
    parser = actions.add_parser(
        "backtest",
        help="replay stored scores through the alert rules and show what would have happened",
        description="Replay each unit's score history period by period through the alert rules and print which "
        "alerts would have opened, escalated and resolved, when, and why. Nothing is written and nobody is "
        "notified. The history is read from scoring's scores table (DATABASE_URL, default the embedded "
        f"PostgreSQL of `tempen up`), from alerts' copy (--source alerts), from scoring's API (--url), or "
        f"generated (--demo). Exit codes: {EXIT_UNAVAILABLE} source unavailable, {EXIT_INVALID} invalid input.",
    )
    parser.add_argument(
        "tenant", nargs="?", metavar="TENANT", help=f"the tenant id (with --demo default {DEMO_TENANT})"
    )
    parser.add_argument("--policy", type=Path, metavar="FILE", help="an alert policy in YAML instead of the tenant's")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", metavar="SCORING_URL", help="read through scoring's API, e.g. http://127.0.0.1:8002")
    where.add_argument(
        "--database-url", metavar="URL", help=f"PostgreSQL to read (default $DATABASE_URL or {DEFAULT_DATABASE_URL})"
    )
    where.add_argument("--demo", action="store_true", help="backtest a synthetic year of the shipped example tenant")
    parser.add_argument("--source", choices=["scoring", "alerts"], default="scoring", help="which table to read")
    parser.add_argument("--unit", action="append", metavar="UNIT", help="only this unit (may be repeated)")
    parser.add_argument(
        "--unacknowledged",
        action="store_true",
        help="assume nobody ever acknowledges, so the D-days rule fires too (judged at period ends only)",
    )
    parser.add_argument("--months", type=int, default=12, help="with --demo: how many months to generate")
    parser.add_argument("--token", help="API token for --url (default $TEMPEN_TOKEN or .tempen/admin-token)")
    parser.add_argument(
        "--config", type=Path, default=default_config_dir(), help=f"config directory (default ${CONFIG_DIR_ENV})"
    )
    parser.set_defaults(handler=run_backtest)
    calibrate.register(actions)
