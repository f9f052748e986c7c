"""The Grafana dashboard and its provisioning: valid JSON, valid PromQL, catalogued metrics, a sane layout."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.promql import DEPLOY, expression_problems, metric_names, substitute_grafana_variables
from tests.deploy.tools import run_promtool

GRAFANA = DEPLOY / "grafana"
DASHBOARD_FILE = GRAFANA / "tempen-pipeline.json"
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range", "__all"}


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text(encoding="utf-8"))
    return data


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def _targets() -> list[tuple[str, str]]:
    return [(f"{p['title']}/{t['refId']}", t["expr"]) for p in _panels() for t in p["targets"]]


def test_dashboard_is_titled_and_has_a_stable_uid() -> None:
    dashboard = _dashboard()
    assert dashboard["title"] == "tempen pipeline"
    assert dashboard["uid"] == "tempen-pipeline"


def test_every_panel_queries_prometheus_through_the_ds_prometheus_variable() -> None:
    variables = {v["name"]: v for v in _dashboard()["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    assert variables["DS_PROMETHEUS"]["current"]["value"] == "prometheus", "the provisioned data source's uid"
    for panel in _panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}"


def test_every_variable_a_query_uses_is_defined() -> None:
    defined = {v["name"] for v in _dashboard()["templating"]["list"]} | BUILTIN_VARIABLES
    for where, expr in _targets():
        used = set(re.findall(r"\$\{?(\w+)", expr))
        assert used <= defined, f"{where}: undefined {sorted(used - defined)}"


@pytest.mark.parametrize(("where", "expr"), _targets(), ids=[w for w, _ in _targets()])
def test_query_uses_only_catalogued_metrics_labels_and_values(where: str, expr: str) -> None:
    assert metric_names(expr), f"{where}: no metric found in {expr!r}"
    assert expression_problems(expr) == []


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    rules = [
        {"record": f"dashboard:query_{i}", "expr": substitute_grafana_variables(expr)}
        for i, (_, expr) in enumerate(_targets())
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    result = run_promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_shows_what_issue_7_asks_for() -> None:
    used = set().union(*(metric_names(expr) for _, expr in _targets()))
    for needed in (
        "tempen_submissions_total",
        "tempen_messages_consumed_total",
        "tempen_scoring_latency_seconds_bucket",
        "tempen_alert_decision_latency_seconds_bucket",
        "tempen_notification_delivery_latency_seconds_bucket",
        "tempen_consumer_lag",
        "tempen_outbox_backlog",
        "tempen_outbox_oldest_age_seconds",
        "tempen_dead_letters_total",
        "tempen_notifications_total",
        "tempen_alerts_open",
        "tempen_http_requests_total",
        "up",
    ):
        assert needed in used, f"no panel shows {needed}"
    quantiles = {q for _, expr in _targets() for q in re.findall(r"histogram_quantile\((0\.\d+)", expr)}
    assert {"0.5", "0.95", "0.99"} <= quantiles


def test_panel_ids_are_unique_and_panels_fit_the_grid_without_overlapping() -> None:
    panels = _dashboard()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["w"] > 0, panel["title"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_provisioning_serves_the_dashboard_from_prometheus_with_uid_prometheus() -> None:
    provisioning = GRAFANA / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text(encoding="utf-8"))
    [source] = datasources["datasources"]
    assert (source["type"], source["uid"]) == ("prometheus", "prometheus")
    providers = yaml.safe_load((provisioning / "dashboards" / "tempen.yaml").read_text(encoding="utf-8"))
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    mounts = compose["services"]["grafana"]["volumes"]
    dashboard_mount = next(m for m in mounts if m.startswith("./grafana/tempen-pipeline.json:"))
    target = dashboard_mount.removesuffix(":ro").rpartition(":")[2]
    assert target.startswith(provider["options"]["path"] + "/")
