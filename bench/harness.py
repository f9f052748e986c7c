"""Runs the phases of a bench against the real services, started by the Supervisor as `tempen up` does.

Every phase that starts services gets its own database and topic prefix on the same broker and
PostgreSQL, so phases never see each other's data. The steady phase runs on the services of the
intake burst once that has drained: a system holding a full burst when the next month's pulse comes in.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import gc
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench import baselines, generator, profiling
from bench.generator import Municipality, Submission
from bench.plain import plain_per_message
from bench.probes import (
    MetricsClient,
    ResourceSampler,
    SamplerProcess,
    Samples,
    histogram,
    histogram_delta,
    histogram_quantile,
    value,
)
from tempen.embedded import free_port
from tempen.supervisor import Supervisor
from tempen_shared.topics import INTAKE, SCORES

PHASES = ("limits", "http", "intake", "steady")
STATS_FLUSH_S = 11.0  # past PostgreSQL's PGSTAT_IDLE_INTERVAL (10 s): every backend has reported its rows
PLAIN_COUNT = 3_000  # messages through the plain per-message implementation (about 100/s: bounded)
SERVICES = ("ingest", "scoring", "alerts")
TICK_S = 0.25


@dataclass
class BenchConfig:
    submissions: int = 1_000_000
    employees: int | None = None
    periods: int | None = None
    seed: str = "tempen-bench-v1"
    phases: tuple[str, ...] = PHASES
    http_batch: int = 10_000
    http_concurrency: int = 2
    steady_rate: int = 1_000
    steady_seconds: float = 60.0
    steady_batch: int = 10
    timeout_s: float | None = None
    profile: tuple[str, ...] = ()  # phases during which py-spy samples the services
    keep: bool = False
    service_env: dict[str, str] = field(default_factory=dict)
    scoring_replicas: int = 1  # scoring processes in one consumer group
    label: str = ""

    def drain_timeout(self) -> float:
        return self.timeout_s or 300 + self.submissions / 250


def log(message: str) -> None:
    print(f"[bench {datetime.now().astimezone():%H:%M:%S}] {message}", flush=True)


class Infrastructure:
    """The broker and database every phase shares: embedded unless KAFKA_BOOTSTRAP_SERVERS /
    DATABASE_URL are set, exactly as `tempen up` decides."""

    def __init__(self, root: Path) -> None:
        self.root = root
        environ = dict(os.environ)
        environ.setdefault("TEMPEN_EMBEDDED_KAFKA_PORT", str(free_port()))
        environ.setdefault("TEMPEN_EMBEDDED_POSTGRES_PORT", str(free_port()))
        self.supervisor = Supervisor(config_dir=root / "config", state_dir=root / "infra", environ=environ)

    def start(self) -> None:
        self.supervisor.start_infrastructure()

    def stop(self) -> None:
        if self.supervisor.broker is not None:
            self.supervisor.broker.stop()
        if self.supervisor.postgres is not None:
            self.supervisor.postgres.stop()

    @property
    def bootstrap_servers(self) -> str:
        return self.supervisor.bootstrap_servers

    @property
    def embedded_broker(self) -> bool:
        return self.supervisor.broker is not None

    def database_url(self, name: str) -> str:
        base, _, _ = self.supervisor.database_url.rpartition("/")
        return f"{base}/{name}"

    async def create_database(self, name: str) -> str:
        conn = await asyncpg.connect(self.supervisor.database_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.database_url(name)

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.supervisor.database_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    def broker_pid(self) -> int | None:
        broker = self.supervisor.broker
        return broker.process.pid if broker is not None and broker.process is not None else None

    def postgres_pid(self) -> int | None:
        postgres = self.supervisor.postgres
        if postgres is None:
            return None
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((postgres.pgdata / "postmaster.pid").read_text().splitlines()[0])
        return None

    def describe(self) -> dict[str, str]:
        return {
            "broker": "embedded Tansu (memory)" if self.embedded_broker else f"external {self.bootstrap_servers}",
            "database": "embedded PostgreSQL 18" if self.supervisor.postgres is not None else "external PostgreSQL",
        }


class Deployment:
    """ingest, scoring and alerts on their own database and topic prefix, started by the Supervisor."""

    def __init__(
        self,
        infra: Infrastructure,
        *,
        name: str,
        config_dir: Path,
        extra_env: dict[str, str],
        scoring_replicas: int = 1,
    ) -> None:
        self.infra = infra
        self.name = name
        self.database = f"tempen_bench_{name}"
        self.prefix = f"bench{os.getpid()}-{name}."
        self.state_dir = infra.root / name
        self.config_dir = config_dir
        self.extra_env = extra_env
        self.scoring_replicas = scoring_replicas
        self.database_url = ""
        self.token: str | None = None
        self.supervisor: Supervisor | None = None

    async def start(self) -> None:
        self.database_url = await self.infra.create_database(self.database)
        environ = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
        environ |= {
            "KAFKA_BOOTSTRAP_SERVERS": self.infra.bootstrap_servers,
            "DATABASE_URL": self.database_url,
            "TEMPEN_TOPIC_PREFIX": self.prefix,
        }
        # The prefix gives every phase topics and consumer groups of its own (ServiceSettings.consumer_group),
        # so no group carries members or offsets over from another phase.
        extra = dict(self.extra_env)
        if self.infra.embedded_broker:
            extra.setdefault("TEMPEN_KAFKA_SESSION_TIMEOUT_MS", "6000")
            extra.setdefault("TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS", "500")
        sup = Supervisor(
            config_dir=self.config_dir,
            state_dir=self.state_dir,
            environ=environ,
            ports={n: free_port() for n in SERVICES},
            extra_env=extra,
            selected=SERVICES,  # the portal serves people, not submissions
        )
        self.supervisor = sup
        await asyncio.to_thread(sup.start_infrastructure)  # with both URLs set: only our topics are created
        self.token = await asyncio.to_thread(_admin_token, self.database_url, self.state_dir)
        sup.start_services()
        for number in range(2, self.scoring_replicas + 1):
            sup.start_replica("scoring", number)
        await asyncio.to_thread(sup.wait_ready, timeout_s=120)
        await wait_for_groups(self.infra.bootstrap_servers, [f"{self.prefix}{service}" for service in SERVICES])

    def replicas(self) -> list[str]:
        """The extra replicas' names (`scoring-2`, ...)."""
        return [n for n in (self.supervisor.services if self.supervisor else {}) if n not in SERVICES]

    def url(self, service: str) -> str:
        assert self.supervisor is not None
        return self.supervisor.services[service].url

    def pid(self, service: str) -> int | None:
        assert self.supervisor is not None
        process = self.supervisor.services[service].process
        return process.pid if process is not None else None

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        return headers

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()

    def log_tails(self) -> str:
        if self.supervisor is None:
            return ""
        return "\n".join(
            f"--- {n}\n" + "\n".join(line[:300] for line in self.supervisor.log_tail(n, 4).splitlines())
            for n in self.supervisor.services
        )


