"""Scoring's read API as alerts' backtest reads it (`ports.ScoringScores`): scoring's scores without its tables.

Scoring decides what is suppressed (a point's `suppressed`); a suppressed point is kept as a period with no
index and no group size, so a backtest treats it as alerts would (nothing about it is shown). The tenant's
index of a period is the root unit's subtree figure, the one scoring puts in each score event's
`tenant_index`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx

from tempen_alerts.domain.backtest import History, SeriesId
from tempen_alerts.domain.rules import PeriodScore
from tempen_alerts.ports import ScoringRefusedError, ScoringUnavailableError
from tempen_shared.tenancy.loader import Tenant

CONCURRENT_REQUESTS = 8  # scoring answers one unit per request; a 3,000-unit org takes a few hundred rounds

_Key = tuple[str, str, str, str]  # instrument, model, dimension, period


class HttpScoringScores:
    def __init__(self, base_url: str, *, timeout_s: float = 30.0) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s

    async def history(
        self, tenant: Tenant, *, closed_by: datetime, units: frozenset[str] | None, token: str | None
    ) -> History:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        base = f"{self._base}/v1/tenants/{tenant.id}/units"
        wanted = sorted(u for u in tenant.org.units if units is None or u in units)
        limit = asyncio.Semaphore(CONCURRENT_REQUESTS)
        try:
            async with httpx.AsyncClient(timeout=self._timeout, headers=headers) as http:

                async def series_of(unit: str, scope: str) -> list[dict[str, Any]]:
                    async with limit:
                        return await _series(http, f"{base}/{unit}/scores", scope=scope)

                root = await series_of(tenant.org.root, "subtree")
                found = await asyncio.gather(*(series_of(unit, "unit") for unit in wanted))
        except httpx.HTTPError as exc:
            raise ScoringUnavailableError(f"scoring is not reachable at {self._base}: {exc}") from None
        tenant_index: dict[_Key, float] = {
            (s["instrument"], s["model"], s["dimension"], p["period"]): p["index"]
            for s in root
            for p in s["points"]
            if not p["suppressed"]
        }
        history: History = {}
        for unit, unit_series in zip(wanted, found, strict=True):
            for s in unit_series:
                series = SeriesId(unit, s["instrument"], s["model"], s["dimension"])
                for p in s["points"]:
                    end = datetime.fromisoformat(p["period_end"])
                    if end > closed_by:
                        continue
                    shown = not p["suppressed"]
                    key = (s["instrument"], s["model"], s["dimension"], p["period"])
                    history.setdefault(series, []).append(
                        PeriodScore(
                            period=p["period"],
                            period_end=end,
                            index=p["index"] if shown else None,
                            respondents=p["respondents"] if shown else 0,  # a suppressed group's size never shows
                            standard_error=p.get("standard_error") if shown else None,
                            tenant_index=tenant_index.get(key) if shown else None,
                        )
                    )
        return history


async def _series(http: httpx.AsyncClient, url: str, *, scope: str) -> list[dict[str, Any]]:
    response = await http.get(url, params={"scope": scope})
    if response.status_code in (401, 403):
        raise ScoringRefusedError(f"scoring refused the token ({response.status_code})")
    if response.status_code == 404:
        return []  # a unit scoring has no scores of
    if response.status_code != 200:
        raise ScoringUnavailableError(f"scoring answered {response.status_code} at {url}")
    series: list[dict[str, Any]] = response.json()["series"]
    return series
