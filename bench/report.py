"""A bench result as files in bench/results/: the JSON, a markdown table and a PNG chart, named with
the date, the git commit and the size, so that runs line up into trends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

TARGETS = {
    "end_to_end_per_s": 8_000,
    "end_to_end_vs_round_trip": 0.5,
    "p99_scored_ms": 250,
    "rss_mb": 200,
}
SERVICES = ("ingest", "scoring", "alerts")


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def stem(results: dict[str, Any]) -> str:
    date = results["started_at"][:10]
    commit = results["commit"] + ("-dirty" if results.get("dirty") else "")
    label = f"-{results['label']}" if results.get("label") else ""
    return f"{date}-{commit}-{size_label(results['config']['submissions'])}{label}"


def write(results: dict[str, Any], directory: Path = RESULTS) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    base = stem(results)
    name, n = base, 1
    while (directory / f"{name}.json").exists():
        n += 1
        name = f"{base}-{n}"
    results["targets"] = targets(results)
    json_path = directory / f"{name}.json"
    json_path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path = directory / f"{name}.md"
    md_path.write_text(markdown(results, name, directory), encoding="utf-8")
    written = [json_path, md_path]
    png = chart(results, directory / f"{name}.png")
    if png:
        written.append(png)
    return written


def _get(d: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets of issue 14, reported, never asserted."""
    out: list[dict[str, Any]] = []
    limit = _get(results, "limits", "kafka", "round_trip_per_s")
    plain = _get(results, "limits", "plain", "per_s")
    for phase in ("http", "intake"):
        e2e = _get(results, "phases", phase, "stages", "end_to_end", "per_s")
        if e2e is None:
            continue
        out.append({"target": f"{phase}: end to end >= 8,000/s", "value": e2e, "met": e2e >= 8_000})
        if limit:
            ratio = e2e / limit
            target = f"{phase}: end to end >= 25% of raw round trip"
            out.append({"target": target, "value": f"{ratio:.1%}", "met": ratio >= 0.25})
        if plain:
            times = e2e / plain
            target = f"{phase}: end to end >= 20x the plain per-message implementation"
            out.append({"target": target, "value": f"{times:.1f}x", "met": times >= 20})
        rss = _get(results, "phases", phase, "rss_after_mb") or {}
        worst = max((rss[s] for s in SERVICES if s in rss), default=None)
        if worst is not None:
            out.append(
                {"target": f"{phase}: RSS per service after the burst < 200 MB", "value": worst, "met": worst < 200}
            )
    # Scored means the unit's score counts the submission and is out (on Kafka, for alerts and the read
    # API's readers); runs before 2026-12-07 measured only until scoring's batch had counted it.
    published = _get(results, "phases", "steady", "latency_ms", "submitted_to_published", "p99")
    p99 = (
        published
        if published is not None
        else _get(results, "phases", "steady", "latency_ms", "submitted_to_scored", "p99")
    )
    if p99 is not None:
        rate = _get(results, "phases", "steady", "rate")
        what = "its score on Kafka" if published is not None else "counted by scoring"
        out.append({"target": f"steady {rate}/s: p99 submitted->{what} < 250 ms", "value": p99, "met": p99 < 250})
    decided = _get(results, "phases", "steady", "latency_ms", "submitted_to_decided_estimate", "p99")
    if published is not None and decided is not None:
        rate = _get(results, "phases", "steady", "rate")
        out.append(
            {
                "target": f"steady {rate}/s: p99 submitted->alert decided < 1 s (estimate)",
                "value": decided,
                "met": decided < 1000,
            }
        )
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def markdown(results: dict[str, Any], name: str, directory: Path) -> str:
    ds = results["dataset"]
    lines = [
        f"# Bench {name}",
        "",
        f"Commit `{results['commit']}`{' (uncommitted changes)' if results.get('dirty') else ''}, "
        f"{results['started_at']}, {results['machine']['cpus']} CPUs, {results['machine']['memory_gb']} GB, "
        f"Python {results['machine']['python']}; {_get(results, 'infrastructure', 'broker')}, "
        f"{_get(results, 'infrastructure', 'database')}. Took {_fmt(results.get('duration_s'))} s.",
        "",
        f"Dataset: {ds['submissions']:,} submissions ({ds['mean_bytes']} bytes each) from {ds['employees']:,} "
        f"employees in {ds['units']:,} units, {ds['periods']} monthly periods ({ds['first_period']} to "
        f"{ds['last_period']}), {len(ds['deteriorating_units'])} deteriorating units; each submission feeds "
        f"{ds['models_per_submission']} models. Seed `{ds['seed']}`.",
        "",
    ]
    limits = results.get("limits") or {}
    kafka, copy, plain = limits.get("kafka") or {}, limits.get("copy") or {}, limits.get("plain") or {}
    if limits:
        lines += [
            "## Limits (same broker and database, same run)",
            "",
            "| limit | per second |",
            "| --- | ---: |",
            f"| raw aiokafka produce (acks=all) | {_fmt(kafka.get('produce_per_s'))} |",
            f"| raw aiokafka produce-and-consume round trip | {_fmt(kafka.get('round_trip_per_s'))} |",
            f"| raw aiokafka consume only | {_fmt(kafka.get('consume_only_per_s'))} |",
            f"| raw asyncpg COPY of ingest's rows (10,000 per transaction) | {_fmt(copy.get('rows_per_s'))} |",
            f"| plain per-message implementation (bench/plain.py; {_fmt(plain.get('messages'))} messages) "
            f"| {_fmt(plain.get('per_s'))} |",
            "",
        ]
    round_trip = kafka.get("round_trip_per_s")
    copy_rate = copy.get("rows_per_s")
    stage_limit = {"ingest": copy_rate, "scoring": copy_rate, "alerts": round_trip, "end_to_end": round_trip}
    for phase in ("http", "intake"):
        data = _get(results, "phases", phase)
        if not data:
            continue
        title = "Burst through ingest's batch API" if phase == "http" else "Burst published to the intake topic"
        lines += [
            f"## {title}",
            "",
            "| stage | finished after (s) | per second (from start) | per second (while active) | limit | ratio |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        stages = data["stages"]
        for stage in (*SERVICES, "end_to_end"):
            s = stages.get(stage)
            if not s:
                continue
            limit = stage_limit.get(stage)
            done = s.get("done_s", s.get("seconds"))
            ratio = f"{s['per_s'] / limit:.1%}" if limit else "-"
            lines.append(
                f"| {stage.replace('_', ' ')} | {_fmt(done)} | {_fmt(s['per_s'])} | {_fmt(s.get('active_per_s'))} "
                f"| {_fmt(limit)} | {ratio} |"
            )
        v = data["verification"]
        lines += [
            "",
            f"Score events: {_fmt(data['score_events'])} ({data['score_events_per_submission']} per submission); "
            f"alert transitions: {_fmt(data['alert_transitions'])}; alerted units: {v['alerted_units']}. "
            f"Correctness: {'**ok**' if v['ok'] else '**FAILED**'} (contributions per model "
            f"{v['contributions_per_model']}, respondents per model {v['respondents_per_model']}, "
            f"answers {v['scored_answers']:,}/{v['scored_answers_expected']:,}, dead letters {v['dead_letters']}). "
            f"Batches retried after an error: {data.get('consumer_retries', {})}.",
            "",
        ]
        writes = data.get("row_writes_per_submission")
        if writes:
            lines += [
                f"PostgreSQL rows written per submission: **{sum(writes.values()):.1f}** ("
                + ", ".join(f"{table} {w:g}" for table, w in writes.items())
                + ").",
                "",
            ]
        lines += _resources_table(data["resources"])
    steady = _get(results, "phases", "steady")
    if steady:
        lat = steady["latency_ms"]
        lines += [
            f"## Steady load: {steady['rate']:,}/s for {steady['seconds']:.0f} s "
            f"(requests of {steady['request_size']}, achieved {steady['achieved_rate']:,}/s)",
            "",
            "| latency (ms) | p50 | p95 | p99 | max |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for key, title in (
            ("submitted_to_received", "submitted -> stored by ingest (DB clock)"),
            ("ingest_server_histogram", "request handled by ingest (ingest's own histogram)"),
            ("submitted_to_scored", "submitted -> counted by scoring (DB clock, its batch's transaction start)"),
            ("scoring_histogram", "ingested -> counted durably (scoring histogram)"),
            ("submitted_to_published", "submitted -> its unit's score on Kafka, every model (record timestamps)"),
            ("counted_to_tick", "of which: counted -> the tick that scores it starts (per model)"),
            ("tick_to_published", "of which: tick starts -> on Kafka (rescoring, commit, relay; per model)"),
            ("score_to_decided_histogram", "score computed -> alert decided (alerts histogram)"),
            ("submitted_to_decided_estimate", "submitted -> alert decided (on Kafka + computed -> decided, high)"),
        ):
            row = lat.get(key) or {}
            lines.append(
                f"| {title} | {_fmt(row.get('p50'))} | {_fmt(row.get('p95'))} | {_fmt(row.get('p99'))} "
                f"| {_fmt(row.get('max'))} |"
            )
        lines += [
            "",
            (
                f"Drained {steady['drained_s']} s after the last request. "
                if steady.get("drained_s") is not None
                else f"Alerts had not caught up {steady.get('alerts_behind', 0):,} score events when the bench stopped "
                "waiting; the decision latencies cover what it had judged. "
            )
            + (
                f"Submissions whose unit published no score event (below the anonymity threshold): "
                f"{steady['latency_ms']['published_not_found']:,}. "
                if "published_not_found" in steady.get("latency_ms", {})
                else ""
            )
            + f"Score events: {steady.get('score_events', 0):,.0f} "
            f"({steady.get('score_events', 0) / steady['sent']:.1f} per submission). "
            f"Batches retried after an error: {steady.get('consumer_retries', {})}.",
            "",
        ]
        lines += _resources_table(steady["resources"])
    for phase, error in (results.get("errors") or {}).items():
        lines += [f"## {phase}: did not complete", "", "```", error.strip().splitlines()[-1][:500], "```", ""]
    lines += ["## Targets (reported, not asserted)", "", "| target | value | met |", "| --- | ---: | :---: |"]
    for t in results.get("targets") or targets(results):
        lines.append(f"| {t['target']} | {_fmt(t['value'])} | {'yes' if t['met'] else 'no'} |")
    lines += ["", *trend(directory, exclude=name)]
    return "\n".join(lines) + "\n"


def _resources_table(resources: dict[str, dict[str, float]]) -> list[str]:
    if not resources:
        return []
    lines = [
        "| process tree | CPU s | mean cores | peak cores | peak RSS MB | RSS at end MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    known = (*SERVICES, "broker", "postgres")
    replicas = sorted(n for n in resources if n not in known)  # scoring-2, ...: --scoring-replicas
    for name in (*SERVICES, *replicas, "broker", "postgres"):
        r = resources.get(name)
        if r:
            lines.append(
                f"| {name} | {_fmt(r['cpu_s'])} | {r['mean_cores']:.2f} | {r['peak_cores']:.2f} "
                f"| {_fmt(r['peak_rss_mb'])} | {_fmt(r['end_rss_mb'])} |"
            )
    return [*lines, ""]


def trend(directory: Path, *, exclude: str = "") -> list[str]:
    rows = []
    for path in sorted(directory.glob("*.json")):
        if path.stem == exclude:
            continue
        try:
            r = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        rows.append(
            f"| {path.stem} | {_fmt(_get(r, 'config', 'submissions'))} "
            f"| {_fmt(_get(r, 'phases', 'http', 'stages', 'end_to_end', 'per_s'))} "
            f"| {_fmt(_get(r, 'phases', 'intake', 'stages', 'end_to_end', 'per_s'))} "
            f"| {_fmt(_get(r, 'limits', 'kafka', 'round_trip_per_s'))} "
            f"| {_fmt(_get(r, 'phases', 'steady', 'latency_ms', 'submitted_to_scored', 'p99'))} |"
        )
    if not rows:
        return []
    return [
        "## Earlier runs in bench/results/",
        "",
        "| run | submissions | HTTP end to end /s | intake end to end /s | raw round trip /s | steady p99 scored ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        *rows,
        "",
    ]


def chart(results: dict[str, Any], path: Path) -> Path | None:
    """Throughput per stage against the limits, latency percentiles, and memory per service."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    ax = axes[0]
    phases = [p for p in ("http", "intake") if _get(results, "phases", p)]
    stages = (*SERVICES, "end_to_end")
    width = 0.8 / max(1, len(phases))
    for i, phase in enumerate(phases):
        st = results["phases"][phase]["stages"]
        values = [(st.get(s) or {}).get("per_s", 0) for s in stages]
        xs = [x + i * width for x in range(len(stages))]
        bars = ax.bar(xs, values, width=width, label=f"burst via {phase}")
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=7)
    round_trip = _get(results, "limits", "kafka", "round_trip_per_s")
    copy = _get(results, "limits", "copy", "rows_per_s")
    if round_trip:
        ax.axhline(
            round_trip, color="black", linestyle="--", linewidth=1, label=f"raw Kafka round trip {round_trip:,}/s"
        )
    if copy:
        ax.axhline(copy, color="grey", linestyle=":", linewidth=1, label=f"raw COPY {copy:,} rows/s")
    ax.axhline(8000, color="red", linewidth=1, label="target 8,000/s")
    ax.set_xticks(
        [x + width * (len(phases) - 1) / 2 for x in range(len(stages))], [s.replace("_", " ") for s in stages]
    )
    ax.set_ylabel("submissions per second")
    ax.set_yscale("log")
    ax.set_title("Throughput per stage (from burst start)")
    ax.legend(fontsize=7)

    ax = axes[1]
    lat = _get(results, "phases", "steady", "latency_ms") or {}
    series = [
        ("submitted_to_scored", "submitted→counted"),
        ("scoring_histogram", "ingested→counted (hist)"),
        ("submitted_to_published", "submitted→on Kafka"),
        ("score_to_decided_histogram", "score→decided (hist)"),
        ("submitted_to_decided_estimate", "submitted→decided (est.)"),
    ]
    qs = ("p50", "p95", "p99")
    width = 0.8 / len(series)
    for i, (key, title) in enumerate(series):
        row = lat.get(key) or {}
        values = [row.get(q) or 0 for q in qs]
        bars = ax.bar([x + i * width for x in range(len(qs))], values, width=width, label=title)
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=7)
    ax.axhline(250, color="red", linewidth=1, label="target p99 scored 250 ms")
    ax.set_xticks([x + width * (len(series) - 1) / 2 for x in range(len(qs))], qs)
    ax.set_ylabel("milliseconds")
    ax.set_yscale("log")
    rate = _get(results, "phases", "steady", "rate")
    ax.set_title(f"Latency at {rate:,}/s steady load" if rate else "Latency (no steady phase)")
    ax.legend(fontsize=7)

    ax = axes[2]
    for phase in phases:
        timeline = results["phases"][phase].get("resource_timeline") or []
        for service in SERVICES:
            ts = [p["t"] for p in timeline if service in p["rss_mb"]]
            ys = [p["rss_mb"][service] for p in timeline if service in p["rss_mb"]]
            if ts:
                ax.plot(ts, ys, label=f"{service} ({phase})", linewidth=1)
    ax.axhline(200, color="red", linewidth=1, label="target 200 MB")
    ax.set_xlabel("seconds since burst start")
    ax.set_ylabel("RSS MB")
    ax.set_title("Memory per service during the bursts")
    ax.legend(fontsize=7)
    fig.suptitle(f"tempen bench {stem(results)}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
