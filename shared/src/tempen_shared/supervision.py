"""Every background loop of a service (outbox relay, publisher, notifiers, sweeper, retention) runs
under one supervisor, so that none can die unnoticed.

A loop that raises, or returns while the service is not stopping, is logged with its exception,
counted in `tempen_background_task_restarts_total{task}`, shown as down in
`tempen_background_task_up{task}` and in `/readyz` (with the reason), and restarted after a backoff
that doubles up to `max_backoff_s` and starts over once a run has lasted `healthy_after_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tempen_shared.metrics import CommonMetrics

logger = logging.getLogger(__name__)


@dataclass
class _Task:
    name: str
    run: Callable[[], Awaitable[None]]
    on_stop: Callable[[], None] | None
    task: asyncio.Task[None] | None = None
    down_reason: str | None = None
    stopping: bool = False


class BackgroundTasks:
    def __init__(
        self,
        metrics: CommonMetrics,
        *,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        healthy_after_s: float = 60.0,
    ) -> None:
        self._metrics = metrics
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._healthy_after_s = healthy_after_s
        self._tasks: dict[str, _Task] = {}

    def start(
        self, name: str, run: Callable[[], Awaitable[None]], *, on_stop: Callable[[], None] | None = None
    ) -> None:
        """Run `run()` under supervision as `name`; `on_stop` asks it to finish (else it is cancelled)."""
        if name in self._tasks:
            raise ValueError(f"a background task named {name!r} is already running")
        entry = _Task(name, run, on_stop)
        self._tasks[name] = entry
        self._metrics.task_up.labels(name).set(1)
        self._metrics.task_restarts.labels(name)  # the series exists at 0 before the first restart
        entry.task = asyncio.create_task(self._supervise(entry), name=name)

    async def stop(self, *names: str, timeout_s: float = 10.0) -> None:
        """Ask the tasks named (all by default) to finish, wait up to `timeout_s` for them, then cancel
        what is left. A task stopped here is not restarted."""
        chosen = set(names) if names else set(self._tasks)
        entries = [e for e in self._tasks.values() if e.task is not None and e.name in chosen]
        for entry in entries:
            entry.stopping = True
        for entry in entries:
            if entry.on_stop is not None and entry.down_reason is None:
                entry.on_stop()
            elif entry.task is not None:
                entry.task.cancel()
        tasks = [e.task for e in entries if e.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout_s)
            for task in late:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for entry in entries:
            del self._tasks[entry.name]

    def down(self) -> dict[str, str]:
        """The tasks not running right now, each with why."""
        return {e.name: e.down_reason for e in self._tasks.values() if e.down_reason is not None}

    async def check(self) -> bool | str:
        """For `/readyz`: True, or the reason some task is down."""
        down = self.down()
        return True if not down else "; ".join(f"{name}: {reason}" for name, reason in sorted(down.items()))

    async def _supervise(self, entry: _Task) -> None:
        loop = asyncio.get_running_loop()
        backoff = self._backoff_s
        while True:
            started = loop.time()
            try:
                await entry.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if entry.stopping:
                    return
                reason = f"died with {exc!r}"
                logger.exception("background task %s died; restarting it", entry.name)
            else:
                if entry.stopping:
                    return
                reason = "stopped by itself"
                logger.error("background task %s returned while the service runs; restarting it", entry.name)
            if loop.time() - started >= self._healthy_after_s:
                backoff = self._backoff_s
            entry.down_reason = f"{reason}; restarting in {backoff:.1f} s"
            self._metrics.task_up.labels(entry.name).set(0)
            self._metrics.task_restarts.labels(entry.name).inc()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff_s)
            if entry.stopping:
                return
            entry.down_reason = None
            self._metrics.task_up.labels(entry.name).set(1)
