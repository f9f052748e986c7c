"""A service that cannot start says why, first, in words: not an earlier run's lines, not a bare traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tempen.embedded import EmbeddedError
from tempen.supervisor import Supervisor
from tests.tenancy.support import copy_config, line_of, replace_in


def test_ingest_with_a_broken_mapping_exits_with_the_problem_first_and_only_this_runs_lines(tmp_path: Path) -> None:
    config = copy_config(tmp_path)
    mapping = config / "mappings/hjo/hjo-puls-typeform.yaml"
    replace_in(mapping, "rutiner: hjo-us-2", "rutiner: hjo-us-22")
    state = tmp_path / "state"
    (state / "logs").mkdir(parents=True)
    (state / "logs" / "ingest.log").write_text('{"level": "error", "message": "a line from last week"}\n')
    # Nothing is reached: ingest reads its configuration before it connects to anything.
    supervisor = Supervisor(config_dir=config, state_dir=state, environ=dict(os.environ))
    supervisor.bootstrap_servers = "127.0.0.1:9"
    supervisor.database_url = "postgresql://tempen@127.0.0.1:9/tempen"
    supervisor.start_service("ingest")
    try:
        with pytest.raises(EmbeddedError) as failed:
            supervisor.wait_ready(timeout_s=60, names=("ingest",))
    finally:
        supervisor.stop_services(["ingest"])
    message = str(failed.value)
    first, *lines = message.splitlines()
    assert first == "ingest exited during start-up (exit code 2):"
    assert lines[0] == (
        f"  configuration problem: {mapping}:{line_of(mapping, 'rutiner: hjo-us-22')}: "
        "questions.rutiner: 'hjo-us-22' is not an item of 'hjo-puls'"
    )
    assert "1 configuration problem (listed above)" in lines[1]
    assert "a line from last week" not in message
    assert "Traceback" not in message
    assert lines[-1] == f"Its whole log: {state / 'logs' / 'ingest.log'}"
