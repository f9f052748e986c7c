"""`python -m bench` (`make bench`): see docs/benchmarks.md.

python -m bench                                  # the full bench: 1,000,000 submissions
python -m bench --submissions 50000              # a quick run
python -m bench --phases limits,http --profile http
python -m bench generate --submissions 20000 --out /tmp/bench-config
python -m bench report bench/results/<run>.json  # write the markdown and chart again
python -m bench codecs                           # CPU per submission of the hot paths' decoding and encoding
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bench import generator, report
from bench.harness import PHASES, BenchConfig, install_signal_handlers, log, run_bench


def _phases(text: str) -> tuple[str, ...]:
    phases = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown phase(s) {', '.join(unknown)}; choose from {', '.join(PHASES)}")
    return phases


def _env(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("use NAME=VALUE")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")

    gen = sub.add_parser("generate", help="write the generated tenant config and print the dataset's shape")
    gen.add_argument("--submissions", type=int, default=20_000)
    gen.add_argument("--employees", type=int)
    gen.add_argument("--periods", type=int)
    gen.add_argument("--seed", default="tempen-bench-v1")
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--ndjson", action="store_true", help="also write the submissions to OUT/submissions.ndjson")

    rep = sub.add_parser("report", help="write the markdown and PNG of a result JSON again")
    rep.add_argument("json", type=Path)

    cod = sub.add_parser("codecs", help="micro-benchmark: reading, validating and writing submissions, before and now")
    cod.add_argument("--submissions", type=int, default=10_000)
    cod.add_argument("--repeat", type=int, default=7, help="runs per stage; the best counts")

    parser.add_argument("--submissions", type=int, default=1_000_000, help="burst size (default 1,000,000)")
    parser.add_argument("--employees", type=int, help="head count (default: sized for two years of pulses)")
    parser.add_argument("--periods", type=int, help="monthly periods to draw from (default: as many as needed)")
    parser.add_argument("--seed", default="tempen-bench-v1")
    parser.add_argument("--phases", type=_phases, default=PHASES, help=f"comma-separated, default {','.join(PHASES)}")
    parser.add_argument("--http-batch", type=int, default=10_000, help="submissions per HTTP request in the burst")
    parser.add_argument("--http-concurrency", type=int, default=2, help="requests in flight in the burst")
    parser.add_argument("--steady-rate", type=int, default=1_000, help="submissions per second (default 1,000)")
    parser.add_argument("--steady-seconds", type=float, default=60.0)
    parser.add_argument("--steady-batch", type=int, default=10, help="submissions per request at steady load")
    parser.add_argument("--timeout", type=float, help="seconds a phase may take to drain (default by size)")
    parser.add_argument(
        "--scoring-replicas", type=int, default=1, help="scoring processes in one consumer group (default 1)"
    )
    parser.add_argument("--profile", type=_phases, default=(), help="phases to profile the services in (py-spy)")
    parser.add_argument(
        "--service-env",
        type=_env,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the services, e.g. TEMPEN_KAFKA_MAX_BATCH=2000",
    )
    parser.add_argument("--label", default="", help="added to the result file names")
    parser.add_argument("--results", type=Path, default=report.RESULTS, help="where results go (bench/results)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary state (databases, logs)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        muni = generator.build(
            submissions=args.submissions, seed=args.seed, employees=args.employees, periods=args.periods
        )
        generator.write_config(muni, args.out)
        if args.ndjson:
            with (args.out / "submissions.ndjson").open("wb") as out:
                for submission in generator.submissions(muni, args.submissions):
                    out.write(submission.body + b"\n")
        print(json.dumps(muni.describe(), indent=1, ensure_ascii=False))
        return 0
    if args.command == "codecs":
        from bench import codecs  # imports the services' code, which the rest of the bench leaves to them

        print(codecs.run(args.submissions, args.repeat))
        return 0
    if args.command == "report":
        results = json.loads(args.json.read_text(encoding="utf-8"))
        (args.json.with_suffix(".md")).write_text(
            report.markdown(results, args.json.stem, args.json.parent), encoding="utf-8"
        )
        report.chart(results, args.json.with_suffix(".png"))
        return 0
    config = BenchConfig(
        submissions=args.submissions,
        employees=args.employees,
        periods=args.periods,
        seed=args.seed,
        phases=args.phases,
        http_batch=args.http_batch,
        http_concurrency=args.http_concurrency,
        steady_rate=args.steady_rate,
        steady_seconds=args.steady_seconds,
        steady_batch=args.steady_batch,
        timeout_s=args.timeout,
        profile=args.profile,
        keep=args.keep,
        service_env=dict(args.service_env),
        scoring_replicas=args.scoring_replicas,
        label=args.label,
    )
    install_signal_handlers()
    results = asyncio.run(run_bench(config, results_dir=args.results))
    for path in report.write(results, args.results):
        log(f"wrote {path}")
    failed = [p for p, d in results["phases"].items() if "verification" in d and not d["verification"]["ok"]]
    if failed:
        log(f"correctness check FAILED in: {', '.join(failed)}")
    for phase, error in results.get("errors", {}).items():
        log(f"{phase} did not complete:\n{error}")
    return 1 if failed or results.get("errors") else 0


if __name__ == "__main__":
    sys.exit(main())
