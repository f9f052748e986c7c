"""`tempen alerts backtest`: what the alert rules would have done with a score history, notifying nobody.

The backtest runs in alerts (`POST /v1/tenants/{tenant}/alerts/backtest`), which reads the history from
scoring's API (`--source scoring`, the default) or from its own copy of the scores (`--source alerts`) and
replays each unit, model and dimension period by period under the tenant's policy or one from a YAML
file. This command sends the request and prints every alert that would have opened, escalated or resolved,
with when and why. `--demo` needs no running system: it backtests a synthetic year of a shipped tenant in
this process, with the same rules (`tempen_alerts.domain.backtest`).
"""

from __future__ import annotations

import argparse
import os
import random
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from tempen.commands.config_check import CONFIG_DIR_ENV, default_config_dir
from tempen_alerts.domain.backtest import History, SeriesId, backtest, backtest_json
from tempen_alerts.domain.rules import PeriodScore
from tempen_scoring.domain.periods import period_of, previous_period
from tempen_shared.clock import utc_now
from tempen_shared.tenancy.loader import Catalog, ConfigError, Tenant, alert_on_problems, load_catalog
from tempen_shared.tenancy.models import AlertPolicy, LeadershipModel

ALERTS_URL_ENV = "TEMPEN_ALERTS_URL"
DEFAULT_URL = "http://127.0.0.1:8003"  # `tempen up`'s alerts
DEMO_TENANT = "hjo"
DEMO_SEED = 20261
EXIT_OK = 0
EXIT_UNAVAILABLE = 1
EXIT_INVALID = 2
# A backtest of a large org asks scoring once per unit; give alerts time for that.
REQUEST_TIMEOUT_S = 600.0


class PolicyFileError(ValueError):
    """The policy file cannot be used; the message lists every problem, each with the file's path."""


def read_policy_document(path: Path) -> dict[str, Any]:
    """The policy's keys from a YAML file: at the top, or under `alert_policy:` (a tenant file's block).

    Raises:
        PolicyFileError: the file cannot be read, is not YAML, or is not a mapping.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyFileError(f"{path}: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("alert_policy"), dict):
        data = data["alert_policy"]
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PolicyFileError(f"{path}: (file): a policy is a mapping of settings, e.g. threshold: 60")
    return data


def load_policy(path: Path, models: dict[str, LeadershipModel] | None = None) -> AlertPolicy:
    """An AlertPolicy from YAML (`read_policy_document`), for `--demo`. With `models` (the tenant's), its
    `alert_on` must name only their models and dimensions. Alerts' API checks a policy sent to it the same way.

    Raises:
        PolicyFileError: the file cannot be read or is not a valid policy; the message lists every problem.
    """
    data = read_policy_document(path)
    try:
        policy = AlertPolicy.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{path}: {'.'.join(str(p) for p in error['loc']) or '(file)'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise PolicyFileError("\n".join(problems)) from None
    if models is not None:
        unknown = [
            f"{path}: {'.'.join(map(str, loc))}: {message} (hint: {hint})"
            for loc, message, hint in alert_on_problems(policy, models)
        ]
        if unknown:
            raise PolicyFileError("\n".join(unknown))
    return policy


class BacktestRequestError(Exception):
    """Alerts did not answer the backtest; `exit_code` is what the command exits with, the message why."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def request_backtest(
    url: str,
    tenant: str,
    *,
    token: str | None,
    source: str,
    policy: dict[str, Any] | None,
    policy_file: Path | None,
    assume_acknowledged: bool,
    units: Sequence[str] | None,
) -> dict[str, Any]:
    """Alerts' answer to `POST /v1/tenants/{tenant}/alerts/backtest`.

    Raises:
        BacktestRequestError: alerts is unreachable or refused the request; the message says what to do.
    """
    body: dict[str, Any] = {"source": source, "assume_acknowledged": assume_acknowledged}
    if policy is not None:
        body["policy"] = policy
    if units:
        body["units"] = list(units)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    endpoint = f"{url.rstrip('/')}/v1/tenants/{tenant}/alerts/backtest"
    try:
        response = httpx.post(endpoint, json=body, headers=headers, timeout=REQUEST_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise BacktestRequestError(
            f"alerts is not reachable at {url}: {exc}. Is `tempen up` running? Else pass --url "
            f"(or set ${ALERTS_URL_ENV}) to where alerts answers.",
            EXIT_UNAVAILABLE,
        ) from None
    if response.status_code == 200:
        answer: dict[str, Any] = response.json()
        return answer
    problem = _problem(response)
    if response.status_code in (401, 403):
        raise BacktestRequestError(
            f"alerts refused the token ({response.status_code}): pass --token or set TEMPEN_TOKEN to a token "
            f"that may read {tenant}'s alerts",
            EXIT_UNAVAILABLE,
        )
    lines = [f"alerts answered {response.status_code} {problem.get('title', '')}".rstrip()]
    if problem.get("detail"):
        lines[0] += f": {problem['detail']}"
    for error in problem.get("errors", ()):
        field = str(error.get("field", ""))
        if policy_file is not None and field.startswith("policy."):
            lines.append(f"  {policy_file}: {field.removeprefix('policy.')}: {error.get('reason', '')}")
        else:
            lines.append(f"  {field}: {error.get('reason', '')}")
    invalid = 400 <= response.status_code < 500
    raise BacktestRequestError("\n".join(lines), EXIT_INVALID if invalid else EXIT_UNAVAILABLE)


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"title": response.reason_phrase}
    return body if isinstance(body, dict) else {}


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


