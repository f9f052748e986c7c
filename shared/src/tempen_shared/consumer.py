"""How every tempen consumer treats a batch of Kafka records (arroyo's error taxonomy).

* A record that can never succeed (malformed, invalid, unknown tenant) is a `PoisonMessageError`:
  it becomes a dead letter, written to the service's outbox in the same transaction as the rest
  of the batch, and the offset is committed. The consumer keeps going.
* The database being unreachable is an outage (`StoreUnavailableError`): back off, hand the
  batch back to Kafka (NACK seeks to its first offsets) and try again until the outage ends.
  Never dead-letter because of an outage.
* A record whose parsing raises anything else is dead-lettered at once ("unparseable"): parsing is
  pure, so retrying cannot help, and an exception escaping here would stall the partition.
* Anything else is a bug: retry the batch a few times (it may be a race), then split the batch in
  halves until the failing part is a single record, so only the record that triggers the bug is
  dead-lettered, with the exception.
* A consumer that keeps its positions in its own database (`handle_at`, `tempen_shared.positions`)
  may find that another consumer has claimed a partition of the batch since it did
  (`PartitionFencedError`): the batch was rolled back, and it is neither retried nor dead-lettered
  nor committed. Kafka delivers it again to whoever owns the partition now.
"""

from __future__ import annotations

import asyncio
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog
from pydantic import ValidationError

from tempen_shared.clock import utc_now
from tempen_shared.correlation import bound, correlation_id_of, shared_correlation_id
from tempen_shared.db import StoreUnavailableError
from tempen_shared.events import DeadLetter

logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(__name__)

T = TypeVar("T")


class PartitionFencedError(Exception):
    """Another consumer has claimed a partition of the batch since this one did: nothing of the batch was
    kept, and this process must not write that partition again until the group assigns it anew."""

    def __init__(self, partitions: Sequence[tuple[str, int]]) -> None:
        super().__init__("fenced on " + ", ".join(f"{topic}:{partition}" for topic, partition in partitions))
        self.partitions = tuple(partitions)


class PoisonMessageError(Exception):
    """This record can never be processed. `reason` is short and low-cardinality (a metric label)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Record:
    """The parts of a Kafka record a consumer needs; built from aiokafka's ConsumerRecord."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    def header(self, name: str) -> str | None:
        return next((v.decode(errors="replace") for k, v in self.headers if k == name), None)


def records_of(raw: Any) -> list[Record]:
    """Accept what FastStream hands a batch subscriber (a tuple, or a list under TestKafkaBroker)."""
    items = raw if isinstance(raw, list | tuple) else (raw,)
    return [Record(r.topic, r.partition, r.offset, r.key, r.value or b"", tuple(r.headers or ())) for r in items]


def dead_letter(record: Record, *, reason: str, detail: str, consumer: str) -> DeadLetter:
    return DeadLetter(
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode(errors="replace") if record.key is not None else None,
        value=record.value.decode(errors="replace"),
        reason=reason,
        detail=detail[:4000],
        consumer=consumer,
        dead_lettered_at=utc_now(),
        correlation_id=correlation_id_of(record),
    )


