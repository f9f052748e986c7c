"""A real Prometheus (the Debian package) scrapes every service `tempen up` starts, by its code path."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tempen.supervisor import SERVICES, Supervisor
from tests.auth.helpers import admin_headers
from tests.conftest import Infra
from tests.support import child_environ, eventually, free_port

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

KEY_SERIES = (
    "tempen_outbox_backlog",
    "tempen_outbox_oldest_age_seconds",
    "tempen_http_requests_total",
    "tempen_submissions_total",
    "tempen_messages_consumed_total",
    "tempen_consumer_lag",
    "tempen_scoring_latency_seconds_count",
    "tempen_alerts_open",
    'tempen_http_requests_total{route="/readyz", status="200"}',
)


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        # Never a silent skip: CI installs it (.ci/run); on a workstation say how.
        pytest.fail("the `prometheus` binary is missing: `apt-get install prometheus` (Debian package; not on PyPI)")
    return found


@pytest.fixture
def supervisor(
    infra: Infra, database_url: str, topic_prefix: str, fixture_config: Path, tmp_path: Path
) -> Iterator[Supervisor]:
    sup = Supervisor(
        config_dir=fixture_config,
        state_dir=tmp_path / "state",
        environ=child_environ(
            **{
                "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
                "DATABASE_URL": database_url,
                "TEMPEN_TOPIC_PREFIX": topic_prefix,
            }
        ),
        ports={name: free_port() for name in SERVICES},  # all of them, the portal too, as `tempen up`
        extra_env={"TEMPEN_KAFKA_SESSION_TIMEOUT_MS": "2000", "TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS": "300"},
    )
    sup.start_infrastructure()
    sup.start_services()
    try:
        sup.wait_ready(timeout_s=60)
        yield sup
    finally:
        sup.stop()


async def test_prometheus_scrapes_every_service_and_finds_the_key_series(
    supervisor: Supervisor, tmp_path: Path, database_url: str
) -> None:
    binary = prometheus_binary()
    targets = ", ".join(f"'127.0.0.1:{s.port}'" for s in supervisor.services.values())
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{Path('deploy/prometheus/rules.yml').resolve()}']\n"
        f"scrape_configs:\n  - job_name: tempen\n    static_configs: [{{targets: [{targets}]}}]\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("wb"),
    )
    try:
        ingest = supervisor.services["ingest"].url
        async with httpx.AsyncClient(timeout=10) as http:
            # Real traffic through all three services, so the series that appear once touched exist.
            submission = {
                "instrument": "test-puls",
                "unit": "grupp-a1",
                "submission_id": "smoke-1",
                "submitted_at": "2026-01-15T10:00:00+01:00",
                "answers": {"q1": 4, "q2": 4, "q3": 5},
            }
            response = await http.post(
                f"{ingest}/v1/tenants/testkommun/submissions",
                json=submission,
                headers=await admin_headers(database_url),
            )
            assert response.status_code == 202, response.text
            api = f"http://127.0.0.1:{port}/api/v1"

            async def all_up() -> bool:
                try:
                    active = (await http.get(f"{api}/targets")).json()["data"]["activeTargets"]
                except (httpx.HTTPError, ValueError, KeyError):
                    return False
                return len(active) == len(SERVICES) and all(t["health"] == "up" for t in active)

            await eventually(all_up, timeout_s=30, interval_s=0.5)

            async def present(series: str) -> bool:
                result = (await http.get(f"{api}/query", params={"query": f"count({series})"})).json()
                return bool(result["data"]["result"])

            missing = []
            for series in KEY_SERIES:
                try:
                    await eventually(lambda s=series: present(s), timeout_s=20, interval_s=0.5)
                except AssertionError:
                    missing.append(series)
            rules = (await http.get(f"{api}/rules")).json()["data"]["groups"]
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 10)
    assert not missing, f"series not scraped: {missing}"
    assert rules, "the alerting rules were not loaded"