def render(console: Console, answer: dict[str, Any], *, title: str) -> None:
    """A backtest as alerts' API answers it (`backtest_json`): the table, then the totals."""
    rows, summary = answer["rows"], answer["summary"]
    if not rows:
        console.print(f"{title}\nNo alert would have opened in {summary['series_replayed']} series.")
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
        table.add_row(
            row["unit_name"],
            f"{row['model']} / {row['dimension_name']}",
            row["period"],
            row["judged_on"],
            f"[{styles[row['change']]}]{row['change']}[/]",
            str(row["level"]),
            row["told"],
            row["reason"],
        )
    console.print(table)
    console.print(
        f"{summary['series_replayed']} series replayed: {summary['opened']} opened, {summary['escalated']} "
        f"escalated, {summary['handed_to_hr']} handed to HR, {summary['resolved']} resolved, "
        f"{summary['still_active']} still active at the end. Nobody was notified."
    )


def run_backtest(args: argparse.Namespace) -> int:
    console = Console() if Console().is_terminal else Console(width=200)
    err = Console(stderr=True, soft_wrap=True)  # a path or command in an error stays whole, to copy
    if args.database_url:
        err.print(
            "[red]--database-url is gone:[/red] the backtest runs in alerts, which reads scoring's scores through "
            f"scoring's API. Pass --url (default ${ALERTS_URL_ENV} or {DEFAULT_URL}) and --source if needed."
        )
        return EXIT_INVALID
    if args.demo:
        return _run_demo(args, console, err)
    if args.tenant is None:
        err.print("[red]Name the tenant[/red] (e.g. tempen alerts backtest hjo), or use --demo.")
        return EXIT_INVALID
    try:
        policy = read_policy_document(args.policy) if args.policy else None
    except PolicyFileError as exc:
        err.print("[red]The policy file is not a valid alert policy:[/red]")
        err.print(str(exc), markup=False)
        return EXIT_INVALID
    url = args.url or os.environ.get(ALERTS_URL_ENV) or DEFAULT_URL
    try:
        answer = request_backtest(
            url,
            args.tenant,
            token=args.token or _default_token(),
            source=args.source,
            policy=policy,
            policy_file=args.policy,
            assume_acknowledged=not args.unacknowledged,
            units=args.unit,
        )
    except BacktestRequestError as exc:
        err.print("[red]The backtest did not run:[/red]")
        err.print(str(exc), markup=False)
        return exc.exit_code
    policy_name = str(args.policy) if args.policy else f"the {args.tenant} tenant's alert_policy"
    _print(console, answer, source=f"{answer['source']}, through alerts at {url}", policy_name=policy_name)
    return EXIT_OK