async def wait_for_groups(bootstrap: str, groups: list[str], timeout_s: float = 60.0) -> None:
    """Ready is not joined: wait until every consumer group has a member and a stable assignment, so that
    the time a group takes to form is not counted as processing time."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            stable = set()
            for group_id in groups:  # one per request: Tansu garbles a DescribeGroups answer about several
                for response in await admin.describe_consumer_groups([group_id]):
                    for group in response.groups:
                        _error, _id, state, _kind, _protocol, members = group[:6]
                        if state == "Stable" and members:
                            stable.add(group_id)
            if stable >= set(groups):
                return
            await asyncio.sleep(0.2)
        log(f"consumer groups not all stable after {timeout_s:.0f}s; going on")
    finally:
        await admin.close()


def _admin_token(database_url: str, state_dir: Path) -> str | None:
    """An admin token for the bench's own database, where the services require one (docs/access.md)."""
    token = os.environ.get("TEMPEN_BENCH_TOKEN")
    if token:
        return token
    try:
        from tempen.commands.tokens import ensure_development_admin_token
    except ImportError:  # a tree without bearer-token access control
        return None
    path, _ = ensure_development_admin_token(database_url, state_dir)
    return path.read_text(encoding="utf-8").strip() or None


@dataclass
class Counters:
    accepted: float = 0.0
    applied: float = 0.0
    score_events: float = 0.0
    scores_relayed: float = 0.0
    alerts_consumed: float = 0.0
    transitions: float = 0.0
    # Gauges, for the timeline only: where the queue builds up.
    ingest_backlog: float = 0.0
    scoring_lag: float = 0.0
    scoring_backlog: float = 0.0
    alerts_lag: float = 0.0

    @classmethod
    def of(cls, scraped: dict[str, Samples], deployment: Deployment) -> Counters:
        ingest, scoring, alerts = scraped["ingest"], scraped["scoring"], scraped["alerts"]
        return cls(
            accepted=value(ingest, "tempen_submissions_total", outcome="accepted"),
            applied=value(scoring, "tempen_scored_submissions_total", outcome="applied"),
            score_events=value(scoring, "tempen_scores_published_total"),
            scores_relayed=value(scoring, "tempen_outbox_published_total"),
            alerts_consumed=value(alerts, "tempen_messages_consumed_total", topic=deployment.topic(SCORES.name)),
            transitions=value(alerts, "tempen_alert_transitions_total"),
            ingest_backlog=value(ingest, "tempen_outbox_backlog"),
            scoring_lag=value(scoring, "tempen_consumer_lag"),
            scoring_backlog=value(scoring, "tempen_outbox_backlog"),
            alerts_lag=value(alerts, "tempen_consumer_lag"),
        )

    def minus(self, other: Counters) -> Counters:
        gauges = {"ingest_backlog", "scoring_lag", "scoring_backlog", "alerts_lag"}
        return Counters(
            **{
                k: getattr(self, k) if k in gauges else getattr(self, k) - getattr(other, k)
                for k in self.__dataclass_fields__
            }
        )


@dataclass
class StageTimes:
    """Seconds since the phase started at which each stage first moved and finished."""

    first: dict[str, float] = field(default_factory=dict)
    done: dict[str, float] = field(default_factory=dict)
    timeline: list[dict[str, float]] = field(default_factory=list)


