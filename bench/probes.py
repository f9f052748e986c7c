"""What the bench watches while it runs: the services' Prometheus metrics and the processes' CPU and memory."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_metrics(text: str) -> Samples:
    """Every sample of a /metrics page, keyed by (sample name, sorted labels)."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= set(ls))


def histogram(samples: Samples, name: str, *, where: Mapping[str, str] | None = None) -> dict[float, float]:
    """Cumulative bucket counts of a histogram (of the series whose labels include `where`): upper bound -> count."""
    out: dict[float, float] = {}
    for (n, labels), v in samples.items():
        if n == f"{name}_bucket":
            named = dict(labels)
            if where and any(named.get(k) != want for k, want in where.items()):
                continue
            le = named["le"]
            out[float("inf") if le == "+Inf" else float(le)] = v
    return dict(sorted(out.items()))


def histogram_delta(after: Mapping[float, float], before: Mapping[float, float]) -> dict[float, float]:
    return {le: count - before.get(le, 0.0) for le, count in after.items()}


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' histogram_quantile: linear interpolation inside the bucket that holds the quantile."""
    items = sorted(buckets.items())
    if not items or items[-1][1] <= 0:
        return None
    total = items[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in items:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


class MetricsClient:
    """Scrapes the three services' /metrics pages."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self._urls = dict(urls)
        self._client = httpx.AsyncClient(timeout=10.0)

    async def scrape(self, name: str) -> Samples:
        response = await self._client.get(f"{self._urls[name]}/metrics")
        response.raise_for_status()
        return parse_metrics(response.text)

    async def scrape_all(self) -> dict[str, Samples]:
        """Per service; the samples of its replicas (`scoring-2`, ...) are added to its own, so counters
        and histograms count the whole consumer group."""
        out: dict[str, Samples] = {}
        for name in self._urls:
            service = name.rsplit("-", 1)[0] if name.rsplit("-", 1)[-1].isdigit() else name
            merged = out.setdefault(service, {})
            for key, sample in (await self.scrape(name)).items():
                merged[key] = merged.get(key, 0.0) + sample
        return out

    async def close(self) -> None:
        await self._client.aclose()


@dataclass
class _Group:
    root_pid: int
    solo: bool = False  # the process alone, not its children (the bench itself: its children are the services)
    processes: dict[int, psutil.Process] = field(default_factory=dict)
    cpu_seen: dict[int, float] = field(default_factory=dict)  # pid -> last user+system seconds seen

    def members(self) -> list[psutil.Process]:
        try:
            root = self.processes.get(self.root_pid) or psutil.Process(self.root_pid)
            found = [root] if self.solo else [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        for proc in found:
            self.processes.setdefault(proc.pid, proc)
        alive = {p.pid for p in found}
        for pid in list(self.processes):
            if pid not in alive:
                del self.processes[pid]
        return [self.processes[p.pid] for p in found]


@dataclass
class Sample:
    t: float
    rss: dict[str, int]
    cpu: dict[str, float]  # cumulative CPU seconds


class ResourceSampler:
    """Samples the process trees of the services, the broker and the database in a thread.

    CPU is the sum of user and system time over every process of a tree (a PostgreSQL backend that
    exits keeps the time it used). Memory is the resident set summed over the tree, except for the
    trees named in `proportional` (PostgreSQL): there shared buffers are mapped by every backend, so
    the proportional set size (PSS, shared pages split among their users) is summed instead.
    """

    proportional = frozenset({"postgres"})

    def __init__(self, interval_s: float = 0.5) -> None:
        self._interval = interval_s
        self._groups: dict[str, _Group] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cpu_done: dict[str, float] = {}
        self.samples: list[Sample] = []

    def watch(self, name: str, pid: int | None, *, solo: bool = False) -> None:
        with self._lock:
            if pid is None:
                self._groups.pop(name, None)
            else:
                previous = self._groups.get(name)
                if previous is not None and previous.root_pid != pid:
                    # A restarted service: keep the CPU its earlier process used.
                    self._cpu_done[name] = self._cpu_done.get(name, 0.0) + sum(previous.cpu_seen.values())
                if previous is None or previous.root_pid != pid:
                    self._groups[name] = _Group(pid, solo)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    def sample(self) -> Sample:
        now = time.monotonic()
        rss: dict[str, int] = {}
        cpu: dict[str, float] = {}
        with self._lock:
            for name, group in self._groups.items():
                total_rss = 0
                for proc in group.members():
                    try:
                        with proc.oneshot():
                            times = proc.cpu_times()
                            if name in self.proportional:
                                total_rss += proc.memory_full_info().pss
                            else:
                                total_rss += proc.memory_info().rss
                        group.cpu_seen[proc.pid] = times.user + times.system
                    except psutil.Error:
                        continue
                rss[name] = total_rss
                cpu[name] = self._cpu_done.get(name, 0.0) + sum(group.cpu_seen.values())
            sample = Sample(now, rss, cpu)
            self.samples.append(sample)
        return sample

    def window(self, start: float, end: float) -> dict[str, dict[str, float]]:
        """Per group, between two monotonic times: CPU seconds, mean and peak cores, peak and last RSS (MB)."""
        with self._lock:
            inside = [s for s in self.samples if start <= s.t <= end]
        if len(inside) < 2:
            return {}
        out: dict[str, dict[str, float]] = {}
        names: Iterable[str] = inside[-1].cpu.keys()
        for name in names:
            seq = [s for s in inside if name in s.cpu]
            if len(seq) < 2:
                continue
            cpu_s = seq[-1].cpu[name] - seq[0].cpu[name]
            span = seq[-1].t - seq[0].t
            peak_cores = max(
                ((b.cpu[name] - a.cpu[name]) / (b.t - a.t) for a, b in itertools.pairwise(seq) if b.t > a.t),
                default=0.0,
            )
            out[name] = {
                "cpu_s": round(cpu_s, 2),
                "mean_cores": round(cpu_s / span, 3) if span else 0.0,
                "peak_cores": round(peak_cores, 3),
                "peak_rss_mb": round(max(s.rss[name] for s in seq) / 2**20, 1),
                "end_rss_mb": round(seq[-1].rss[name] / 2**20, 1),
            }
        return out

    def timeline(self, start: float, *, points: int = 400) -> list[dict[str, Any]]:
        """A thinned series for the chart: seconds since `start`, cores and RSS (MB) per group."""
        with self._lock:
            seq = [s for s in self.samples if s.t >= start]
        if len(seq) < 2:
            return []
        step = max(1, len(seq) // points)
        out = []
        for a, b in zip(seq[::step], seq[step::step], strict=False):
            span = b.t - a.t
            out.append(
                {
                    "t": round(b.t - start, 2),
                    "cores": {n: round((b.cpu[n] - a.cpu.get(n, b.cpu[n])) / span, 3) for n in b.cpu if span},
                    "rss_mb": {n: round(v / 2**20, 1) for n, v in b.rss.items()},
                }
            )
        return out


class SamplerProcess(ResourceSampler):
    """The same samples, taken in a process of their own. Reading every PostgreSQL backend's PSS (its
    smaps) costs milliseconds a process; in a thread of the bench it held the GIL while the bench's
    client was stamping and sending requests, so on the 1M dataset the client fell seconds behind
    and steady-load latencies measured from its send times were partly its own."""

    def __init__(self, interval_s: float = 0.5) -> None:
        super().__init__(interval_s)
        self._conn: Any = None
        self._process: Any = None
        self._pending: list[tuple[str, int | None, bool]] = []

    def watch(self, name: str, pid: int | None, *, solo: bool = False) -> None:
        with self._lock:
            if self._conn is None:
                self._pending.append((name, pid, solo))
            else:
                self._conn.send((name, pid, solo))

    def start(self) -> None:
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # no fork of a process with threads and a loop
        parent, child = context.Pipe()
        self._process = context.Process(target=_sampler_main, args=(child, self._interval), daemon=True)
        self._process.start()
        with self._lock:
            self._conn = parent
            for command in self._pending:
                parent.send(command)
            self._pending.clear()
        self._thread = threading.Thread(target=self._receive, name="bench-sampler-receiver", daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while True:
            try:
                t, rss, cpu = self._conn.recv()
            except (EOFError, OSError):
                return
            with self._lock:
                self.samples.append(Sample(t, rss, cpu))

    def stop(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.send(None)
        if self._process is not None:
            self._process.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)


def _sampler_main(conn: Any, interval_s: float) -> None:
    sampler = ResourceSampler(interval_s)
    while True:
        while conn.poll():
            command = conn.recv()
            if command is None:
                conn.close()
                return
            name, pid, solo = command
            sampler.watch(name, pid, solo=solo)
        sample = sampler.sample()
        sampler.samples.clear()  # the parent keeps them
        conn.send((sample.t, sample.rss, sample.cpu))
        conn.poll(interval_s)
