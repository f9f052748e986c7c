"""`python -m bench.portal` (run by `make bench` after the pipeline bench): how long the portal's pages
take for the 3,000-unit municipality, against the real services. See docs/benchmarks.md, "Portal pages".

The bench's municipality (`bench/generator.py`, `--employees 52083`: about 3,000 units) answers six
monthly pulses. Their scores are written by scoring's own store (`PostgresScoringStore`, the code the
service runs, anonymity rules included) straight into a fresh database, which is far quicker than
sending 250,000 submissions through ingest and the broker; then scoring, alerts and the portal start on
it as `tempen up` starts them, scoring's relay publishes every score group and alerts judges them,
raising alerts for the units the generator makes deteriorate. Once that has settled, each page is
requested in turn, one at a time, on loopback:

- the alert page of one alert, as the manager of the förvaltning it is in;
- My units of the manager of the largest förvaltning (its first page: 100 units, a sparkline of six
  periods per dimension);
- HR's heatmap (`/t/bench/overview`, its first page: 250 units, every dimension).

The time is the client's, from sending the request to the whole body read: the server's time plus a
loopback round trip, so an upper bound of it. The session is a signed session cookie made here with the
portal's own secret, as its sign-in would leave it: sign-in is not what is measured.

python -m bench.portal                       # about 3 minutes
python -m bench.portal --requests 50         # quicker, rougher percentiles
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from itsdangerous import TimestampSigner
from pydantic import SecretStr

from bench import generator
from bench.harness import Infrastructure, _admin_token, git_commit, log
from tempen.embedded import free_port
from tempen.supervisor import Supervisor
from tempen_portal.app import session_secret
from tempen_portal.config import PortalSettings
from tempen_scoring.adapters.postgres import SCHEMA, PostgresScoringStore
from tempen_scoring.service import contributions_of
from tempen_shared.db import create_pool, migrate
from tempen_shared.events import SubmissionAccepted, submission_event_id
from tempen_shared.orgcopy import ORG_COPY
from tempen_shared.tenancy.loader import load_catalog

EMPLOYEES = 52_083  # the bench's 3,000-unit municipality (docs/benchmarks.md)
PERIODS = 6
TARGET_MS = 100.0
SERVICES = ("scoring", "alerts", "portal")
BATCH = 10_000


def _cookie(session_secret: str, session: dict[str, Any]) -> str:
    """The cookie Starlette's SessionMiddleware would set for `session` (its format: base64 JSON, signed)."""
    data = base64.b64encode(json.dumps(session).encode("utf-8"))
    return TimestampSigner(session_secret).sign(data).decode("utf-8")


async def _score(database_url: str, config_dir: Path, muni: generator.Municipality, prefix: str) -> int:
    """Every submission of the municipality's periods applied by scoring's store; returns how many."""
    catalog = load_catalog(config_dir)
    pool = await create_pool(database_url)
    try:
        await migrate(pool, schema=SCHEMA, package="tempen_scoring")
        await migrate(pool, schema=SCHEMA, package=ORG_COPY)
        store = PostgresScoringStore(pool, catalog=catalog, topic=lambda n: f"{prefix}{n}", on_commit=lambda: None)
        # Everyone who answers in every period (`generate` wants a count, which would cut the last period short).
        with ProcessPoolExecutor(max_workers=2) as workers:
            periods = workers.map(generator._period_worker, [(muni, i) for i in range(len(muni.periods))])
            submissions = [s for period in periods for s in period]
        batch = []
        for s in submissions:
            body = orjson.loads(s.body)
            event = SubmissionAccepted(
                event_id=submission_event_id(body["tenant"], body["submission_id"], 1),
                occurred_at=datetime.fromisoformat(body["submitted_at"]),
                tenant=body["tenant"],
                instrument=body["instrument"],
                unit=body["unit"],
                submission_id=body["submission_id"],
                revision=1,
                submitted_at=datetime.fromisoformat(body["submitted_at"]),
                answers=body["answers"],
                respondent=body["respondent"],
            )
            batch.extend(contributions_of(event, catalog))
            if len(batch) >= BATCH:
                await store.apply(batch, [])
                batch = []
        if batch:
            await store.apply(batch, [])
        while await store.score_pending(force=True):
            pass
        return len(submissions)
    finally:
        await pool.close()


