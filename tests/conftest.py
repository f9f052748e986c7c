"""Fixtures that start real parts: the embedded Kafka-protocol broker and PostgreSQL, unless
KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL point at real ones. Integration tests never skip for want
of them: if a part cannot start, the test errors with the reason."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tempen.embedded import EmbeddedBroker, EmbeddedPostgres

FIXTURE_CONFIG = Path(__file__).parent / "fixtures" / "config"

# Tests whose data or expectations are placed relative to today: `make test-dates` runs them again at
# pinned dates (month ends, DST switches, New Year's Eve, a leap day), with the services, the broker
# and PostgreSQL all on that date.
DATED_MODULES = frozenset(
    {
        "tests/alerts/cli/test_backtest_command.py",
        "tests/alerts/cli/test_demo_command.py",
        "tests/alerts/integration/test_notifier.py",  # the notification sweeper
        "tests/alerts/integration/test_unacknowledged_escalation.py",  # the alert sweeper
        "tests/ingest/contract/test_submission_store_contract.py",  # retention
        "tests/ingest/integration/test_ingest_http.py",
        "tests/ingest/integration/test_privacy.py",  # retention
        "tests/ops/test_dlq_replay.py",
        "tests/scoring/unit/test_periods.py",
        "tests/tenancy/test_org_command.py",
        "tests/test_pinned_clock.py",
    }
)


# End-to-end tests run at every pinned date only where the dates are what they test: the pipeline (months
# closing, the sweepers' decisions, alerts opening), an alert's life (escalation after months, recovery),
# the README's first command (its example submission must be accepted on any date) and My units and the
# overview (which periods have closed, within their grace, decides what they show). The other e2e
# tests place their data with test_pipeline's `month_start` and `pulse`, which those runs cover, and test
# something else: a crash mid-stream, an outage, pages in a real browser (the portal's own dates, a
# link's expiry or a session's hours, are tested with an injected clock in tests/portal/). Running them
# at seven dates would add a quarter of an hour to CI and no date that the runs above do not try.
DATED_E2E = frozenset(
    {
        "tests/e2e/test_alert_lifecycle.py",
        "tests/e2e/test_pipeline.py",
        "tests/e2e/test_portal_overview_browser.py",  # the pages read scoring's latest closed period
        "tests/e2e/test_readme_first_command.py",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    """A pinned-date run (`make test-dates` sets TEMPEN_PINNED_DATE) that is not on that date would
    silently test today again: refuse it, as a list of dated modules naming one that is gone."""
    # A listed module renamed or moved would quietly drop out of the pinned-date runs.
    missing = sorted(m for m in DATED_MODULES | DATED_E2E if not (Path(str(config.rootpath)) / m).is_file())
    if missing:
        pytest.exit(f"tests/conftest.py lists dated test modules that do not exist: {', '.join(missing)}", returncode=4)
    pinned = os.environ.get("TEMPEN_PINNED_DATE")
    if pinned:
        target = datetime.fromisoformat(pinned)
        now = datetime.now(UTC)
        if not target <= now + timedelta(seconds=5) < target + timedelta(minutes=10):
            pytest.exit(f"TEMPEN_PINNED_DATE={pinned} but this process's clock says {now.isoformat()}", returncode=3)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        module = Path(str(item.path)).relative_to(root).as_posix()
        if module in DATED_MODULES or module in DATED_E2E:
            item.add_marker(pytest.mark.dated)


@dataclass(frozen=True)
class Infra:
    bootstrap_servers: str
    admin_database_url: str

    def database_url(self, name: str) -> str:
        base, _, _ = self.admin_database_url.rpartition("/")
        return f"{base}/{name}"


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    admin_url = os.environ.get("DATABASE_URL")
    try:
        if not bootstrap:
            broker = EmbeddedBroker(log_path=tmp_path_factory.mktemp("broker") / "tansu.log")
            broker.start()
            bootstrap = broker.bootstrap_servers
        if not admin_url:
            # Not under pytest's tmp dir: pytest makes that 0700 at every session start, which would lock
            # out the unprivileged user the server runs as when another pytest session starts.
            pg_root = Path(tempfile.mkdtemp(prefix="tempen-test-pg-"))
            pg_root.chmod(0o755)
            postgres = EmbeddedPostgres(pgdata=pg_root / "pgdata")
            postgres.start()
            admin_url = postgres.admin_url
        yield Infra(bootstrap_servers=bootstrap, admin_database_url=admin_url)
    finally:
        if broker:
            broker.stop()
        if postgres:
            postgres.stop()
            shutil.rmtree(postgres.pgdata.parent, ignore_errors=True)


@pytest.fixture
async def database_url(infra: Infra) -> AsyncIterator[str]:
    """A fresh, empty database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.admin_database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield infra.database_url(name)
    admin = await asyncpg.connect(infra.admin_database_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def topic_prefix() -> str:
    """Topics of one test never meet another test's: every test gets its own prefix."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
def fixture_config() -> Path:
    return FIXTURE_CONFIG


@pytest.fixture(autouse=True)
async def fail_on_event_loop_errors() -> AsyncIterator[None]:
    """Fail any test whose tasks died with an exception nobody awaited (asyncpg's _testbase idea)."""
    loop = asyncio.get_running_loop()
    errors: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield
    gc.collect()
    loop.set_exception_handler(previous)
    assert not errors, f"unhandled exceptions in the event loop: {errors}"
