"""The README's first command, as written, in a fresh copy of the working tree.

`make run` from the copy's own folder, with no state directory set (the default relative
`.tempen`), brings the four services to ready; the README's example submission, sent with the token
file the README names, is accepted and scored; Ctrl-C (SIGINT to the process group, as a terminal
sends it) stops every process it started; a second `make run` finds the submission again.

The example submission, the token file and the answers the README prints are read out of README.md,
so the README cannot drift from what the product does. Two things differ from a new user's machine,
on purpose: the copy uses this checkout's installed virtual environment (`VENV=`; a fresh install is
what CI's clean clone does before this test runs), and the ports come from the environment so this can
run beside other tests.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import child_environ, free_port

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

ROOT = Path(__file__).parents[2]
README = ROOT / "README.md"


@dataclass(frozen=True)
class ReadmeExample:
    token_file: str  # as the README names it, relative to the checkout
    url_path: str
    body: dict[str, object]
    answer: dict[str, object]


def readme_example() -> ReadmeExample:
    """The first submission example in the README: its curl's path and body, and the answer it shows."""
    text = README.read_text(encoding="utf-8")
    token = re.search(r"export TEMPEN_TOKEN=\$\(cat ([^)]+)\)", text)
    assert token, "the README says where the development token is (export TEMPEN_TOKEN=$(cat ...))"
    block = re.search(r"```sh\n(curl -s -X POST http://127\.0\.0\.1:8001(/v1/\S+/submissions).*?)```", text, re.S)
    assert block, "the README has a curl example that POSTs a submission to ingest"
    command, answer = block.group(1).split("\n# ", 1)
    words = shlex.split(command.replace("\\\n", " "))
    body = json.loads(words[words.index("-d") + 1])
    return ReadmeExample(token.group(1), block.group(2), body, json.loads(answer.splitlines()[0]))


def copy_working_tree(destination: Path) -> None:
    """What a clone of this working tree would hold: tracked and untracked files, not ignored ones.
    Modification times are kept, so make sees the copied virtual environment as up to date."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, by parent links in /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def described(pids: list[int]) -> dict[int, str]:
    """What each process is, for a failure message."""
    out: dict[int, str] = {}
    for pid in pids:
        try:
            out[pid] = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
        except OSError:
            out[pid] = "(gone)"
    return out


@dataclass
class MakeRun:
    """`make run` in the copy, in its own process group, as a terminal would start it."""

    folder: Path
    env: dict[str, str]
    ports: dict[str, int]
    process: subprocess.Popen[bytes] | None = None
    seen: frozenset[int] = frozenset()

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["make", "run", f"VENV={ROOT / '.venv'}", "-o", str(ROOT / ".venv" / ".installed")],
            cwd=self.folder,
            env=self.env,
            stdout=(self.folder / "make-run.out").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout_s: float = 120) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        pending = set(self.ports)
        with httpx.Client(timeout=2) as client:
            while pending and time.monotonic() < deadline:
                assert self.process.poll() is None, f"make run exited {self.process.returncode}:\n{self.output()}"
                for name in sorted(pending):
                    try:
                        if client.get(f"http://127.0.0.1:{self.ports[name]}/readyz").status_code == 200:
                            pending.discard(name)
                    except httpx.HTTPError:
                        pass
                time.sleep(0.2)
        assert not pending, f"not ready after {timeout_s:.0f}s: {sorted(pending)}\n{self.output()}"
        self.seen = frozenset(descendants(self.process.pid) | self.postmaster())

    def postmaster(self) -> set[int]:
        # pg_ctl starts the server detached: it is no descendant of make, so it is found by its pid file.
        pid_file = self.folder / ".tempen" / "pgdata" / "postmaster.pid"
        return {int(pid_file.read_text().split()[0])} if pid_file.exists() else set()

    def interrupt(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise AssertionError(f"make run did not stop within 90s of Ctrl-C:\n{self.output()}") from None

    def output(self) -> str:
        return (self.folder / "make-run.out").read_text(errors="replace")[-4000:]


@pytest.fixture
def fresh_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "tempen"
    copy_working_tree(folder)
    folder.chmod(0o755)
    tmp_path.chmod(0o755)  # as root, the database's own user must reach its data folder
    return folder


def test_make_run_as_the_readme_says_from_a_fresh_copy_then_ctrl_c_and_again(fresh_copy: Path) -> None:
    example = readme_example()
    ports = {"ingest": free_port(), "scoring": free_port(), "alerts": free_port(), "portal": free_port()}
    env = child_environ(
        HOME=os.environ.get("HOME", "/root"),
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        TEMPEN_INGEST_PORT=str(ports["ingest"]),
        TEMPEN_SCORING_PORT=str(ports["scoring"]),
        TEMPEN_ALERTS_PORT=str(ports["alerts"]),
        TEMPEN_PORTAL_PORT=str(ports["portal"]),
        TEMPEN_EMBEDDED_KAFKA_PORT=str(free_port()),
        TEMPEN_EMBEDDED_POSTGRES_PORT=str(free_port()),
    )
    assert "TEMPEN_STATE_DIR" not in env
    assert "TEMPEN_CONFIG_DIR" not in env
    run = MakeRun(fresh_copy, env, ports)
    ingest = f"http://127.0.0.1:{ports['ingest']}"
    scoring = f"http://127.0.0.1:{ports['scoring']}"

    run.start()
    try:
        run.wait_ready()
        token_file = fresh_copy / example.token_file
        assert token_file.is_file(), f"make run wrote no {example.token_file}:\n{run.output()}"
        headers = {"authorization": f"Bearer {token_file.read_text().strip()}"}
        first = httpx.post(f"{ingest}{example.url_path}", json=example.body, headers=headers, timeout=30)
        assert first.status_code == 202, first.text
        assert first.json() == example.answer, "the README shows the answer ingest really gives"

        tenant = example.url_path.split("/")[3]
        unit, period = str(example.body["unit"]), str(example.body["submitted_at"])[:7]
        scores_url = f"{scoring}/v1/tenants/{tenant}/units/{unit}/scores"
        deadline = time.monotonic() + 60
        periods: set[str] = set()
        while period not in periods and time.monotonic() < deadline:
            response = httpx.get(scores_url, headers=headers, timeout=10)
            assert response.status_code == 200, response.text
            periods = {p["period"] for s in response.json()["series"] for p in s["points"]}
            time.sleep(0.3)
        assert period in periods, f"scoring never scored {period} for {unit}: {response.text}"
    finally:
        run.interrupt()

    assert run.process is not None
    assert run.process.returncode in (0, 2, -signal.SIGINT), run.output()
    assert "Stopped." in run.output()
    left = sorted(pid for pid in run.seen if alive(pid))
    assert not left, f"processes left after Ctrl-C: {described(left)}"

    run.start()
    try:
        run.wait_ready()
        again = httpx.post(f"{ingest}{example.url_path}", json=example.body, headers=headers, timeout=30)
        assert again.status_code == 202, again.text
        assert again.json()["status"] == "duplicate", "the second make run found the stored submission"
    finally:
        run.interrupt()
    left = sorted(pid for pid in run.seen if alive(pid))
    assert not left, f"processes left after the second Ctrl-C: {described(left)}"
