"""A seeded hostile-input run over every HTTP route of every service, on the real broker and
PostgreSQL: never a 5xx (except 503 with Retry-After while the database is cut off), never a
connection reset, and every refusal a problem+json body.

Routes are found in the services' routers, so a new route is attacked without touching this file.
The seed and the number of requests come from TEMPEN_HOSTILE_SEED / TEMPEN_HOSTILE_REQUESTS; a
failure prints the seed and the request, so it can be replayed exactly.
"""

from __future__ import annotations

import os
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest

from tempen_shared.http import ServiceApp
from tests.auth.helpers import admin_headers
from tests.auth.test_every_endpoint import SERVICES, Endpoint, endpoints
from tests.conftest import Infra
from tests.ingest.support import set_secrets
from tests.support import TcpProxy, proxied_database_url, serving

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

TENANT = "testkommun"
REQUESTS = int(os.environ.get("TEMPEN_HOSTILE_REQUESTS", "21000"))
SEED = int(os.environ.get("TEMPEN_HOSTILE_SEED", "20261204"))
QUERY_NAMES = ("status", "unit", "recipient", "model", "scope", "dimension", "effective_from", "force", "dry_run", "x")
STRINGS = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "\ufeff",
    "ä" * 300,
    "🙂",
    "../../etc/passwd",
    "%00",
    "'; DROP TABLE alerts; --",
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "-1",
    "1e999",
    "NaN",
    "x" * 5000,
    "grupp-a1",
    "open",
    "unit",
    "hme",
)
TIMESTAMPS = (
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "2026-10-15T09:00:00+02:00",
    "2026-10-15T09:00:00",
    "1999-12-31T23:59:59Z",
    "igår",
)
NUMBERS = (0, -1, 1, 3, 5, 6, 2**63, -(2**63) - 1, 10**30, 0.5, 1e308)