async def settled(conn: asyncpg.Connection) -> dict[str, int]:
    row = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM ingest.outbox WHERE published_at IS NULL)"
        # Submissions are their own outbox: those beyond the relay's latest position wait.
        " + (SELECT count(*) FROM ingest.submissions WHERE sequence >"
        " coalesce((SELECT position FROM ingest.relay_positions ORDER BY updated_at DESC LIMIT 1), 0))"
        " AS ingest_backlog,"
        " (SELECT count(*) FROM scoring.outbox WHERE published_at IS NULL) AS scoring_backlog,"
        " (SELECT count(*) FROM scoring.slice_versions WHERE scored_version < version)"
        # Score groups are their own outbox too.
        " + (SELECT count(*) FROM scoring.score_groups WHERE revision >"
        " coalesce((SELECT position FROM scoring.relay_positions ORDER BY updated_at DESC LIMIT 1), 0))"
        " AS scores_unpublished,"
        " (SELECT count(*) FROM alerts.outbox WHERE published_at IS NULL) AS alerts_backlog,"
        " (SELECT count(*) FROM alerts.series WHERE rejudge) AS rejudge"
    )
    assert row is not None
    return {k: int(v) for k, v in row.items()}


async def watch(
    deployment: Deployment,
    metrics: MetricsClient,
    *,
    started: float,
    base: Counters,
    accepted: int,
    applied: int,
    timeout_s: float,
    label: str,
    producing: Callable[[], bool] = lambda: False,
    partial: bool = False,
) -> tuple[StageTimes, Counters]:
    """Poll until ingest accepted `accepted`, scoring applied `applied` contributions, and alerts has
    judged every score event scoring produced (outboxes drained, no series waiting to be judged)."""
    times = StageTimes()
    conn = await asyncpg.connect(deployment.database_url)
    last_report = 0.0
    last_db_check = 0.0
    try:
        while True:
            now = time.monotonic()
            t = now - started
            counters = Counters.of(await metrics.scrape_all(), deployment).minus(base)
            times.timeline.append({"t": round(t, 2)} | dataclasses.asdict(counters))
            for stage, moved in (
                ("ingest", counters.accepted),
                ("scoring", counters.applied),
                ("alerts", counters.alerts_consumed),
            ):
                if moved > 0 and stage not in times.first:
                    times.first[stage] = t
            if counters.accepted >= accepted and "ingest" not in times.done:
                times.done["ingest"] = t
            if counters.applied >= applied and "scoring" not in times.done:
                times.done["scoring"] = t
            if (
                "scoring" in times.done
                and not producing()
                and counters.alerts_consumed >= counters.score_events
                and now - last_db_check >= 0.5
            ):
                last_db_check = now
                state = await settled(conn)
                if not any(state.values()):
                    times.done["alerts"] = t
                    return times, counters
            if now - last_report >= 5:
                last_report = now
                log(
                    f"{label}: {t:6.1f}s accepted {counters.accepted:,.0f}/{accepted:,} "
                    f"(outbox {counters.ingest_backlog:,.0f}) "
                    f"scored {counters.applied:,.0f}/{applied:,} (lag {counters.scoring_lag:,.0f}, "
                    f"outbox {counters.scoring_backlog:,.0f}) "
                    f"score events {counters.score_events:,.0f} judged {counters.alerts_consumed:,.0f} "
                    f"(lag {counters.alerts_lag:,.0f})"
                )
            if t > timeout_s:
                log(f"{label}: not done after {timeout_s:.0f}s; the services' last lines:\n{deployment.log_tails()}")
                if partial:
                    return times, counters
                raise TimeoutError(f"{label}: not done after {timeout_s:.0f}s: {counters}")
            await asyncio.sleep(TICK_S)
    finally:
        await conn.close()


async def row_writes(deployment: Deployment) -> dict[str, int]:
    """Rows inserted, updated and deleted per table of the deployment's database so far (staging tables
    together as `temp staging`): the durable work a submission costs, which decides PostgreSQL's share.
    Call it after the stages drained: an idle backend reports its counts only when PostgreSQL's idle
    stats timer fires (PGSTAT_IDLE_INTERVAL, 10 s), so it waits that long first; read sooner, the last
    batches' rows, or all of a small run's, are missing."""
    conn = await asyncpg.connect(deployment.database_url)
    try:
        await asyncio.sleep(STATS_FLUSH_S)
        rows = await conn.fetch(
            "SELECT CASE WHEN schemaname LIKE 'pg_temp%' THEN 'temp staging' ELSE schemaname || '.' || relname END"
            " AS name, sum(n_tup_ins + n_tup_upd + n_tup_del) AS n FROM pg_stat_user_tables GROUP BY 1"
        )
    finally:
        await conn.close()
    return {r["name"]: int(r["n"]) for r in sorted(rows, key=lambda r: -int(r["n"])) if r["n"]}


