"""BatchConsumer's error taxonomy: after the retries, a bug is pinned on the records that trigger it,
and only those are dead-lettered; everything else in the batch is processed, in order."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tempen_shared.consumer import BatchConsumer, Parsed, Record
from tempen_shared.events import DeadLetter


def _records(values: Sequence[str]) -> list[Record]:
    return [Record("topic", 0, offset, b"key", value.encode()) for offset, value in enumerate(values)]


class Sink:
    """A handle that fails on a poisoned value, or when two records with the same value share a batch."""

    def __init__(self) -> None:
        self.committed: list[str] = []
        self.dead: list[DeadLetter] = []
        self.calls = 0

    async def handle(self, parsed: Sequence[Parsed[str]], dead: Sequence[DeadLetter]) -> None:
        self.calls += 1
        values = [p.value for p in parsed]
        if "boom" in values:
            raise RuntimeError("a bug triggered by one record")
        if len(set(values)) != len(values):
            raise RuntimeError("a bug triggered by two records together")
        self.committed.extend(values)
        self.dead.extend(dead)


def _consumer(sink: Sink) -> BatchConsumer[str]:
    return BatchConsumer(name="test", parse=lambda r: r.value.decode(), handle=sink.handle, max_attempts=1, backoff_s=0)


async def test_only_the_record_that_triggers_a_bug_is_dead_lettered() -> None:
    sink = Sink()
    values = [f"v{i}" for i in range(1000)]
    values[617] = "boom"

    await _consumer(sink).consume(_records(values))

    assert [d.offset for d in sink.dead] == [617]
    assert sink.committed == [v for v in values if v != "boom"]
    assert sink.calls < 60  # halving, not one transaction per record


async def test_records_that_fail_only_together_are_all_processed() -> None:
    sink = Sink()
    values = [f"v{i}" for i in range(300)]
    values[250] = "v10"  # the same value twice in one batch

    await _consumer(sink).consume(_records(values))

    assert sink.dead == []
    assert sorted(sink.committed) == sorted(values)


async def test_a_batch_of_one_failing_record_is_dead_lettered() -> None:
    sink = Sink()

    await _consumer(sink).consume(_records(["boom"]))

    assert [d.offset for d in sink.dead] == [0]


@pytest.mark.parametrize("attempts", [2, 3])
async def test_a_bug_is_retried_before_it_is_isolated(attempts: int) -> None:
    sink = Sink()
    consumer: BatchConsumer[str] = BatchConsumer(
        name="test", parse=lambda r: r.value.decode(), handle=sink.handle, max_attempts=attempts, backoff_s=0
    )
    batch = _records(["a", "boom", "b"])
    for _ in range(attempts - 1):
        with pytest.raises(RuntimeError):
            await consumer.consume(batch)

    await consumer.consume(batch)

    assert sink.committed == ["a", "b"]
    assert [d.offset for d in sink.dead] == [1]