def validation_detail(exc: ValidationError) -> str:
    """Which fields were wrong and why, without echoing the values (they may be answers)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}" for e in exc.errors())


@dataclass(frozen=True, slots=True)
class Parsed(Generic[T]):
    record: Record
    value: T


Handle = Callable[[Sequence[Parsed[T]], Sequence[DeadLetter]], Awaitable[None]]

Offsets = Mapping[tuple[str, int], int]
"""(topic, partition) -> the offset a call of the handle leaves the partition at, once its transaction
commits: the next record to consume."""

PositionedHandle = Callable[[Sequence[Parsed[T]], Sequence[DeadLetter], Offsets], Awaitable[Sequence[DeadLetter]]]
"""A handle that saves the partitions' positions (`Offsets`) in its transaction; returns the dead letters
it wrote (a record applied before, below a stored position, is left out, and so is its dead letter)."""


class BatchConsumer(Generic[T]):
    """Applies the error taxonomy above around a service's `handle(parsed, dead_letters)`.

    `handle` must write its results and the dead letters in one transaction, so a batch is either
    wholly durable or not at all; the offsets are committed only after it returns. `handle_at`, given
    instead, also gets the offsets to save in that transaction: the end of the batch, or its start
    while a failing batch is split in halves (the halves' records are applied, but a record dead-lettered
    at the end lies between them).
    """

    def __init__(
        self,
        *,
        name: str,
        parse: Callable[[Record], T],
        handle: Handle[T] | None = None,
        handle_at: PositionedHandle[T] | None = None,
        max_attempts: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        on_dead_letter: Callable[[DeadLetter], None] | None = None,
        on_retry: Callable[[str], None] | None = None,
        on_fenced: Callable[[], None] | None = None,
    ) -> None:
        if handle_at is not None and handle is None:
            self._handle: PositionedHandle[T] = handle_at
        elif handle is not None and handle_at is None:
            self._handle = _ignoring_offsets(handle)
        else:
            raise TypeError("give a consumer either handle or handle_at")
        self.name = name
        self._parse = parse
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._on_dead_letter = on_dead_letter
        self._on_retry = on_retry
        self._on_fenced = on_fenced
        self._attempts: Counter[tuple[str, int, int]] = Counter()  # per process; a rebalance resets it, harmlessly

    def _split(self, records: Sequence[Record]) -> tuple[list[Parsed[T]], list[DeadLetter]]:
        parsed: list[Parsed[T]] = []
        dead: list[DeadLetter] = []
        for record in records:
            try:
                parsed.append(Parsed(record, self._parse(record)))
            except PoisonMessageError as exc:
                dead.append(dead_letter(record, reason=exc.reason, detail=exc.detail, consumer=self.name))
            except ValidationError as exc:
                dead.append(dead_letter(record, reason="invalid", detail=validation_detail(exc), consumer=self.name))
            except ValueError as exc:  # orjson.JSONDecodeError and friends
                dead.append(dead_letter(record, reason="malformed", detail=str(exc), consumer=self.name))
            except Exception as exc:  # noqa: BLE001 - parsing is pure: what fails once fails every time
                # An OverflowError from a date at the edge of the calendar, say. Outside the retry
                # logic below it would escape the attempt counter and halt the partition for ever.
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                dead.append(dead_letter(record, reason="unparseable", detail=detail, consumer=self.name))
        return parsed, dead

    async def consume(self, records: Sequence[Record]) -> None:
        """Process one batch; return to commit it, raise to have Kafka deliver it again.

        Every line logged meanwhile carries the batch's correlation id when all its records share one;
        a line about one record (a dead letter) always carries that record's.
        """
        if not records:
            return
        with bound(shared_correlation_id(records)):
            await self._consume(records)

    async def _consume(self, records: Sequence[Record]) -> None:
        try:
            await self._attempt(records)
        except PartitionFencedError as exc:
            # Not an error of this batch: the group has moved the partition on, and its new owner applies
            # the batch. Refused without a commit; the pause keeps a consumer that has not yet heard of
            # the rebalance from fetching and refusing the same records in a tight loop.
            logger.warning(
                "batch fenced: another consumer has claimed its partition; nothing of it was kept",
                consumer=self.name,
                batch=_position(records[0]),
                records=len(records),
                partitions=[f"{topic}:{partition}" for topic, partition in exc.partitions],
            )
            if self._on_fenced:
                self._on_fenced()
            await asyncio.sleep(self._backoff_s)
            raise

    async def _attempt(self, records: Sequence[Record]) -> None:
        first = (records[0].topic, records[0].partition, records[0].offset)
        parsed, dead = self._split(records)
        try:
            written = await self._handle(parsed, dead, _ends(records))
        except PartitionFencedError:
            self._attempts.pop(first, None)
            raise
        except StoreUnavailableError:
            self._attempts[first] += 1
            delay = min(self._max_backoff_s, self._backoff_s * 2 ** min(self._attempts[first], 16))
            logger.warning(
                "database unavailable, retrying batch",
                consumer=self.name,
                batch=_position(records[0]),
                records=len(records),
                retry_in_s=round(delay, 1),
            )
            if self._on_retry:
                self._on_retry("transient")
            await asyncio.sleep(delay)
            raise
        except Exception:
            self._attempts[first] += 1
            if self._attempts[first] < self._max_attempts:
                logger.exception(
                    "batch failed",
                    consumer=self.name,
                    batch=_position(records[0]),
                    records=len(records),
                    attempt=self._attempts[first],
                )
                if self._on_retry:
                    self._on_retry("unexpected")
                await asyncio.sleep(self._backoff_s)
                raise
            written = await self._isolate(parsed, dead, records)
        self._attempts.pop(first, None)
        for letter in written:
            # Logged once the dead letter is durable: the offset is committed next and the record is
            # only in the DLQ from now on. Ids only; the value may hold answers.
            logger.warning(
                "record dead-lettered",
                consumer=self.name,
                record=f"{letter.source_topic}:{letter.partition}@{letter.offset}",
                reason=letter.reason,
                correlation_id=letter.correlation_id,
            )
            if self._on_dead_letter:
                self._on_dead_letter(letter)

    async def _isolate(
        self, parsed: Sequence[Parsed[T]], dead: list[DeadLetter], records: Sequence[Record]
    ) -> Sequence[DeadLetter]:
        # Still failing after retries: find the record(s) that trigger the bug. Halving the batch until
        # the failing part is one record costs a few dozen transactions for a batch of thousands,
        # where going one by one would cost thousands; the records dead-lettered are the same.
        # The halves leave the positions at the batch's start: until the last call, which writes the dead
        # letters, a record of the batch may be neither applied nor dead-lettered.
        starts = _starts(records)
        if len(parsed) == 1:
            await self._bisect(parsed, dead, starts)
        else:
            middle = len(parsed) // 2
            await self._bisect(parsed[:middle], dead, starts)
            await self._bisect(parsed[middle:], dead, starts)
        return await self._handle([], dead, _ends(records))

    async def _bisect(self, parsed: Sequence[Parsed[T]], dead: list[DeadLetter], starts: Offsets) -> None:
        if not parsed:
            return
        try:
            await self._handle(parsed, [], starts)
        except (StoreUnavailableError, PartitionFencedError):
            raise
        except Exception as exc:
            if len(parsed) > 1:
                middle = len(parsed) // 2
                await self._bisect(parsed[:middle], dead, starts)
                await self._bisect(parsed[middle:], dead, starts)
                return
            item = parsed[0]
            with bound(correlation_id_of(item.record)):
                logger.exception(
                    "record fails after retries; dead-lettering it", consumer=self.name, record=_position(item.record)
                )
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            dead.append(dead_letter(item.record, reason="unexpected", detail=detail, consumer=self.name))


def _ignoring_offsets(handle: Handle[T]) -> PositionedHandle[T]:
    async def handle_at(
        parsed: Sequence[Parsed[T]], dead: Sequence[DeadLetter], _offsets: Offsets
    ) -> Sequence[DeadLetter]:
        await handle(parsed, dead)
        return dead

    return handle_at


def _ends(records: Sequence[Record]) -> dict[tuple[str, int], int]:
    """Each partition's offset after the batch's last record of it."""
    out: dict[tuple[str, int], int] = {}
    for r in records:
        out[(r.topic, r.partition)] = max(out.get((r.topic, r.partition), 0), r.offset + 1)
    return out


def _starts(records: Sequence[Record]) -> dict[tuple[str, int], int]:
    """Each partition's offset of the batch's first record of it."""
    out: dict[tuple[str, int], int] = {}
    for r in records:
        out[(r.topic, r.partition)] = min(out.get((r.topic, r.partition), r.offset), r.offset)
    return out


def _position(record: Record) -> str:
    return f"{record.topic}:{record.partition}@{record.offset}"