async def verify(deployment: Deployment, expected: int, scored_answers: int, models: int) -> dict[str, Any]:
    """Every submission stored once, scored exactly once per model, counted once in the aggregates."""
    conn = await asyncpg.connect(deployment.database_url)
    try:
        stored = int(await conn.fetchval("SELECT count(*) FROM ingest.submissions"))
        contributions = {
            r["model"]: int(r["n"])
            for r in await conn.fetch("SELECT model, count(*) AS n FROM scoring.contributions GROUP BY model")
        }
        respondents = {
            r["model"]: int(r["n"])
            for r in await conn.fetch("SELECT model, sum(respondents) AS n FROM scoring.groups GROUP BY model")
        }
        answers = int(await conn.fetchval("SELECT coalesce(sum(count), 0) FROM scoring.item_counts"))
        dead = {
            schema: int(await conn.fetchval(f"SELECT count(*) FROM {schema}.outbox WHERE topic LIKE '%.dlq'"))
            for schema in SERVICES
        }
        score_events = int(await conn.fetchval("SELECT count(*) FROM scoring.outbox WHERE topic NOT LIKE '%.dlq'"))
        transitions = {
            r["to_state"]: int(r["n"])
            for r in await conn.fetch("SELECT to_state, count(*) AS n FROM alerts.transitions GROUP BY 1")
        }
        alerted_units = {r["unit"] for r in await conn.fetch("SELECT DISTINCT unit FROM alerts.alerts")}
        series = int(await conn.fetchval("SELECT count(*) FROM alerts.series"))
    finally:
        await conn.close()
    ok = (
        stored == expected
        and len(contributions) == models
        and all(n == expected for n in contributions.values())
        and all(n == expected for n in respondents.values())
        and answers == scored_answers
        and not any(dead.values())
    )
    return {
        "ok": ok,
        "stored": stored,
        "contributions_per_model": contributions,
        "respondents_per_model": respondents,
        "scored_answers": answers,
        "scored_answers_expected": scored_answers,
        "dead_letters": dead,
        "score_events": score_events,
        "alert_transitions": transitions,
        "alerted_units": len(alerted_units),
        "series": series,
    }


def batches_of(messages: Sequence[Submission], size: int) -> list[bytes]:
    return [b"[" + b",".join(m.body for m in messages[i : i + size]) + b"]" for i in range(0, len(messages), size)]


async def post_burst(deployment: Deployment, bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    url = f"{deployment.url('ingest')}/v1/tenants/{generator.TENANT}/submissions"
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    durations: list[float] = []
    counts: dict[str, int] = {}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(url, content=body, headers=deployment.headers())
            durations.append(time.perf_counter() - started)
            if response.status_code != 202:
                raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:500]}")
            for outcome, n in response.json()["counts"].items():
                counts[outcome] = counts.get(outcome, 0) + n

    async with httpx.AsyncClient(timeout=600) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return {
        "requests": len(bodies),
        "outcomes": counts,
        "request_s": {
            "p50": round(statistics.median(durations), 3),
            "max": round(max(durations), 3),
        },
    }


