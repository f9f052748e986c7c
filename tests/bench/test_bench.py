"""`make bench` on a small burst, against the suite's real broker and database: it must finish, find
every submission scored exactly once, and write its JSON, markdown and chart. A bench nobody runs in
CI rots; this keeps the harness, the generator and the report working on a clean checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench import generator

from tests.conftest import Infra

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # runs the whole system: not in `make test-fast`

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_the_dataset_is_the_same_for_a_seed_and_differs_between_seeds() -> None:
    def bodies(seed: str) -> list[bytes]:
        muni = generator.build(submissions=500, seed=seed, now=NOW)
        return [s.body for s in generator.submissions(muni, 500)]

    first, again, other = bodies("a"), bodies("a"), bodies("b")

    assert first == again
    assert first != other
    assert len({json.loads(b)["submission_id"] for b in first}) == 500


def test_a_small_bench_run_checks_exactly_once_and_writes_its_reports(infra: Infra, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "DATABASE_URL": infra.admin_database_url,
    }
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--submissions",
            "400",
            "--phases",
            "limits,http,steady",
            "--steady-rate",
            "50",
            "--steady-seconds",
            "3",
            "--results",
            str(tmp_path),
            "--label",
            "ci",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    [result] = tmp_path.glob("*-ci.json")
    data = json.loads(result.read_text())
    verification = data["phases"]["http"]["verification"]
    assert verification["ok"], verification
    assert set(verification["contributions_per_model"].values()) == {400}
    assert data["limits"]["kafka"]["round_trip_per_s"] > 0, data["limits"]
    assert data["limits"]["plain"]["messages"] == 400, "the plain per-message baseline took every message"
    assert data["phases"]["http"]["row_writes_per_submission"]["scoring.ledger"] == 1.0
    latency = data["phases"]["steady"]["latency_ms"]
    assert latency["submitted_to_scored"]["p99"] > 0
    # Each live submission is either matched to the first score event that counts it, or reported as
    # published by none (its unit below the anonymity threshold).
    assert latency["submitted_to_published"]["n"] + latency["published_not_found"] == 150
    assert latency["submitted_to_published"]["n"] > 0
    assert (
        latency["submitted_to_published"]["p50"] >= latency["submitted_to_scored"]["p50"]
        or latency["published_not_found"]
    )
    markdown = result.with_suffix(".md").read_text()
    assert "## Targets (reported, not asserted)" in markdown


def test_the_codecs_micro_benchmark_compares_both_ways_on_the_same_values_and_bytes() -> None:
    from bench import codecs

    # measure() itself asserts that both ways read the same submissions and write the same bytes.
    stages, per_event, context = codecs.measure(300, 1)
    assert {s.name.split(":")[0] for s in stages} == {"ingest", "ingest relay", "scoring"}
    assert {s.name.split(":")[0] for s in per_event} == {"scoring relay", "alerts"}
    assert all(s.before_us > 0 and s.now_us > 0 for s in [*stages, *per_event])
    assert all(us > 0 for us in context.values())
    assert "| all of the above |" in codecs.table(stages, per_event, context, 300)
