"""Prometheus configuration and rules: valid for promtool, firing when they should, and only on catalogued metrics."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.promql import DEPLOY, REPO, expression_problems, recording_rules
from tests.deploy.services import SERVICES
from tests.deploy.tools import markdown_anchors, run_promtool

PROMETHEUS = DEPLOY / "prometheus"
RULES = PROMETHEUS / "rules.yml"
CONFIGS = ["prometheus.yml", "prometheus.local.yml", "prometheus.k8s.yml"]
OPERATIONS = REPO / "docs" / "operations.md"


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


ALERTS = [r for r in _rules() if "alert" in r]


def test_promtool_accepts_the_rules() -> None:
    result = run_promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("config", CONFIGS)
def test_promtool_accepts_the_scrape_config_and_the_rules_it_loads(config: str) -> None:
    result = run_promtool("check", "config", config, cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout, "the config must load rules.yml"


def test_alert_rules_fire_as_their_unit_tests_expect() -> None:
    result = run_promtool("test", "rules", "rules_test.yml", cwd=Path(__file__).parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test() -> None:
    tests = yaml.safe_load((Path(__file__).parent / "rules_test.yml").read_text(encoding="utf-8"))["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case["exp_alerts"]}
    assert {r["alert"] for r in ALERTS} - tested == set(), "alerts no test ever sees firing"


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"])
def test_alert_uses_only_catalogued_metrics_and_labels(rule: dict[str, Any]) -> None:
    assert expression_problems(rule["expr"], recorded=frozenset(recording_rules())) == []


@pytest.mark.parametrize("record", sorted(recording_rules()))
def test_recording_rule_uses_only_catalogued_metrics_and_labels(record: str) -> None:
    assert expression_problems(recording_rules()[record], recorded=frozenset(recording_rules())) == []


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"])
def test_alert_has_a_summary_a_severity_and_a_runbook_anchor_that_exists(rule: dict[str, Any]) -> None:
    assert rule["annotations"]["summary"].strip()
    assert rule["labels"]["severity"] in {"warning", "critical"}
    path, _, anchor = rule["annotations"]["runbook_url"].partition("#")
    assert path == "docs/operations.md"
    assert anchor in markdown_anchors(OPERATIONS.read_text(encoding="utf-8")), f"no heading #{anchor} in {path}"


def test_every_condition_issue_7_asks_to_alert_on_has_a_rule() -> None:
    exprs = " ".join(rule["expr"] for rule in _rules())
    for needed in (
        "tempen_consumer_lag",
        "tempen_dead_letters_total",
        "tempen_outbox_oldest_age_seconds",
        "tempen_notifications_total",
        "up{",
        '"/readyz"',
    ):
        assert needed in exprs


@pytest.mark.parametrize("config", CONFIGS)
def test_each_service_is_its_own_scrape_job_on_its_port(config: str) -> None:
    scrape = yaml.safe_load((PROMETHEUS / config).read_text(encoding="utf-8"))["scrape_configs"]
    jobs = {job["job_name"]: job for job in scrape}
    for service, port in SERVICES.items():
        job = jobs[service]
        ports = [t.rsplit(":", 1)[1] for s in job.get("static_configs", []) for t in s["targets"]]
        ports += [str(d["port"]) for d in job.get("dns_sd_configs", [])]
        assert ports, f"{config}: job {service} has no targets"
        assert set(ports) == {str(port)}, f"{config}: job {service} scrapes {ports}"


def test_the_local_config_scrapes_loopback_only() -> None:
    scrape = yaml.safe_load((PROMETHEUS / "prometheus.local.yml").read_text(encoding="utf-8"))["scrape_configs"]
    targets = [t for job in scrape for s in job["static_configs"] for t in s["targets"]]
    assert targets
    assert all(t.startswith("127.0.0.1:") for t in targets)
