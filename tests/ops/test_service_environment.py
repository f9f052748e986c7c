"""What `tempen up` tells each service about the others (no process is started)."""

from __future__ import annotations

from pathlib import Path

from tempen.supervisor import Supervisor


def test_alerts_is_told_where_scoring_answers_for_its_backtests(tmp_path: Path) -> None:
    sup = Supervisor(config_dir=tmp_path, state_dir=tmp_path / "state", environ={}, ports={"scoring": 18555})
    assert sup.service_env("alerts", 18556)["TEMPEN_ALERTS_SCORING_URL"] == "http://127.0.0.1:18555"
    assert "TEMPEN_ALERTS_SCORING_URL" not in sup.service_env("scoring", 18555)


def test_a_scoring_url_from_the_environment_is_kept(tmp_path: Path) -> None:
    environ = {"TEMPEN_ALERTS_SCORING_URL": "https://scoring.internal"}
    sup = Supervisor(config_dir=tmp_path, state_dir=tmp_path / "state", environ=environ, ports={"scoring": 18555})
    assert sup.service_env("alerts", 18556)["TEMPEN_ALERTS_SCORING_URL"] == "https://scoring.internal"