async def produce_intake(deployment: Deployment, messages: Sequence[Submission]) -> float:
    """Publish the canonical submissions straight to the intake topic, as a platform would."""
    producer = AIOKafkaProducer(
        bootstrap_servers=deployment.infra.bootstrap_servers, acks="all", linger_ms=5, max_batch_size=1 << 20
    )
    await producer.start()
    started = time.perf_counter()
    try:
        topic = deployment.topic(INTAKE.name)
        pending = []
        for message in messages:
            pending.append(await producer.send(topic, value=message.body, key=message.key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


@dataclass
class Run:
    config: BenchConfig
    muni: Municipality
    messages: list[Submission]
    infra: Infrastructure
    sampler: ResourceSampler
    config_dir: Path
    results: dict[str, Any] = field(default_factory=dict)
    profiles_dir: Path | None = None

    @property
    def models(self) -> int:
        return len(self.muni.models)

    def watch_processes(self, deployment: Deployment | None) -> None:
        # The bench's own client: when it runs short of CPU, latencies measured from its send times grow.
        self.sampler.watch("bench client", os.getpid(), solo=True)
        self.sampler.watch("broker", self.infra.broker_pid())
        self.sampler.watch("postgres", self.infra.postgres_pid())
        for service in SERVICES:
            self.sampler.watch(service, deployment.pid(service) if deployment else None)
        for replica in deployment.replicas() if deployment else ():
            self.sampler.watch(replica, deployment.pid(replica) if deployment else None)


async def run_limits(run: Run) -> dict[str, Any]:
    log(f"limits: raw aiokafka round trip of {len(run.messages):,} messages")
    kafka = await baselines.kafka_round_trip(run.infra.bootstrap_servers, f"bench{os.getpid()}-raw", run.messages)
    log(f"limits: raw round trip {kafka['round_trip_per_s']:,}/s (produce {kafka['produce_per_s']:,}/s)")
    url = await run.infra.create_database("tempen_bench_limits")
    try:
        copy = await baselines.copy_rows(url, run.messages)
    finally:
        await run.infra.drop_database("tempen_bench_limits")
    log(f"limits: COPY {copy['rows_per_s']:,} rows/s")
    log(f"limits: the plain per-message implementation on the first {min(len(run.messages), PLAIN_COUNT):,}")
    url = await run.infra.create_database("tempen_bench_plain")
    try:
        plain = await plain_per_message(
            run.infra.bootstrap_servers,
            url,
            f"bench{os.getpid()}-plain",
            run.messages,
            run.config_dir,
            count=PLAIN_COUNT,
        )
    finally:
        await run.infra.drop_database("tempen_bench_plain")
    log(f"limits: plain per-message {plain['per_s']:,}/s")
    return {"kafka": kafka, "copy": copy, "plain": plain}


def _stage_report(n: int, times: StageTimes, started_at: float = 0.0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for stage in SERVICES:
        done = times.done.get(stage)
        first = times.first.get(stage, 0.0)
        if done is None:
            continue
        out[stage] = {
            "first_s": round(first, 2),
            "done_s": round(done, 2),
            "per_s": round(n / max(done - started_at, 1e-9)),
            # Over the window in which the stage was seen moving; too short a window says nothing.
            "active_per_s": round(n / (done - first)) if done - first >= 2.0 else None,
        }
    if "alerts" in times.done:
        out["end_to_end"] = {"seconds": round(times.done["alerts"], 2), "per_s": round(n / times.done["alerts"])}
    return out


async def run_burst(run: Run, kind: str, *, keep_running: bool = False) -> tuple[dict[str, Any], Deployment]:
    config = run.config
    deployment = Deployment(
        run.infra,
        name=kind,
        config_dir=run.config_dir,
        extra_env=config.service_env,
        scoring_replicas=config.scoring_replicas,
    )
    log(f"{kind}: starting the services (database {deployment.database}, topics {deployment.prefix}*)")
    try:
        await deployment.start()
    except BaseException:
        deployment.stop()
        raise
    run.watch_processes(deployment)
    metrics = MetricsClient({s: deployment.url(s) for s in (*SERVICES, *deployment.replicas())})
    profiler = profiling.Profiler(run.profiles_dir) if kind in config.profile and run.profiles_dir else None
    n = len(run.messages)
    try:
        base_scrape = await metrics.scrape_all()
        base = Counters.of(base_scrape, deployment)
        bodies = batches_of(run.messages, config.http_batch) if kind == "http" else []
        if profiler:
            for service in SERVICES:
                profiler.start(f"{kind}-{service}", deployment.pid(service))
        log(f"{kind}: sending {n:,} submissions")
        started = time.monotonic()
        sending: dict[str, Any] = {}

        async def send() -> None:
            if kind == "http":
                sending.update(await post_burst(deployment, bodies, config.http_concurrency))
            else:
                sending["produce_s"] = round(await produce_intake(deployment, run.messages), 2)
            sending["sent_s"] = round(time.monotonic() - started, 2)

        sender = asyncio.create_task(send())
        times, counters = await watch(
            deployment,
            metrics,
            started=started,
            base=base,
            accepted=n,
            applied=n * run.models,
            timeout_s=config.drain_timeout(),
            label=kind,
            producing=lambda: not sender.done(),
        )
        await sender
        ended = time.monotonic()
        final = await metrics.scrape_all()
        retries = {
            service: int(
                value(final[service], "tempen_consumer_retries_total") - value(before, "tempen_consumer_retries_total")
            )
            for service, before in base_scrape.items()
        }
        resources = run.sampler.window(started, ended)
        profiles = profiler.stop() if profiler else {}
        log(f"{kind}: done in {times.done['alerts']:.1f}s; verifying")
        verification = await verify(deployment, n, sum(m.scored_answers for m in run.messages), run.models)
        writes = await row_writes(deployment)
        if not verification["ok"]:
            log(f"{kind}: VERIFICATION FAILED: {verification}")
        report = {
            "submissions": n,
            "sending": sending,
            "stages": _stage_report(n, times),
            "score_events": counters.score_events,
            "score_events_per_submission": round(counters.score_events / n, 2),
            "alert_transitions": counters.transitions,
            "consumer_retries": retries,  # batches handed back after an error (see the services' logs)
            "row_writes_per_submission": {table: round(w / n, 2) for table, w in writes.items() if w / n >= 0.005},
            "resources": resources,
            "rss_after_mb": {k: v["end_rss_mb"] for k, v in resources.items()},
            "verification": verification,
            "timeline": _thin(times.timeline),
            "resource_timeline": run.sampler.timeline(started),
        }
        if profiles:
            report["profiles"] = profiles
        return report, deployment
    finally:
        if profiler:
            profiler.stop()
        await metrics.close()
        if not keep_running:
            deployment.stop()
            run.watch_processes(None)


def _thin(timeline: list[dict[str, float]], points: int = 300) -> list[dict[str, float]]:
    step = max(1, math.ceil(len(timeline) / points))
    return timeline[::step] + ([timeline[-1]] if timeline and (len(timeline) - 1) % step else [])


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {
        "p50": round(at(0.50) * 1000, 1),
        "p95": round(at(0.95) * 1000, 1),
        "p99": round(at(0.99) * 1000, 1),
        "max": round(ordered[-1] * 1000, 1),
        "n": len(ordered),
    }


def _histogram_percentiles(buckets: dict[float, float]) -> dict[str, float | None]:
    def ms(q: float) -> float | None:
        seconds = histogram_quantile(q, buckets)
        return None if seconds is None else round(seconds * 1000, 1)

    return {"p50": ms(0.5), "p95": ms(0.95), "p99": ms(0.99), "n": max(buckets.values(), default=0.0)}


async def run_steady(run: Run, deployment: Deployment | None) -> dict[str, Any]:
    config = run.config
    own = deployment is None
    if deployment is None:
        deployment = Deployment(
            run.infra,
            name="steady",
            config_dir=run.config_dir,
            extra_env=config.service_env,
            scoring_replicas=config.scoring_replicas,
        )
        try:
            await deployment.start()
        except BaseException:
            deployment.stop()
            raise
        run.watch_processes(deployment)
    total = int(config.steady_rate * config.steady_seconds)
    messages = generator.current_month(run.muni, total, now=datetime.now(UTC))
    batch = config.steady_batch
    chunks = [messages[i : i + batch] for i in range(0, total, batch)]
    interval = batch / config.steady_rate
    url = f"{deployment.url('ingest')}/v1/tenants/{generator.TENANT}/submissions"
    metrics = MetricsClient({s: deployment.url(s) for s in (*SERVICES, *deployment.replicas())})
    profiler = profiling.Profiler(run.profiles_dir) if "steady" in config.profile and run.profiles_dir else None
    sent_at: dict[str, float] = {}
    late: list[float] = []
    failures: list[str] = []
    scores_topic = deployment.topic(SCORES.name)
    try:
        scores_from = await _topic_ends(run.infra.bootstrap_servers, scores_topic)
        before = await metrics.scrape_all()
        base = Counters.of(before, deployment)
        if profiler:
            for service in SERVICES:
                profiler.start(f"steady-{service}", deployment.pid(service))
        log(f"steady: {config.steady_rate:,}/s for {config.steady_seconds:.0f}s in requests of {batch}")
        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=64)) as client:
            in_flight: set[asyncio.Task[None]] = set()

            async def post(chunk: list[Submission]) -> None:
                wall = time.time()
                for m in chunk:
                    sent_at[m.submission_id] = wall
                body = b"[" + b",".join(m.body for m in chunk) + b"]"
                response = await client.post(url, content=body, headers=deployment.headers())
                if response.status_code != 202:
                    failures.append(f"{response.status_code}: {response.text[:200]}")

            started = time.monotonic()
            for k, chunk in enumerate(chunks):
                due = started + k * interval
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    late.append(-delay)
                task = asyncio.create_task(post(chunk))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            sent_s = time.monotonic() - started
            await asyncio.gather(*in_flight)
        times, counters = await watch(
            deployment,
            metrics,
            started=started,
            base=base,
            accepted=total,
            applied=total * run.models,
            timeout_s=config.steady_seconds + max(120.0, 3 * config.steady_seconds),
            label="steady",
            partial=True,  # latencies to scored are measured even when alerts does not catch up
        )
        after = await metrics.scrape_all()
        retries = {
            service: int(
                value(after[service], "tempen_consumer_retries_total")
                - value(before[service], "tempen_consumer_retries_total")
            )
            for service in SERVICES
        }
        resources = run.sampler.window(started, time.monotonic())
        profiles = profiler.stop() if profiler else {}
        scored, received = await _steady_latencies(deployment, sent_at)
        published = await _published_latencies(
            deployment, sent_at, await _read_from(run.infra.bootstrap_servers, scores_from)
        )
        scoring_hist = histogram_delta(
            histogram(after["scoring"], "tempen_scoring_latency_seconds"),
            histogram(before["scoring"], "tempen_scoring_latency_seconds"),
        )
        decision_hist = histogram_delta(
            histogram(after["alerts"], "tempen_alert_decision_latency_seconds"),
            histogram(before["alerts"], "tempen_alert_decision_latency_seconds"),
        )
        # Ingest's own time per request, from its arrival to the answer: what the service itself takes,
        # whatever queues in front of it (the client's connections, the event loop).
        submissions_route = {"route": "/v1/tenants/{tenant}/submissions"}
        server_hist = histogram_delta(
            histogram(after["ingest"], "tempen_http_request_duration_seconds", where=submissions_route),
            histogram(before["ingest"], "tempen_http_request_duration_seconds", where=submissions_route),
        )
        to_scored = _percentiles(scored)
        to_published = _percentiles(published.latencies)
        decision = _histogram_percentiles(decision_hist)
        # Alerts' histogram starts at the tick's computed_at, which comes before the score is on Kafka:
        # the sum counts the tick's own time and the relay twice, so it is high rather than low.
        estimate = {
            q: round(to_published[q] + decision[q], 1)  # type: ignore[operator]
            for q in ("p50", "p95", "p99")
            if to_published.get(q) is not None and decision.get(q) is not None
        }
        report: dict[str, Any] = {
            "rate": config.steady_rate,
            "seconds": config.steady_seconds,
            "request_size": batch,
            "sent": total,
            "achieved_rate": round(total / sent_s),
            "sender_late_ms_p99": _percentiles(late).get("p99", 0.0),
            "failures": failures[:5],
            "drained_s": round(times.done["alerts"] - sent_s, 2) if "alerts" in times.done else None,
            "alerts_behind": int(counters.score_events - counters.alerts_consumed),
            "score_events": counters.score_events,
            "consumer_retries": retries,
            "latency_ms": {
                "submitted_to_scored": to_scored,
                "submitted_to_published": to_published,
                "counted_to_tick": _percentiles(published.waited_for_tick),
                "tick_to_published": _percentiles(published.tick_to_kafka),
                "published_not_found": published.not_found,
                "submitted_to_received": _percentiles(received),
                "ingest_server_histogram": _histogram_percentiles(server_hist),
                "scoring_histogram": _histogram_percentiles(scoring_hist),
                "score_to_decided_histogram": decision,
                "submitted_to_decided_estimate": estimate,
            },
            "resources": resources,
            "resource_timeline": run.sampler.timeline(started),
        }
        if profiles:
            report["profiles"] = profiles
        return report
    finally:
        if profiler:
            profiler.stop()
        await metrics.close()
        if own:
            deployment.stop()


async def _steady_latencies(deployment: Deployment, sent_at: dict[str, float]) -> tuple[list[float], list[float]]:
    """From the bench's send time (wall clock) to the last model's contribution row (`scored_at`, the
    scoring transaction's time) and to ingest's `received_at`; the database runs on this machine's clock."""
    conn = await asyncpg.connect(deployment.database_url)
    try:
        rows = await conn.fetch(
            "SELECT s.submission_id, extract(epoch FROM s.received_at)::float8 AS received,"
            " extract(epoch FROM max(c.scored_at))::float8 AS scored"
            " FROM ingest.submissions s JOIN scoring.contributions c"
            " ON c.tenant = s.tenant AND c.submission_id = s.submission_id"
            " WHERE s.submission_id LIKE 'live%' GROUP BY s.submission_id, s.received_at"
        )
    finally:
        await conn.close()
    scored = [max(0.0, r["scored"] - sent_at[r["submission_id"]]) for r in rows if r["submission_id"] in sent_at]
    received = [max(0.0, r["received"] - sent_at[r["submission_id"]]) for r in rows if r["submission_id"] in sent_at]
    return scored, received


async def _topic_ends(bootstrap: str, topic: str) -> dict[TopicPartition, int]:
    """The next offset of each partition of `topic` now: where records produced from now on start."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # the consumer subscribes to nothing, so it has none yet
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return ends
    finally:
        await consumer.stop()


async def _read_from(bootstrap: str, starts: dict[TopicPartition, int]) -> list[Any]:
    """Every record from `starts` (partitions of one topic) up to the partitions' ends now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=5000)
    await consumer.start()
    try:
        consumer.assign(list(starts))
        ends = await consumer.end_offsets(list(starts))
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        records: list[Any] = []
        waiting = {tp for tp in starts if ends[tp] > starts[tp]}
        while waiting:
            for tp, batch in (await consumer.getmany(*waiting, timeout_ms=1000)).items():
                records.extend(batch)
                if batch and batch[-1].offset + 1 >= ends[tp]:
                    waiting.discard(tp)
        return records
    finally:
        await consumer.stop()


@dataclass(frozen=True)
class Published:
    """Steady load's submissions to their scores on Kafka (`_published_latencies`), in seconds."""

    latencies: list[float]  # per submission, from sent to its last model's first event that counts it
    not_found: int  # submissions with no such event (a unit below the anonymity threshold publishes none)
    waited_for_tick: list[float]  # per contribution, from counted to the start (`computed_at`) of its tick
    tick_to_kafka: list[float]  # per contribution, from there to the event on Kafka (rescoring, commit, relay)


async def _published_latencies(
    deployment: Deployment, sent_at: dict[str, float], score_records: Sequence[Any]
) -> Published:
    """From the bench's send time to the first score event on Kafka that counts the submission, for every
    model it contributes to: the first event of its unit (scope unit) and model computed after its
    contribution was stored (a tick follows the batch it counts, the store runs them one at a time). The
    time on Kafka is the record's timestamp, set by scoring's relay as it produced it."""
    events: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in score_records:
        e = orjson.loads(r.value)
        if e.get("scope") == "unit":
            computed = datetime.fromisoformat(e["occurred_at"]).timestamp()
            events.setdefault((e["unit"], e["model"]), []).append((computed, r.timestamp / 1000))
    for series in events.values():
        series.sort()
    conn = await asyncpg.connect(deployment.database_url)
    try:
        rows = await conn.fetch(
            "SELECT submission_id, unit, model, extract(epoch FROM scored_at)::float8 AS scored"
            " FROM scoring.contributions WHERE submission_id LIKE 'live%'"
        )
    finally:
        await conn.close()
    on_kafka: dict[str, float | None] = {}
    waited_for_tick: list[float] = []
    tick_to_kafka: list[float] = []
    for r in rows:
        series = events.get((r["unit"], r["model"]), [])
        i = bisect.bisect_right(series, (r["scored"], math.inf))
        at = series[i][1] if i < len(series) else None
        if at is not None:
            waited_for_tick.append(max(0.0, series[i][0] - r["scored"]))
            tick_to_kafka.append(max(0.0, at - series[i][0]))
        before = on_kafka.get(r["submission_id"], 0.0)
        on_kafka[r["submission_id"]] = None if at is None or before is None else max(before, at)
    return Published(
        latencies=[max(0.0, at - sent_at[sid]) for sid, at in on_kafka.items() if at is not None and sid in sent_at],
        not_found=sum(1 for at in on_kafka.values() if at is None),
        waited_for_tick=waited_for_tick,
        tick_to_kafka=tick_to_kafka,
    )


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def git_commit() -> tuple[str, bool]:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=generator.REPO, capture_output=True, text=True, check=False)
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return commit, dirty