async def _settled(database_url: str, timeout_s: float) -> int:
    """Wait until scoring has published every group and alerts has consumed and judged them all (nothing
    changes for five seconds), so the pages are timed on an idle system; returns the alerts."""
    conn = await asyncpg.connect(database_url)
    deadline = time.monotonic() + timeout_s
    last: tuple[int, ...] | None = None
    quiet_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            state = tuple(
                await conn.fetchrow(
                    "SELECT (SELECT count(*) FROM scoring.slice_versions WHERE scored_version < version)"
                    " + (SELECT count(*) FROM scoring.score_groups WHERE revision >"
                    " coalesce((SELECT max(position) FROM scoring.relay_positions), 0))"
                    " + (SELECT count(*) FROM alerts.series WHERE rejudge),"
                    " (SELECT count(*) FROM alerts.series), (SELECT count(*) FROM alerts.period_scores),"
                    " (SELECT count(*) FROM alerts.alerts), (SELECT count(*) FROM alerts.transitions)"
                )
            )
            if state != last:
                last, quiet_since = state, time.monotonic()
            elif state[0] == 0 and state[1] and time.monotonic() - quiet_since >= 5:
                return int(state[3])
            await asyncio.sleep(1)
    finally:
        await conn.close()
    raise TimeoutError(f"scores not published and judged within {timeout_s:.0f} s")


async def _timed(client: httpx.AsyncClient, path: str, cookie: str, *, warmup: int, requests: int) -> dict[str, Any]:
    cookies = {"tempen_session": cookie}
    for _ in range(warmup):
        response = await client.get(path, cookies=cookies)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
    times: list[float] = []
    size = 0
    for _ in range(requests):
        started = time.perf_counter()
        response = await client.get(path, cookies=cookies)
        times.append((time.perf_counter() - started) * 1000)
        size = len(response.content)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
    times.sort()
    return {
        "path": path,
        "requests": requests,
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
        "max_ms": round(times[-1], 1),
        "html_kb": round(size / 1024, 1),
    }


