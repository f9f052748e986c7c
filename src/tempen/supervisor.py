"""`tempen up`: the embedded broker and database (unless URLs are given) and the three services as
separate supervised processes. Also the code path the end-to-end and crash tests drive."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tempen.embedded import EmbeddedBroker, EmbeddedError, EmbeddedPostgres, free_port
from tempen_shared.kafka import ensure_topics
from tempen_shared.topics import all_topic_names

SERVICES: dict[str, tuple[str, int]] = {
    "ingest": ("tempen_ingest", 8001),
    "scoring": ("tempen_scoring", 8002),
    "alerts": ("tempen_alerts", 8003),
    "portal": ("tempen_portal", 8000),
}
# Services whose consumers read topics an outbox refills after an embedded broker restart.
RESTARTED_WITH_BROKER = frozenset({"scoring", "alerts"})


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _error_text(line: str) -> str | None:
    """The message of an error line of a service's JSON log, with its exception's last line; else None.

    A traceback's useful line is its last one ("ValueError: ..."), so that is what is kept of it."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("level") not in ("error", "critical"):
        return None
    text = str(record.get("message", ""))
    exception = record.get("exception")
    if isinstance(exception, str) and exception.strip():
        text += f" ({exception.strip().splitlines()[-1]})"
    return text


@dataclass
class ServiceProcess:
    name: str
    module: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    replica_of: str = ""  # the service this process is another replica of ("scoring" for "scoring-2")
    log_start: int = 0  # where this run's lines begin in log_path: the file keeps earlier runs' lines

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Supervisor:
    """Starts and watches everything. Environment overrides: KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL."""

    config_dir: Path
    state_dir: Path
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    ports: Mapping[str, int] | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    selected: tuple[str, ...] | None = None  # the SERVICES `start_services` starts; None: all of them
    broker: EmbeddedBroker | None = None
    postgres: EmbeddedPostgres | None = None
    bootstrap_servers: str = ""
    database_url: str = ""
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    _chosen_ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Resolved once: the services and the database run with other working directories.
        self.config_dir = self.config_dir.absolute()
        self.state_dir = self.state_dir.absolute()

    def start_infrastructure(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "logs").mkdir(exist_ok=True)
        self.bootstrap_servers = self.environ.get("KAFKA_BOOTSTRAP_SERVERS", "")
        if not self.bootstrap_servers:
            port = int(self.environ.get("TEMPEN_EMBEDDED_KAFKA_PORT", "9092"))
            self.broker = EmbeddedBroker(
                port=port if _port_free(port) else free_port(), log_path=self.state_dir / "logs" / "broker.log"
            )
            self.broker.start()
            self.bootstrap_servers = self.broker.bootstrap_servers
        self.database_url = self.environ.get("DATABASE_URL", "")
        if not self.database_url:
            port = int(self.environ.get("TEMPEN_EMBEDDED_POSTGRES_PORT", "54329"))
            self.postgres = EmbeddedPostgres(
                pgdata=self.state_dir / "pgdata", port=port if _port_free(port) else free_port()
            )
            self.postgres.start()
            self.database_url = self.postgres.url
        self.create_topics()

    def create_topics(self) -> None:
        prefix = self.environ.get("TEMPEN_TOPIC_PREFIX", "")
        topics = {f"{prefix}{name}": partitions for name, partitions in all_topic_names().items()}
        replication = int(self.environ.get("TEMPEN_KAFKA_REPLICATION_FACTOR", "1"))
        asyncio.run(ensure_topics(self.bootstrap_servers, topics, replication_factor=replication))

    def service_env(self, name: str, port: int) -> dict[str, str]:
        env = dict(self.environ)
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap_servers,
            DATABASE_URL=self.database_url,
            TEMPEN_CONFIG_DIR=str(self.config_dir),
            TEMPEN_STATE_DIR=str(self.state_dir),
            PYTHONUNBUFFERED="1",
        )
        env[f"TEMPEN_{name.upper()}_PORT"] = str(port)
        if name == "alerts":  # its backtest reads scoring's scores through scoring's API
            env.setdefault(
                "TEMPEN_ALERTS_SCORING_URL", f"http://127.0.0.1:{self._port_of('scoring', SERVICES['scoring'][1])}"
            )
        if self.broker is not None:
            # The embedded broker is one process on this machine: short group timeouts make
            # consumers join in well under a second instead of Kafka's multi-second defaults.
            env.setdefault("TEMPEN_KAFKA_SESSION_TIMEOUT_MS", "6000")
            env.setdefault("TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS", "500")
        env.update(self.extra_env)
        return env

    def start_service(self, name: str) -> ServiceProcess:
        service = self.services.get(name)
        if service is None:
            module, default_port = SERVICES[name]
            port = self._port_of(name, default_port)
            service = ServiceProcess(name, module, port, self.state_dir / "logs" / f"{name}.log")
        return self._spawn(service)

    def start_replica(self, name: str, number: int) -> ServiceProcess:
        """Another process of service `name` in the same consumer group, on a free port, supervised as
        `<name>-<number>` (the bench's `--scoring-replicas`)."""
        replica_name = f"{name}-{number}"
        replica = self.services.get(replica_name) or ServiceProcess(
            replica_name,
            SERVICES[name][0],
            free_port(),
            self.state_dir / "logs" / f"{replica_name}.log",
            replica_of=name,
        )
        return self._spawn(replica)

    def _spawn(self, service: ServiceProcess) -> ServiceProcess:
        log = service.log_path.open("ab")
        service.log_start = log.tell()
        service.process = subprocess.Popen(
            [sys.executable, "-m", service.module],
            env=self.service_env(service.replica_of or service.name, service.port),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.services[service.name] = service
        return service

    def _port_of(self, name: str, default_port: int) -> int:
        """The port given to the supervisor, else TEMPEN_<NAME>_PORT from its environment, else the default."""
        chosen = self._chosen_ports.get(name)
        if chosen is None:
            if self.ports is not None:  # a caller that chose ports (tests, the bench) gets free ones for the rest
                chosen = self.ports.get(name) or free_port()
            else:
                chosen = int(self.environ.get(f"TEMPEN_{name.upper()}_PORT", default_port))
            self._chosen_ports[name] = chosen
        return chosen

    def start_services(self) -> None:
        names = self.selected if self.selected is not None else tuple(SERVICES)
        if "portal" in names:
            self._prepare_portal()
        for name in names:
            self.start_service(name)

    def _prepare_portal(self) -> None:
        """The portal reads and writes through the other services' APIs with its own token, and checks the
        e-mail links alerts signs with a secret the two share. Unless the environment gives them, both are
        made once and kept in the state directory (0600), so links sent before a restart keep working."""
        from tempen.commands.tokens import ensure_service_token, private_text

        extra = dict(self.extra_env)
        if not self.environ.get("TEMPEN_LINK_SECRET") and "TEMPEN_LINK_SECRET" not in extra:
            extra["TEMPEN_LINK_SECRET"] = private_text(self.state_dir / "link-secret", lambda: secrets.token_hex(32))
        if not self.environ.get("TEMPEN_PORTAL_API_TOKEN") and "TEMPEN_PORTAL_API_TOKEN" not in extra:
            extra["TEMPEN_PORTAL_API_TOKEN"] = ensure_service_token(self.database_url, self.state_dir, "portal")
        if not self.environ.get("TEMPEN_PORTAL_URL") and "TEMPEN_PORTAL_URL" not in extra:
            extra["TEMPEN_PORTAL_URL"] = f"http://127.0.0.1:{self._port_of('portal', SERVICES['portal'][1])}"
        for name, url_var in (("scoring", "TEMPEN_PORTAL_SCORING_URL"), ("alerts", "TEMPEN_PORTAL_ALERTS_URL")):
            extra.setdefault(url_var, f"http://127.0.0.1:{self._port_of(name, SERVICES[name][1])}")
        self.extra_env = extra

    def wait_ready(self, *, timeout_s: float = 60.0, names: tuple[str, ...] | None = None) -> dict[str, float]:
        """Wait for /readyz of each service; returns seconds to ready. Raises with the log tail on failure."""
        started = time.monotonic()
        ready: dict[str, float] = {}
        pending = set(names or self.services)
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name in sorted(pending):
                    service = self.services[name]
                    if not service.alive():
                        raise EmbeddedError(self.startup_failure(name))
                    with contextlib.suppress(httpx.HTTPError):
                        if client.get(f"{service.url}/readyz").status_code == 200:
                            ready[name] = time.monotonic() - started
                            pending.discard(name)
                if pending and time.monotonic() - started > timeout_s:
                    tails = "\n".join(f"--- {n}\n{self.log_tail(n)}" for n in sorted(pending))
                    raise EmbeddedError(f"not ready after {timeout_s:.0f}s: {', '.join(sorted(pending))}\n{tails}")
                time.sleep(0.1)
        return ready

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The last `lines` lines this run of `name` wrote (not an earlier run's, kept above them in the file)."""
        service = self.services[name]
        if not service.log_path.exists():
            return "(no log)"
        with service.log_path.open("rb") as log:
            log.seek(service.log_start)
            text = log.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def startup_failure(self, name: str) -> str:
        """Why `name` exited while starting, as a person reads it: its errors first, then where the log is."""
        service = self.services[name]
        code = service.process.returncode if service.process is not None else None
        tail = self.log_tail(name, lines=200).splitlines()
        errors = [text for line in tail if (text := _error_text(line))]
        shown = errors[-20:] or tail[-30:]
        return (
            f"{name} exited during start-up (exit code {code}):\n"
            + "\n".join(f"  {line}" for line in shown)
            + f"\nIts whole log: {service.log_path}"
        )

    def kill_service(self, name: str, sig: int = signal.SIGKILL) -> None:
        service = self.services[name]
        if service.process is not None and service.process.poll() is None:
            service.process.send_signal(sig)
            service.process.wait(timeout=30)

    def stop_service(self, name: str, timeout_s: float = 25.0) -> None:
        self.stop_services([name], timeout_s=timeout_s)

    def stop_services(self, names: list[str], timeout_s: float = 25.0) -> None:
        """SIGTERM to all of `names` at once, SIGKILL to whichever has not exited by the deadline."""
        running = [p for p in (self.services[n].process for n in names) if p is not None and p.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def watch_once(self) -> list[str]:
        """Restart whatever died; returns what was restarted.

        A restarted embedded broker comes back empty, with a new cluster id. The outbox relays see
        the new id and publish again what the old broker had. The consumers of those topics
        (scoring, alerts) are stopped *before* the new broker is up, so none of them reads it at
        a position it had on the old one (the relays refill the topics from offset 0 within
        seconds, so a stale position could skip records); started again, they join fresh groups
        and read from the earliest offset. Ingest keeps running: it answers clients from
        PostgreSQL alone, its relay follows the new id, and its intake consumer, whose topic
        starts empty on the new broker, rejoins its group there.
        """
        restarted: list[str] = []
        if self.broker is not None and not self.broker.alive():
            consumers = [name for name in self.services if name in RESTARTED_WITH_BROKER]
            # The broker is gone, so a graceful stop has nothing to commit or leave; do not wait long.
            self.stop_services(consumers, timeout_s=5.0)
            self.broker.start()
            self.create_topics()
            for name in consumers:
                self.start_service(name)
            return ["broker", *consumers]
        for name, service in self.services.items():
            if not service.alive():
                service.restarts += 1
                self.start_service(name)
                restarted.append(name)
        return restarted

    def stop(self) -> None:
        self.stop_services(list(self.services))
        if self.broker is not None:
            self.broker.stop()
        if self.postgres is not None:
            self.postgres.stop()
