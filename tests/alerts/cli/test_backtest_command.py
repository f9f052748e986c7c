"""`tempen alerts backtest`: the CLI's main() in this process, its output read back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tempen.cli import main
from tempen_scoring.app import create_app as create_scoring_app
from tempen_shared.db import create_pool, migrate
from tests.alerts.integration.support import (
    FIXTURE_CONFIG,
    admin_token,
    alerts_store,
    month,
    running_alerts,
    unit_scores,
)
from tests.support import free_port, scoring_settings, serving

if TYPE_CHECKING:  # the fixture's type; nothing is imported from conftest at run time
    from tests.conftest import Infra

SHIPPED_CONFIG = Path(__file__).parents[3] / "config"


def test_the_demo_backtests_a_synthetic_year_of_hjo_and_shows_opened_escalated_and_resolved(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["alerts", "backtest", "--demo", "--config", str(SHIPPED_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "Backtest of Hjo kommun (hjo): a synthetic history of 12 months (--demo)" in out
    # The unit that stays low climbs its chain: the rektor, then the förvaltningschef, then the kommundirektör.
    assert "Östra skolan F–3" in out
    for person in ("Jonas Hansson", "Mikael Björk", "Emma Hansson"):
        assert person in out
    for change in ("opened", "escalated", "resolved"):
        assert change in out
    assert "sustained challenge: 2 consecutive scored period(s)" in out
    assert "no improvement: after" in out
    assert "recovered: 1 consecutive scored period(s)" in out
    assert "Hemtjänst norra" not in out, "one bad month raises no alert"
    assert "Nobody was notified." in out


def test_a_stricter_policy_file_opens_fewer_alerts_than_the_tenants_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "backtest", "hjo", "--demo", "--config", str(SHIPPED_CONFIG)]) == 0
    default = _summary(capsys.readouterr().out)
    strict = tmp_path / "strict.yaml"
    strict.write_text("alert_policy:\n  sustained_periods: 4\n  threshold: 60\n", encoding="utf-8")
    assert main(["alerts", "backtest", "hjo", "--demo", "--policy", str(strict), "--config", str(SHIPPED_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert f"policy from {strict}" in out
    assert _summary(out)["opened"] < default["opened"]
    assert "4 consecutive scored period(s)" in out


def test_past_the_kommundirektor_the_backtest_hands_the_alert_to_hr_once(capsys: pytest.CaptureFixture[str]) -> None:
    # Nobody acknowledging: every month after an opening or escalation escalates again, up to HR.
    args = ["alerts", "backtest", "--demo", "--unit", "hjo-skola-ostra-f3", "--unacknowledged"]
    assert main([*args, "--config", str(SHIPPED_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "escalated to HR" in out
    assert "HR (hr@hjo.example)" in out
    summary = _summary(out)
    assert summary["handed"] >= 1
    assert summary["handed"] <= summary["opened"], "HR is told once per alert"


def test_a_policy_alerting_on_hmes_total_only_replays_only_that_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    totals = tmp_path / "totals.yaml"
    totals.write_text("alert_policy:\n  alert_on:\n    hme: [hme]\n", encoding="utf-8")
    args = ["alerts", "backtest", "hjo", "--demo", "--unit", "hjo-sbf-kost", "--policy", str(totals)]
    assert main([*args, "--config", str(SHIPPED_CONFIG)]) == 0
    out = capsys.readouterr().out
    # Kostenheten's story is low on HME ledarskap, not the total: with HME's total only, nothing opens. Its
    # 12 series are the two instruments' HME totals and ten others.
    assert "No alert would have opened in 2 series." in out
    assert "10 series not replayed: alert_policy.alert_on (hme: hme) leaves them out." in out


def test_a_policy_file_naming_an_unknown_dimension_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("alert_on:\n  hjo-ledarmodell: [tillit]\n", encoding="utf-8")
    assert main(["alerts", "backtest", "hjo", "--demo", "--policy", str(wrong), "--config", str(SHIPPED_CONFIG)]) == 2
    err = capsys.readouterr().err
    assert "alert_on.hjo-ledarmodell.0: unknown dimension 'tillit' of hjo-ledarmodell" in err


def test_an_invalid_policy_file_is_refused_naming_each_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("threshold: 130\nsustained_period: 2\n", encoding="utf-8")
    assert main(["alerts", "backtest", "hjo", "--demo", "--policy", str(broken), "--config", str(SHIPPED_CONFIG)]) == 2
    err = capsys.readouterr().err
    assert "threshold: Input should be less than or equal to 100" in err
    assert "sustained_period: Extra inputs are not permitted" in err


def test_when_alerts_is_down_the_command_says_so_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    assert main(["alerts", "backtest", "testkommun", "--url", down, "--token", "tempen_x"]) == 1
    err = capsys.readouterr().err
    assert "The backtest did not run" in err
    assert f"alerts is not reachable at {down}" in err
    assert "Is `tempen up` running?" in err
    assert "tempen_x" not in err, "the token is never echoed"


def test_the_gone_database_option_is_refused_saying_what_replaces_it_and_not_echoing_the_url(
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = "postgresql://tempen:hunter2@127.0.0.1:9/tempen"
    assert main(["alerts", "backtest", "testkommun", "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert "--database-url is gone" in err
    assert "--url" in err
    assert "hunter2" not in err


@asynccontextmanager
async def _alerts_reading_scoring(infra: Infra, database_url: str, topic_prefix: str) -> AsyncIterator[str]:
    """Scoring and alerts on real ports, alerts reading scoring's scores through scoring's API; yields
    alerts' URL."""
    settings = scoring_settings(
        bootstrap_servers=infra.bootstrap_servers,
        database_url=database_url,
        config_dir=FIXTURE_CONFIG,
        topic_prefix=topic_prefix,
    )
    async with (
        serving(create_scoring_app(settings)) as scoring,
        running_alerts(
            bootstrap_servers=infra.bootstrap_servers,
            database_url=database_url,
            topic_prefix=topic_prefix,
            smtp_port=free_port(),
            scoring_url=scoring,
        ) as alerts,
    ):
        yield alerts