async def run(*, requests: int, employees: int, periods: int, keep: bool) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="tempen-bench-portal-"))
    infra = Infrastructure(root)
    sup: Supervisor | None = None
    commit, dirty = git_commit()
    results: dict[str, Any] = {
        "kind": "portal",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "dirty": dirty,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "config": {"employees": employees, "periods": periods, "requests": requests},
    }
    try:
        await asyncio.to_thread(infra.start)
        results["infrastructure"] = infra.describe()
        muni = generator.build(submissions=employees * periods, employees=employees, periods=periods)
        config_dir = generator.write_config(muni, root / "config")
        catalog = load_catalog(config_dir)
        tenant = catalog.tenants[muni.tenant]
        results["config"]["units"] = len(tenant.org)
        database_url = await infra.create_database("tempen_bench_portal")
        prefix = f"bench{os.getpid()}-portal."
        started = time.monotonic()
        submitted = await _score(database_url, config_dir, muni, prefix)
        results["scored_submissions"] = submitted
        results["scoring_s"] = round(time.monotonic() - started, 1)
        log(f"portal: {submitted:,} submissions scored in {results['scoring_s']} s")

        link_secret = secrets.token_hex(32)
        environ = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
        environ |= {
            "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
            "DATABASE_URL": database_url,
            "TEMPEN_TOPIC_PREFIX": prefix,
        }
        extra = {f"TEMPEN_{s.upper()}_GROUP_ID": f"{prefix}{s}" for s in ("scoring", "alerts")}
        extra["TEMPEN_LINK_SECRET"] = link_secret
        sup = Supervisor(
            config_dir=config_dir,
            state_dir=root / "portal",
            environ=environ,
            ports={n: free_port() for n in SERVICES},
            extra_env=extra,
            selected=SERVICES,
        )
        await asyncio.to_thread(sup.start_infrastructure)
        token = await asyncio.to_thread(_admin_token, database_url, root / "portal")
        await asyncio.to_thread(sup.start_services)  # the portal's token is made on its own event loop
        await asyncio.to_thread(sup.wait_ready, timeout_s=180)
        started = time.monotonic()
        results["alerts"] = await _settled(database_url, timeout_s=900)
        results["settle_s"] = round(time.monotonic() - started, 1)
        log(f"portal: {results['alerts']} alerts after {results['settle_s']} s")

        headers = {"authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=sup.services["alerts"].url, headers=headers, timeout=30) as api:
            listed = (await api.get(f"/v1/tenants/{muni.tenant}/alerts")).json()["alerts"]
        if not listed:
            raise RuntimeError("no alert was raised: nothing to open on the alert page")
        tree = tenant.org
        forvaltningar = tree.children[tree.root]
        largest = max(forvaltningar, key=lambda f: sum(1 for _ in tree.subtree(f)))
        alert = listed[0]
        home = next(f for f in forvaltningar if alert["unit"] in set(tree.subtree(f)))
        key = session_secret(PortalSettings(api_token=SecretStr("unused"), link_secret=SecretStr(link_secret)))

        def session(unit: str | None) -> str:
            manager = tree.units[unit].manager if unit else None
            person = manager.identity if manager else str(tenant.config.hr_email).lower()
            # signed_in_at: the portal ends a session its hours after sign-in, so the bench signs in now.
            session = {"tenant": muni.tenant, "person": person, "via": "bench", "lang": "sv"}
            return _cookie(key, {**session, "signed_in_at": int(time.time())})

        pages = {
            "alert_page": (f"/t/{muni.tenant}/alerts/{alert['alert_id']}", session(home)),
            "my_units": (f"/t/{muni.tenant}/units", session(largest)),
            "hr_heatmap": (f"/t/{muni.tenant}/overview", session(None)),
        }
        results["my_units_manager_units"] = sum(1 for _ in tree.subtree(largest))
        measured: dict[str, Any] = {}
        async with httpx.AsyncClient(base_url=sup.services["portal"].url, timeout=60) as portal:
            for name, (path, cookie) in pages.items():
                measured[name] = await _timed(portal, path, cookie, warmup=10, requests=requests)
                measured[name]["under_target"] = measured[name]["p95_ms"] < TARGET_MS
                log(f"portal: {name} p50 {measured[name]['p50_ms']} ms, p95 {measured[name]['p95_ms']} ms")
        results["pages"] = measured
        results["target_ms"] = TARGET_MS
        return results
    finally:
        if sup is not None:
            sup.stop()
        infra.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def markdown(results: dict[str, Any], name: str) -> str:
    lines = [
        f"# Portal pages: {name}",
        "",
        f"{results['config']['units']:,} units, {results['scored_submissions']:,} submissions over"
        f" {results['config']['periods']} months, {results['alerts']} alerts; commit {results['commit']}"
        f"{' (dirty)' if results['dirty'] else ''}, {results['machine']['cpus']} CPUs.",
        "",
        "| page | path | p50 ms | p95 ms | max ms | HTML KB | p95 under 100 ms |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for page, m in results["pages"].items():
        lines.append(
            f"| {page} | `{m['path']}` | {m['p50_ms']} | {m['p95_ms']} | {m['max_ms']} | {m['html_kb']} |"
            f" {'yes' if m['under_target'] else 'no'} |"
        )
    lines += [
        "",
        f"{results['config']['requests']} sequential requests per page after 10 to warm up; client time on"
        " loopback (an upper bound of the server's).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.portal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page (default 200)")
    parser.add_argument("--employees", type=int, default=EMPLOYEES, help="head count (default: 3,000 units)")
    parser.add_argument("--periods", type=int, default=PERIODS, help="monthly pulses scored (default 6)")
    parser.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--keep", action="store_true", help="keep the temporary state (databases, logs)")
    args = parser.parse_args(argv)
    results = asyncio.run(run(requests=args.requests, employees=args.employees, periods=args.periods, keep=args.keep))
    args.results.mkdir(parents=True, exist_ok=True)
    name = f"{results['started_at'][:10]}-{results['commit']}{'-dirty' if results['dirty'] else ''}-portal"
    (args.results / f"{name}.json").write_text(
        json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (args.results / f"{name}.md").write_text(markdown(results, name), encoding="utf-8")
    print(markdown(results, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