async def run_bench(config: BenchConfig, *, results_dir: Path) -> dict[str, Any]:
    started_at = datetime.now(UTC)
    commit, dirty = git_commit()
    muni = generator.build(
        submissions=config.submissions, seed=config.seed, employees=config.employees, periods=config.periods
    )
    log(
        f"dataset: {config.submissions:,} submissions from {muni.employees:,} employees in {len(muni.units):,} units "
        f"over {len(muni.periods)} months; generating"
    )
    t0 = time.monotonic()
    messages = generator.generate(muni, config.submissions)
    log(f"dataset: generated in {time.monotonic() - t0:.1f}s ({sum(len(m.body) for m in messages) / 2**20:.0f} MB)")
    # The dataset lives to the end of the run: out of the garbage collector's sight. Left in, every full
    # collection walked its million objects, and during steady load on the 1M dataset the bench's own
    # client used 0.54 cores (0.24 on a small one) and delayed its requests by seconds: latencies
    # measured from its send times were the client's, not tempen's.
    gc.collect()
    gc.freeze()
    root = Path(tempfile.mkdtemp(prefix="tempen-bench-"))
    os.chmod(root, 0o755)  # the embedded PostgreSQL runs as its own user when we are root
    config_dir = generator.write_config(muni, root / "config")
    infra = Infrastructure(root)
    sampler = SamplerProcess()
    run = Run(config, muni, messages, infra, sampler, config_dir)
    if config.profile:
        run.profiles_dir = root / "profiles"
    results: dict[str, Any] = {
        "schema": 1,
        "started_at": started_at.isoformat(timespec="seconds"),
        "commit": commit,
        "dirty": dirty,
        "label": config.label,
        "machine": machine(),
        "config": {
            "submissions": config.submissions,
            "phases": list(config.phases),
            "http_batch": config.http_batch,
            "http_concurrency": config.http_concurrency,
            "steady_rate": config.steady_rate,
            "steady_seconds": config.steady_seconds,
            "steady_batch": config.steady_batch,
            "service_env": config.service_env,
            "scoring_replicas": config.scoring_replicas,
        },
        "dataset": muni.describe()
        | {"submissions": config.submissions, "mean_bytes": round(sum(len(m.body) for m in messages) / len(messages))},
        "phases": {},
    }
    try:
        log("starting the broker and the database")
        await asyncio.to_thread(infra.start)
        results["infrastructure"] = infra.describe()
        run.watch_processes(None)
        sampler.start()
        errors: dict[str, str] = {}
        results["errors"] = errors

        async def attempt(phase: str, step: Callable[[], Awaitable[Any]]) -> Any:
            # A phase that fails is reported with its error; the others still run and are written.
            try:
                return await step()
            except Exception as exc:  # noqa: BLE001 - recorded in the result, with the traceback
                log(f"{phase}: FAILED: {exc!r}")
                errors[phase] = "".join(traceback.format_exception(exc))[-4000:]
                return None

        if "limits" in config.phases:
            limits = await attempt("limits", lambda: run_limits(run))
            if limits is not None:
                results["limits"] = limits
        if "http" in config.phases:
            http = await attempt("http", lambda: run_burst(run, "http"))
            if http is not None:
                results["phases"]["http"] = http[0]
        steady_on: Deployment | None = None
        if "intake" in config.phases:
            intake = await attempt("intake", lambda: run_burst(run, "intake", keep_running="steady" in config.phases))
            if intake is not None:
                results["phases"]["intake"], steady_on = intake
        if "steady" in config.phases:
            try:
                steady = await attempt("steady", lambda: run_steady(run, steady_on))
                if steady is not None:
                    results["phases"]["steady"] = steady
            finally:
                if steady_on is not None:
                    steady_on.stop()
        results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        results["duration_s"] = round((datetime.now(UTC) - started_at).total_seconds(), 1)
        if run.profiles_dir and run.profiles_dir.exists():
            target = results_dir / "profiles"
            target.mkdir(parents=True, exist_ok=True)
            stamp = started_at.strftime("%Y-%m-%d")
            for path in run.profiles_dir.glob("*.txt"):  # the summaries; the raw stacks stay with --keep
                shutil.copy(path, target / f"{stamp}-{commit}{'-' + config.label if config.label else ''}-{path.name}")
        return results
    finally:
        sampler.stop()
        await asyncio.to_thread(infra.stop)
        if not config.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            log(f"kept state in {root}")


def install_signal_handlers() -> None:
    """Ctrl-C stops the services and the embedded parts through the `finally` blocks above."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