@pytest.mark.integration
async def test_the_stored_scores_are_replayed_from_scorings_api_with_suppressed_months_kept_silent(
    infra: Infra, database_url: str, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await _scoring_scores(database_url)
    async with _alerts_reading_scoring(infra, database_url, topic_prefix) as alerts:
        token = await admin_token(database_url)
        args = ["alerts", "backtest", "testkommun", "--url", alerts, "--token", token]
        assert await asyncio.to_thread(main, args) == 0
    out = capsys.readouterr().out
    assert "scoring at http://127.0.0.1:" in out
    assert f"through alerts at {alerts}" in out
    _assert_grupp_a1_story(out)
    assert "n=3" not in out, "a suppressed month's group size never appears"


@pytest.mark.integration
async def test_alerts_own_copy_of_the_scores_can_be_replayed_instead(
    infra: Infra, database_url: str, topic_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with alerts_store(database_url) as store, store.transaction() as repo:
        await repo.upsert_scores(
            [*unit_scores(2026, 6, 40.0), *unit_scores(2026, 8, 42.0), *unit_scores(2026, 9, 80.0)]
        )
    async with _alerts_reading_scoring(infra, database_url, topic_prefix) as alerts:
        token = await admin_token(database_url)
        args = ["alerts", "backtest", "testkommun", "--source", "alerts", "--url", alerts, "--token", token]
        assert await asyncio.to_thread(main, args) == 0
    out = capsys.readouterr().out
    assert "alerts.period_scores, through alerts at" in out
    _assert_grupp_a1_story(out)


@pytest.mark.integration
async def test_a_policy_file_alerts_refuses_is_reported_with_the_files_path_and_each_field(
    infra: Infra, database_url: str, topic_prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("threshold: 130\nalert_on:\n  test-model: [tillit]\n", encoding="utf-8")
    async with _alerts_reading_scoring(infra, database_url, topic_prefix) as alerts:
        token = await admin_token(database_url)
        args = ["alerts", "backtest", "testkommun", "--url", alerts, "--token", token, "--policy", str(broken)]
        assert await asyncio.to_thread(main, args) == 2
        unknown = tmp_path / "unknown.yaml"
        unknown.write_text("alert_on:\n  test-model: [tillit]\n", encoding="utf-8")
        args[-1] = str(unknown)
        assert await asyncio.to_thread(main, args) == 2
        refused = await asyncio.to_thread(main, [*args[:6], "not-a-token"])
    assert refused == 1
    err = capsys.readouterr().err
    assert f"{broken}: threshold: Input should be less than or equal to 100" in err
    assert f"{unknown}: alert_on.test-model.0: unknown dimension 'tillit' of test-model" in err
    assert "alerts refused the token (401)" in err


def _assert_grupp_a1_story(out: str) -> None:
    # June and August 2026 were low with a suppressed July between them: a run of two scored periods.
    assert "Grupp A1" in out
    assert "opened" in out
    assert "resolved" in out
    # Pooled detection: the two months together, then each month.
    assert "2026-06..2026-08: 41.0 (n=16, SE 1.4) below the threshold 65.0" in out
    assert "2026-06: 40.0 (n=8," in out
    assert "Bo Förvaltningschef" in out
    assert "Grupp B1" not in out
    assert "3 opened, 0 escalated, 0 handed to HR, 3 resolved, 0 still active at the end. Nobody was notified." in out


async def _scoring_scores(database_url: str) -> None:
    """scoring's scores as scoring leaves them: Grupp A1 low, then hidden, low and recovered; the tenant at 70."""
    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate(pool, schema="scoring", package="tempen_scoring")
        rows = [
            *_rows("grupp-a1", "unit", [(6, 40.0, 8), (7, None, 3), (8, 42.0, 8), (9, 80.0, 9)]),
            *_rows("grupp-b1", "unit", [(6, 78.0, 12), (8, 80.0, 12), (9, 79.0, 12)]),
            *_rows("kommun", "subtree", [(6, 70.0, 20), (7, 71.0, 15), (8, 70.0, 20), (9, 79.0, 21)]),
        ]
        groups: dict[tuple[object, ...], dict[str, object]] = {}
        for unit, scope, dimension, period, start, end, respondents, published, reason, index, se in rows:
            groups.setdefault((unit, scope, period, start, end), {})[dimension] = {
                "respondents": respondents,
                "publishable": published,
                "suppression_reason": reason,
                "index": index,
                "standard_error": se,
                "favourable_pct": None,
                "details": {},
                "tenant_index": None,
            }
        await pool.executemany(
            """INSERT INTO scoring.score_groups (tenant, unit, scope, instrument, model, model_version, period,
                   period_start, period_end, figures, sequence, revision)
               VALUES ('testkommun', $1, $2, 'test-puls', 'test-model', '1', $3, $4, $5, $6, 1,
                       nextval('scoring.score_revision'))""",
            [(*group, figures) for group, figures in groups.items()],
        )
    finally:
        await pool.close()


def _rows(unit: str, scope: str, months: Iterable[tuple[int, float | None, int]]) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for number, index, respondents in months:
        period, start, end = month(2026, number)
        for dimension in ("ledarskap", "motivation", "total"):
            published = index is not None
            out.append(
                (
                    unit,
                    scope,
                    dimension,
                    period,
                    start,
                    end,
                    respondents,
                    published,
                    None if published else "below_minimum",
                    index,
                    2.0 if published else None,
                )
            )
    return out


def _summary(out: str) -> dict[str, int]:
    line = next(line for line in out.splitlines() if "series replayed" in line)
    words = line.replace(",", "").split()
    return {words[i + 1]: int(words[i]) for i in range(len(words) - 1) if words[i].isdigit()}