def _run_demo(args: argparse.Namespace, console: Console, err: Console) -> int:
    """The backtest in this process, on a synthetic year: the same domain code alerts runs, no service."""
    tenant_id = args.tenant or DEMO_TENANT
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
    except PolicyFileError as exc:
        err.print("[red]The policy file is not a valid alert policy:[/red]")
        err.print(str(exc), markup=False)
        return EXIT_INVALID
    history = demo_history(tenant, now=utc_now(), months=args.months)
    if args.unit:
        history = {s: h for s, h in history.items() if s.unit in set(args.unit)}
    answer = backtest_json(tenant, backtest(tenant, history, policy, assume_acknowledged=not args.unacknowledged))
    policy_name = str(args.policy) if args.policy else f"the {tenant.id} tenant's alert_policy"
    source = f"a synthetic history of {args.months} months (--demo)"
    _print(console, answer, source=source, policy_name=policy_name)
    return EXIT_OK


def _print(console: Console, answer: dict[str, Any], *, source: str, policy_name: str) -> None:
    title = f"Backtest of {answer['tenant_name']} ({answer['tenant']}): {source}, policy from {policy_name}"
    render(console, answer, title=title)
    left_out = answer["summary"]["series_left_out"]
    if left_out:
        alert_on = answer["summary"]["alert_on"]
        console.print(f"{left_out} series not replayed: alert_policy.alert_on ({alert_on}) leaves them out.")


def _default_token() -> str | None:
    from tempen.commands.tokens import default_token

    return default_token()


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
        "notified. Alerts runs the backtest (POST /v1/tenants/TENANT/alerts/backtest, a token with the read "
        "scope): on scoring's scores, read through scoring's API, or on its own copy (--source alerts). --demo "
        f"backtests a generated year here, with no system running. Exit codes: {EXIT_UNAVAILABLE} alerts or its "
        f"source unavailable, {EXIT_INVALID} invalid input.",
    )
    parser.add_argument(
        "tenant", nargs="?", metavar="TENANT", help=f"the tenant id (with --demo default {DEMO_TENANT})"
    )
    parser.add_argument("--policy", type=Path, metavar="FILE", help="an alert policy in YAML instead of the tenant's")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--url", metavar="ALERTS_URL", help=f"alerts (default ${ALERTS_URL_ENV} or {DEFAULT_URL})")
    where.add_argument("--demo", action="store_true", help="backtest a synthetic year of the shipped example tenant")
    where.add_argument("--database-url", help=argparse.SUPPRESS)  # gone: said so, rather than "unrecognized"
    parser.add_argument(
        "--source",
        choices=["scoring", "alerts"],
        default="scoring",
        help="scoring's scores (default; suppressed months kept as gaps) or alerts' copy of the published ones",
    )
    parser.add_argument("--unit", action="append", metavar="UNIT", help="only this unit (may be repeated)")
    parser.add_argument(
        "--unacknowledged",
        action="store_true",
        help="assume nobody ever acknowledges, so the D-days rule fires too (judged at period ends only)",
    )
    parser.add_argument("--months", type=int, default=12, help="with --demo: how many months to generate")
    parser.add_argument("--token", help="API token with the read scope (default $TEMPEN_TOKEN or .tempen/admin-token)")
    parser.add_argument(
        "--config",
        type=Path,
        default=default_config_dir(),
        help=f"with --demo: the config directory (default ${CONFIG_DIR_ENV})",
    )
    parser.set_defaults(handler=run_backtest)
    calibrate.register(actions)
