"""BatchConsumer's error taxonomy: after the retries, a bug is pinned on the records that trigger it,
and only those are dead-lettered; everything else in the batch is processed, in order."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import structlog
from structlog.testing import capture_logs

from tempen_shared.consumer import BatchConsumer, Offsets, Parsed, PartitionFencedError, PoisonMessageError, Record
from tempen_shared.events import DeadLetter
from tempen_shared.outbox import dead_letter_messages


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


def _traced(values: Sequence[str]) -> list[Record]:
    return [
        Record("topic", 0, offset, b"key", value.encode(), (("correlation_id", f"hjo:{value}".encode()),))
        for offset, value in enumerate(values)
    ]


def _parse(record: Record) -> str:
    value = record.value.decode()
    if value == "poison":
        raise PoisonMessageError("invalid", "field x: not valid")
    return value


async def test_dead_letters_keep_their_records_correlation_id_on_the_way_to_the_dlq() -> None:
    sink = Sink()
    consumer: BatchConsumer[str] = BatchConsumer(
        name="test", parse=_parse, handle=sink.handle, max_attempts=1, backoff_s=0
    )

    await consumer.consume(_traced(["a", "poison", "b", "boom", "c"]))

    assert [(d.reason, d.correlation_id) for d in sink.dead] == [("invalid", "hjo:poison"), ("unexpected", "hjo:boom")]
    assert [m.headers for m in dead_letter_messages(sink.dead)] == [
        {"reason": "invalid", "correlation_id": "hjo:poison"},
        {"reason": "unexpected", "correlation_id": "hjo:boom"},
    ]


async def test_every_line_about_a_dead_lettered_record_names_its_correlation_id() -> None:
    sink = Sink()
    consumer: BatchConsumer[str] = BatchConsumer(
        name="test", parse=_parse, handle=sink.handle, max_attempts=1, backoff_s=0
    )

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as lines:
        await consumer.consume(_traced(["a", "poison", "boom"]))

    about = {(line["event"], line.get("correlation_id")) for line in lines}
    assert about == {
        ("record fails after retries; dead-lettering it", "hjo:boom"),
        ("record dead-lettered", "hjo:poison"),
        ("record dead-lettered", "hjo:boom"),
    }


async def test_lines_about_a_batch_of_one_submission_carry_its_correlation_id() -> None:
    sink = Sink()
    consumer: BatchConsumer[str] = BatchConsumer(
        name="test", parse=_parse, handle=sink.handle, max_attempts=2, backoff_s=0
    )
    one = _traced(["boom"]) * 2  # two records of one submission: a redelivery

    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as lines, pytest.raises(RuntimeError):
        await consumer.consume(one)

    assert [(line["event"], line.get("correlation_id")) for line in lines] == [("batch failed", "hjo:boom")]


async def test_a_record_whose_parsing_raises_anything_is_dead_lettered_and_the_rest_goes_on() -> None:
    # Year 1 in a submission once raised OverflowError while its period was computed: not a
    # ValueError, so it escaped the consumer's taxonomy and the batch was redelivered for ever.
    sink = Sink()

    def parse(record: Record) -> str:
        value = record.value.decode()
        if value == "year-1":
            raise OverflowError("date value out of range")
        return value

    consumer: BatchConsumer[str] = BatchConsumer(
        name="test", parse=parse, handle=sink.handle, max_attempts=3, backoff_s=0
    )

    await consumer.consume(_records(["v0", "year-1", "v2"]))

    assert sink.committed == ["v0", "v2"]
    assert [(d.offset, d.reason) for d in sink.dead] == [(1, "unparseable")]
    assert "OverflowError: date value out of range" in sink.dead[0].detail


async def test_a_fenced_batch_is_neither_retried_nor_dead_lettered_and_is_handed_back() -> None:
    offsets: list[dict[tuple[str, int], int]] = []
    fenced: list[int] = []

    async def handle_at(parsed: Sequence[Parsed[str]], dead: Sequence[DeadLetter], at: Offsets) -> list[DeadLetter]:
        offsets.append(dict(at))
        raise PartitionFencedError([("topic", 0)])

    consumer: BatchConsumer[str] = BatchConsumer(
        name="test",
        parse=lambda r: r.value.decode(),
        handle_at=handle_at,
        max_attempts=1,
        backoff_s=0,
        on_fenced=lambda: fenced.append(1),
        on_dead_letter=lambda d: pytest.fail(f"dead-lettered {d.offset}"),
    )
    with pytest.raises(PartitionFencedError):
        await consumer.consume(_records(["a", "b", "c"]))

    assert offsets == [{("topic", 0): 3}], "one call, with the batch's end: no retry, no halving"
    assert fenced == [1]


async def test_the_halves_of_a_failing_batch_leave_the_positions_at_its_start_until_the_dead_letters_are_written() -> (
    None
):
    calls: list[tuple[list[str], list[int], dict[tuple[str, int], int]]] = []

    async def handle_at(parsed: Sequence[Parsed[str]], dead: Sequence[DeadLetter], at: Offsets) -> Sequence[DeadLetter]:
        calls.append(([p.value for p in parsed], [d.offset for d in dead], dict(at)))
        if "boom" in [p.value for p in parsed]:
            raise RuntimeError("a bug triggered by one record")
        return dead

    records = [Record("topic", 0, 10 + i, b"key", v.encode()) for i, v in enumerate(["a", "boom", "c", "d"])]
    consumer: BatchConsumer[str] = BatchConsumer(
        name="test", parse=lambda r: r.value.decode(), handle_at=handle_at, max_attempts=1, backoff_s=0
    )
    await consumer.consume(records)

    # A half that commits must not move the position past "boom", not yet dead-lettered.
    assert {tuple(at.items()) for values, dead, at in calls if not dead and values != ["a", "boom", "c", "d"]} == {
        ((("topic", 0), 10),)
    }
    assert calls[0][2] == {("topic", 0): 14}
    assert calls[-1] == ([], [11], {("topic", 0): 14}), "the dead letters move it to the batch's end"
