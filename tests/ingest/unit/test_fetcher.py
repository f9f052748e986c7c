"""The response fetcher's error taxonomy with fakes of its ports: an outage waits and counts nothing,
a bug is retried a few times and then dead-lettered naming it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from prometheus_client import CollectorRegistry

from tempen_ingest.fetching import ResponseFetcher
from tempen_ingest.metrics import IngestMetrics
from tempen_ingest.ports import FetchKey, PendingFetch, Settlement
from tempen_shared.db import StoreUnavailableError
from tests.ingest.fakes import InMemorySubmissionStore
from tests.ingest.support import TENANT, surveymonkey_response
from tests.ingest.unit.test_service_webhooks import service
from tests.support import eventually

KEY = FetchKey(TENANT, "surveymonkey", "118000000201")


@dataclass
class FakeQueue:
    pending: list[PendingFetch]
    outages: int = 0  # how many claims fail first, as if the database were down
    claims: int = 0
    retries: list[tuple[float, str]] = field(default_factory=list)
    settled: list[Settlement] = field(default_factory=list)

    async def enqueue(self, fetch: PendingFetch) -> bool:
        self.pending.append(fetch)
        return True

    async def claim(self, *, limit: int, lease_s: float) -> list[PendingFetch]:
        self.claims += 1
        if self.claims <= self.outages:
            raise StoreUnavailableError("connection refused")
        taken, self.pending = self.pending[:limit], self.pending[limit:]
        return taken

    async def retry_later(self, key: FetchKey, *, delay_s: float, error: str) -> None:
        self.retries.append((delay_s, error))
        self.pending.append(PendingFetch(key, "test-puls-surveymonkey", "405123456", attempts=len(self.retries)))

    async def settle(self, settlement: Settlement) -> None:
        self.settled.append(settlement)

    async def backlog(self) -> int:
        return len(self.pending)

    async def prune(self, *, before: datetime) -> int:
        return 0


@dataclass
class FakeSource:
    body: bytes | None  # None: the adapter has a bug

    async def get(self, url: str, headers: Mapping[str, str]) -> bytes:
        if self.body is None:
            raise KeyError("a bug in the adapter")
        return self.body


async def _run(queue: FakeQueue, source: FakeSource, store: InMemorySubmissionStore) -> None:
    svc = service(store)
    fetcher = ResponseFetcher(
        lambda: svc,
        queue,
        source,
        IngestMetrics(CollectorRegistry()),
        dead_letter_topic="tempen.intake",
        max_attempts=3,
        backoff_s=0.0,
        max_backoff_s=0.0,
        lease_s=1.0,
        idle_s=0.01,
    )
    task = asyncio.create_task(fetcher.run())
    try:
        await eventually(lambda: KEY in store.settled, timeout_s=5)
    finally:
        fetcher.stop()
        await task


async def test_while_the_database_is_down_the_fetcher_waits_and_counts_no_attempt() -> None:
    store = InMemorySubmissionStore()
    queue = FakeQueue([PendingFetch(KEY, "test-puls-surveymonkey", "405123456")], outages=3)
    await _run(queue, FakeSource(orjson.dumps(surveymonkey_response(KEY.response_id))), store)

    assert queue.claims > 3
    assert queue.retries == []
    assert store.settled[KEY].state == "done"
    assert [sid for sid, _revision in store.published] == [KEY.response_id]


async def test_a_bug_is_retried_a_few_times_then_dead_lettered_naming_it() -> None:
    store = InMemorySubmissionStore()
    queue = FakeQueue([PendingFetch(KEY, "test-puls-surveymonkey", "405123456")])
    await _run(queue, FakeSource(None), store)

    assert [error for _delay, error in queue.retries] == ["bug: KeyError", "bug: KeyError"]
    assert (store.settled[KEY].state, store.settled[KEY].reason) == ("dead", "bug: KeyError (attempt 3)")
    (letter,) = store.dead_letters
    assert (letter.reason, letter.partition, letter.consumer) == ("bug", -1, "ingest-fetcher")
    assert letter.detail == "KeyError (attempt 3); file an issue with ingest's log lines"
    assert orjson.loads(letter.value)["response_id"] == KEY.response_id
    assert store.published == []
