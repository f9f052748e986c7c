"""BackgroundTasks: a loop that dies is logged, counted, shown as down (in /readyz too) and restarted;
one asked to stop is not restarted."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tempen_shared.http import readiness
from tempen_shared.metrics import CommonMetrics
from tempen_shared.supervision import BackgroundTasks


def _sample(registry: CollectorRegistry, name: str, task: str) -> float | None:
    return registry.get_sample_value(name, {"task": task})


async def test_a_task_that_dies_is_logged_counted_reported_down_and_restarted(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    tasks = BackgroundTasks(CommonMetrics(registry, "test"), backoff_s=0.3)
    runs = 0
    restarted = asyncio.Event()
    release = asyncio.Event()

    async def relay() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("cannot switch to state 15")
        restarted.set()
        await release.wait()

    app = readiness({"background_tasks": tasks.check})
    with caplog.at_level(logging.ERROR, logger="tempen_shared.supervision"):
        tasks.start("outbox-relay", relay)
        await asyncio.sleep(0.1)  # died, waiting out the backoff
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
            down = await http.get("/readyz")
            assert _sample(registry, "tempen_background_task_up", "outbox-relay") == 0
            await asyncio.wait_for(restarted.wait(), timeout=5)
            up = await http.get("/readyz")
    release.set()
    await tasks.stop()

    assert down.status_code == 503
    assert (
        "outbox-relay: died with RuntimeError('cannot switch to state 15')"
        in down.json()["reasons"]["background_tasks"]
    )
    assert (up.status_code, up.json()["checks"]) == (200, {"background_tasks": True})
    assert _sample(registry, "tempen_background_task_restarts_total", "outbox-relay") == 1
    assert _sample(registry, "tempen_background_task_up", "outbox-relay") == 1
    assert any("outbox-relay died" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_a_task_that_returns_by_itself_is_restarted_but_one_asked_to_stop_is_not() -> None:
    registry = CollectorRegistry()
    tasks = BackgroundTasks(CommonMetrics(registry, "test"), backoff_s=0.01)
    returned = 0
    stopping = asyncio.Event()
    stopped_runs = 0

    async def quitter() -> None:
        nonlocal returned
        returned += 1
        if returned < 3:
            return
        await asyncio.Event().wait()

    async def graceful() -> None:
        nonlocal stopped_runs
        stopped_runs += 1
        await stopping.wait()

    tasks.start("quitter", quitter)
    tasks.start("graceful", graceful, on_stop=stopping.set)
    for _ in range(100):
        if returned >= 3:
            break
        await asyncio.sleep(0.02)
    await tasks.stop(timeout_s=2)
    await asyncio.sleep(0.05)

    assert returned == 3
    assert _sample(registry, "tempen_background_task_restarts_total", "quitter") == 2
    assert stopped_runs == 1  # finished when asked, and not started again
    assert _sample(registry, "tempen_background_task_restarts_total", "graceful") == 0
    assert tasks.down() == {}