def _value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if pick < 0.3:
        return rng.choice(STRINGS + TIMESTAMPS)
    if pick < 0.5:
        return rng.choice(NUMBERS)
    if pick < 0.6:
        return rng.choice((None, True, False))
    if depth > 3:
        return "deep"
    if pick < 0.8:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice((*STRINGS[:12], "answers", "q1")): _value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _submission(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {
        "instrument": "test-puls",
        "unit": "grupp-a1",
        "submission_id": f"h-{rng.randrange(10**9)}",
        "submitted_at": "2026-10-15T09:00:00+02:00",
        "answers": {"q1": 4, "q2": 5, "q3": 6},
    }
    for _ in range(rng.randrange(1, 4)):  # break one to three fields
        field = rng.choice([*body, "respondent", "tenant", "extra"])
        body[field] = rng.choice(TIMESTAMPS) if field == "submitted_at" and rng.random() < 0.7 else _value(rng)
    return body


def _csv_cell(rng: random.Random) -> str:
    value = rng.choice((*STRINGS, *TIMESTAMPS, *map(str, NUMBERS), "4,0", "", '"', '"x"y'))
    return f'"{value}"' if rng.random() < 0.3 else value


def _canonical_csv(rng: random.Random) -> bytes:
    """Canonical CSV (ingest's `text/csv`): a header that passes, or one that breaks a rule (a column named
    twice, hundreds of columns), and rows of hostile cells; sometimes a flood of blank lines."""
    header = ["submission_id", "unit", "submitted_at", "instrument", "q1", "q2", "q3"]
    pick = rng.random()
    if pick < 0.1:
        header.append("q1")
    elif pick < 0.15:
        header.extend(f"x{n}" for n in range(600))
    elif pick < 0.35:
        header.append(rng.choice(STRINGS) or "tom")
    delimiter = rng.choice((",", ";"))
    rows = [delimiter.join(header)]
    for _ in range(rng.randrange(1, 6)):
        cells = ["h-" + str(rng.randrange(10**9)), "grupp-a1", "2026-10-15T09:00:00+02:00", "test-puls", "4", "5", "6"]
        cells += ["1"] * (len(header) - len(cells))
        for _ in range(rng.randrange(1, 4)):  # break one to three cells
            cells[rng.randrange(len(cells))] = _csv_cell(rng)
        rows.append(delimiter.join(cells))
    body = "\r\n".join(rows) + "\r\n"
    if rng.random() < 0.1:
        body += "\r\n" * 200_000
    return body.encode("utf-8", errors="surrogatepass")


def _body(rng: random.Random) -> tuple[bytes, str]:
    """A hostile body and its content type."""
    pick = rng.random()
    json_type = "application/json"
    if pick < 0.1:
        return _canonical_csv(rng), "text/csv"
    if pick < 0.35:
        return httpx.Response(200, json=_submission(rng)).content, json_type
    if pick < 0.45:
        items = [_submission(rng) for _ in range(rng.randrange(1, 6))]
        return httpx.Response(200, json=items).content, json_type
    if pick < 0.55:
        return httpx.Response(200, json=_value(rng)).content, json_type
    raw = (
        b"[" * rng.choice((1_000, 100_000)),
        b'{"a": ' * 2000,
        b'{"answers": {"q1": 1e999}}',
        b'{"action_plan": "ok\\u0000plan", "reason": "\\u0000"}',
        b'"\\ud800"',
        b"\xff\xfe\x00garbage",
        b"",
        b"{not json",
        b"unit_id,name,parent_id,manager_name,manager_email\n" + b'"' + b"x" * 200_000 + b'"\n',
        b"unit_id;name\n\x00;\x00\n",
        os.urandom(rng.randrange(1, 2000)),
    )
    kinds = (json_type, "text/csv", "application/x-ndjson", "application/octet-stream", "")
    return rng.choice(raw), rng.choice(kinds)


def _path(endpoint: Endpoint, rng: random.Random) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "tenant":
            value = rng.choice((TENANT, TENANT, TENANT, "nowhere", *STRINGS))
        elif name == "platform":
            value = rng.choice(("formbricks", "typeform", "kobo", "limesurvey", *STRINGS))
        else:
            value = rng.choice(("probe-1", "grupp-a1", "00000000-0000-0000-0000-000000000000", *STRINGS))
        return quote(value, safe="") or "%20"

    return re.sub(r"\{(\w+)(?::\w+)?\}", fill, endpoint.template)


def _query(rng: random.Random) -> str:
    pairs = [f"{quote(rng.choice(QUERY_NAMES))}={quote(rng.choice(STRINGS), safe='')}" for _ in range(rng.randrange(3))]
    return "?" + "&".join(pairs) if pairs else ""


async def test_hostile_requests_on_every_route_never_get_a_5xx_or_a_reset(
    infra: Infra,
    database_url: str,
    topic_prefix: str,
    fixture_config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    set_secrets(monkeypatch)
    database = urlsplit(database_url)
    proxy = TcpProxy(database.hostname or "127.0.0.1", database.port or 5432)
    await proxy.start()
    settings = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "DATABASE_URL": proxied_database_url(database_url, proxy),
        "TEMPEN_CONFIG_DIR": fixture_config,
        "TEMPEN_TOPIC_PREFIX": topic_prefix,
        "TEMPEN_KAFKA_SESSION_TIMEOUT_MS": 2000,
        "TEMPEN_KAFKA_HEARTBEAT_INTERVAL_MS": 300,
    }
    headers = await admin_headers(database_url)
    rng = random.Random(SEED)
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    apps: dict[str, ServiceApp] = {name: factory(settings, tmp_path / name) for name, factory in SERVICES.items()}
    sent = 0
    per_service = REQUESTS // len(apps)
    for name, app in apps.items():
        routes = list(endpoints(list(app.http.routes)))
        outage = range(per_service // 2, per_service // 2 + per_service // 10)  # the database cut off meanwhile
        async with serving(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:
            for number in range(per_service):
                if number == outage.start:
                    await proxy.cut()
                if number == outage.stop:
                    await proxy.start()
                endpoint = rng.choice(routes)
                body, content_type = _body(rng) if endpoint.method == "POST" else (b"", "")
                request_headers = dict(headers)
                if content_type:
                    request_headers["content-type"] = content_type
                url = _path(endpoint, rng) + _query(rng)
                what = f"seed {SEED}, {name} request {number}: {endpoint.method} {url[:200]} body {body[:120]!r}"
                try:
                    response = await http.request(endpoint.method, url, content=body, headers=request_headers)
                except httpx.TransportError as exc:
                    failures.append(f"{what}: {exc!r}")
                    continue
                finally:
                    sent += 1
                statuses[f"{response.status_code // 100}xx"] += 1
                in_outage = number in outage
                if in_outage and response.status_code == 503:
                    statuses["503 during the outage"] += 1
                if response.status_code >= 500:
                    retry_later = response.status_code == 503 and "retry-after" in response.headers
                    # Outside the outage only a webhook mapping whose secret is not set may say "retry later".
                    unverifiable = "Verification not configured" in response.text
                    allowed = retry_later and (in_outage or unverifiable)
                    if not allowed:
                        failures.append(f"{what}: {response.status_code} {response.text[:300]}")
                if response.status_code >= 400 and "json" not in response.headers.get("content-type", ""):
                    failures.append(f"{what}: {response.status_code} without a problem body")

    print(f"hostile HTTP run: seed {SEED}, {sent} requests, by status class {dict(sorted(statuses.items()))}")
    assert sent >= REQUESTS - len(apps)
    assert failures == [], f"{len(failures)} of {sent} failed:\n" + "\n".join(failures[:40])
    assert statuses["2xx"] > 0, "no request was ever accepted: the run tested only the doorway"
    assert statuses["503 during the outage"] > 0, "no request reached the database while it was cut off"
