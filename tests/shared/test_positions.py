"""Ownership: the partitions a process has claimed, by epoch, and when it refuses a batch itself."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest

from tempen_shared.consumer import BatchConsumer, Parsed, PartitionFencedError, Record
from tempen_shared.events import DeadLetter
from tempen_shared.positions import Claim, KeptPositions, Ownership, Partition, Position
from tempen_shared.subscribe import _owned

T = "tempen.submissions"


class Table:
    """consumer_positions as a dict: what a store's claim does."""

    def __init__(self) -> None:
        self.rows: dict[Partition, tuple[int, int | None]] = {}
        self.claims = 0

    async def claim(self, group: str, partitions: Sequence[Partition], cluster: str) -> Mapping[Partition, Claim]:
        self.claims += 1
        out = {}
        for tp in partitions:
            epoch, offset = self.rows.get(tp, (0, None))
            self.rows[tp] = (epoch + 1, offset)
            out[tp] = Claim(epoch + 1, offset)
        return out


async def _cluster() -> str:
    return "kafka-1"


async def test_an_assignment_claims_and_seeks_only_where_an_offset_is_stored() -> None:
    table = Table()
    table.rows[(T, 1)] = (3, 120)
    ownership = Ownership("scoring", table.claim, _cluster)
    assert await ownership.assigned([(T, 0), (T, 1)]) == {(T, 1): 120}
    assert await ownership.positions({(T, 0): 5, (T, 1): 130}) == [
        Position("scoring", T, 0, 1, 5),
        Position("scoring", T, 1, 4, 130),
    ]
    assert ownership.stored(T, 1) == 120


async def test_a_partition_never_claimed_is_claimed_at_its_first_batch_and_never_goes_back() -> None:
    table = Table()
    table.rows[(T, 2)] = (1, 50)
    ownership = Ownership("scoring", table.claim, _cluster)
    # The claim at assignment failed; the batch came from Kafka's committed offset, 40, below the stored 50.
    assert await ownership.positions({(T, 2): 45}) == [Position("scoring", T, 2, 2, 50)]
    ownership.advanced([Position("scoring", T, 2, 2, 60)])
    assert ownership.stored(T, 2) == 60
    assert table.claims == 1


async def test_a_fenced_partition_is_refused_until_assigned_again() -> None:
    table = Table()
    ownership = Ownership("scoring", table.claim, _cluster)
    await ownership.assigned([(T, 0)])
    ownership.fenced([Position("scoring", T, 0, 1, 10)])
    with pytest.raises(PartitionFencedError):
        await ownership.positions({(T, 0): 10})
    assert table.claims == 1, "not claimed back: that would fence the new owner"
    await ownership.assigned([(T, 0)])
    assert await ownership.positions({(T, 0): 10}) == [Position("scoring", T, 0, 2, 10)]


async def test_a_batch_fenced_by_this_processs_own_new_claim_does_not_fence_the_partition() -> None:
    table = Table()
    ownership = Ownership("scoring", table.claim, _cluster)
    await ownership.assigned([(T, 0)])
    in_flight = await ownership.positions({(T, 0): 10})
    ownership.revoked([(T, 0)])
    await ownership.assigned([(T, 0)])  # the rebalance gave it back: epoch 2
    ownership.fenced(in_flight)  # the batch under epoch 1 was refused
    assert await ownership.positions({(T, 0): 10}) == [Position("scoring", T, 0, 2, 10)]


async def test_a_record_applied_before_is_neither_written_nor_reported_dead_lettered_again() -> None:
    # A batch fetched from Kafka's committed offset, 0, while the store's position is 4: records 0-3 were
    # applied (record 1 dead-lettered) by the process before, which exited before Kafka's commit.
    table = Table()
    table.rows[(T, 0)] = (1, 4)
    ownership = Ownership("alerts", table.claim, _cluster)
    await ownership.assigned([(T, 0)])
    written: list[tuple[list[int], list[int]]] = []

    async def handle(parsed: Sequence[Parsed[int]], dead: Sequence[DeadLetter], at: Sequence[Position]) -> None:
        written.append(([p.record.offset for p in parsed], [d.offset for d in dead]))

    reported: list[int] = []
    consumer: BatchConsumer[int] = BatchConsumer(
        name="test",
        parse=lambda r: int(r.value),
        handle_at=_owned(ownership, KeptPositions(table.claim, handle)),
        on_dead_letter=lambda d: reported.append(d.offset),
    )
    values = [b"1", b"bad", b"3", b"4", b"bad", b"6"]
    await consumer.consume([Record(T, 0, offset, b"key", v) for offset, v in enumerate(values)])

    assert written == [([5], [4])]
    assert reported == [4], "the dead letter of record 1 was written before: counted and logged once"


async def test_an_older_claim_returning_after_a_newer_one_does_not_take_its_place() -> None:
    # The store bumps the epoch when the statement runs; the answers come back in the other order.
    table = Table()
    gates: list[asyncio.Event] = []

    async def slow_claim(group: str, partitions: Sequence[Partition], cluster: str) -> Mapping[Partition, Claim]:
        claimed = await table.claim(group, partitions, cluster)
        gate = asyncio.Event()
        gates.append(gate)
        await gate.wait()
        return claimed

    ownership = Ownership("scoring", slow_claim, _cluster)
    rebalance = asyncio.create_task(ownership.assigned([(T, 0)]))  # epoch 1
    await asyncio.sleep(0)
    batch = asyncio.create_task(ownership.positions({(T, 0): 5}))  # not claimed yet: claims itself, epoch 2
    await asyncio.sleep(0)
    gates[1].set()
    assert await batch == [Position("scoring", T, 0, 2, 5)]
    gates[0].set()
    assert await rebalance == {}, "no seek back to where the older claim found the partition"

    assert await ownership.positions({(T, 0): 6}) == [Position("scoring", T, 0, 2, 6)], "the store's epoch is 2"
