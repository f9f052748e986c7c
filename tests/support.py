"""Helpers for tests that run services for real (a plain module: never import from conftest)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition

if TYPE_CHECKING:
    from tempen_scoring.config import ScoringSettings

# Variables that pin the whole run's clock (libfaketime, see `make test-dates`): every child process
# must see them, or a service would live on another day than the test that drives it.
PINNED_CLOCK_VARIABLES = ("LD_PRELOAD", "FAKETIME", "FAKETIME_NO_CACHE", "TZ")


def child_environ(**values: str) -> dict[str, str]:
    """A minimal environment for services a test starts: PATH, the pinned clock if any, and `values`."""
    env = {"PATH": "/usr/bin:/bin"}
    env.update({name: os.environ[name] for name in PINNED_CLOCK_VARIABLES if name in os.environ})
    env.update(values)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scoring_settings(
    *, bootstrap_servers: str, database_url: str, config_dir: Path | str, topic_prefix: str, **overrides: Any
) -> ScoringSettings:
    """Scoring's settings for a test on the real broker and PostgreSQL. A short session lets the group
    notice a consumer gone in about 2 s rather than 45 s; `overrides` by field name or variable."""
    from tempen_scoring.config import ScoringSettings

    options: dict[str, Any] = {"TEMPEN_KAFKA_SESSION_TIMEOUT_MS": 2000, "TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS": 300}
    options.update(overrides)
    return ScoringSettings(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers,
        DATABASE_URL=database_url,
        TEMPEN_CONFIG_DIR=config_dir,
        TEMPEN_TOPIC_PREFIX=topic_prefix,
        **options,
    )


@asynccontextmanager
async def serving(app: Any, *, port: int | None = None) -> AsyncIterator[str]:
    """Run an ASGI app (lifespan included) on a real loopback port; yields its base URL."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_config=None))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped during startup")
            await asyncio.sleep(0.02)
        # FastStream answers HTTP before its subscribers have joined their groups; a test that ends
        # before they have would stop the app mid-start and leak a consumer. Wait for the brokers.
        deadline = asyncio.get_running_loop().time() + 60
        while not all(getattr(b, "running", True) for b in getattr(app, "brokers", ())):
            if task.done() or asyncio.get_running_loop().time() > deadline:
                raise RuntimeError("the app's broker did not start")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=30)


async def eventually(predicate: Callable[[], Any], *, timeout_s: float = 30.0, interval_s: float = 0.1) -> Any:
    """Await `predicate()` (sync or async) until it returns something truthy; fail after the timeout."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = predicate()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last value: {last!r})")


async def read_topic(bootstrap: str, topic: str, *, count: int, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Read `count` JSON records from the start of `topic` (all partitions), with their keys and headers."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(out) < count and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    out.append(
                        {
                            "key": record.key,
                            "value": orjson.loads(record.value),
                            "headers": dict(record.headers or ()),
                            "partition": record.partition,
                        }
                    )
    finally:
        await consumer.stop()
    return out


async def committed_offsets(bootstrap: str, topic: str, group: str) -> dict[int, int]:
    """The offsets Kafka holds for `group` on the partitions of `topic`, where it holds one."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = sorted(consumer.partitions_for_topic(topic) or ())
        offsets = {p: await consumer.committed(TopicPartition(topic, p)) for p in partitions}
    finally:
        await consumer.stop()
    return {p: offset for p, offset in offsets.items() if offset is not None}


async def metric(http: httpx.AsyncClient, line: str) -> float:
    """The value of one sample of a service's /metrics (`http` on its base URL), by its name and labels as
    printed; 0 when absent."""
    for row in (await http.get("/metrics")).text.splitlines():
        if row.startswith(line + " "):
            return float(row.rpartition(" ")[2])
    return 0.0


async def read_all(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record of `topic` up to its end now (all partitions), as `read_topic` gives them."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out.extend(
                    {
                        "key": record.key,
                        "value": orjson.loads(record.value),
                        "headers": dict(record.headers or ()),
                        "partition": record.partition,
                    }
                    for record in records
                )
    finally:
        await consumer.stop()
    return out


def json_log_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a service's log file, one a line (lines that are not JSON are skipped)."""
    lines: list[dict[str, Any]] = []
    for line in path.read_text(errors="replace").splitlines():
        with contextlib.suppress(orjson.JSONDecodeError):
            value = orjson.loads(line)
            if isinstance(value, dict):
                lines.append(value)
    return lines


class MailSink:
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        self.port = free_port()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
                import email
                from email import policy

                sink.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
                return "250 Message accepted for delivery"

        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]


class TcpProxy:
    """A loopback TCP proxy in front of a real server, which a test can cut and restore: a real
    network failure (connections reset, new ones refused) without stopping a server other tests use."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def cut(self) -> None:
        """Reset every open connection and refuse new ones until `start()`."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers |= {client_writer, upstream_writer}

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            writer.transport.abort()

        await asyncio.gather(pump(client_reader, upstream_writer), pump(upstream_reader, client_writer))
        self._writers -= {client_writer, upstream_writer}


def proxied_database_url(database_url: str, proxy: TcpProxy) -> str:
    """`database_url` with its host and port replaced by the proxy's."""
    parts = urlsplit(database_url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))
