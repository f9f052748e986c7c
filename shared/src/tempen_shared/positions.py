"""A consumer's positions kept in its own database, in each batch's transaction (Kafka's "storing offsets
outside Kafka"), fenced by an epoch.

On assignment the consumer claims each partition: one statement bumps the partition's epoch and returns
the next offset stored for it, and the consumer seeks there (no offset stored yet: Kafka's committed one
stands, so a deployment upgrades without reprocessing or skipping). Each batch's transaction then moves
the positions of its partitions on only where the epoch is still this process's; where another
consumer has claimed the partition since, the store refuses the whole batch (`PartitionFencedError`).
Kafka's own commit still follows each batch, but only for monitoring: where to start is the store's.

A service keeps them in `<schema>.consumer_positions` (its migration creates the table) and claims and saves
them with `claim_partitions` and `save_positions` here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic

import asyncpg

from tempen_shared.consumer import Offsets, Parsed, PartitionFencedError, T
from tempen_shared.db import TRANSIENT_DB_ERRORS, Connection, StoreUnavailableError
from tempen_shared.events import DeadLetter

Partition = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True, slots=True)
class Claim:
    """A partition claimed: the epoch this process now holds it by, and the next offset stored for it."""

    epoch: int
    next_offset: int | None


@dataclass(frozen=True, slots=True)
class Position:
    """Where a batch leaves a partition, written only while the stored epoch is still `epoch`."""

    group: str
    topic: str
    partition: int
    epoch: int
    next_offset: int


ClaimPartitions = Callable[[str, Sequence[Partition], str], Awaitable[Mapping[Partition, Claim]]]
"""Claims the group's partitions in one transaction (`store.claim(group, partitions, cluster=...)`);
an offset stored on another Kafka cluster than the one given is not returned."""

OwnedHandle = Callable[[Sequence[Parsed[T]], Sequence[DeadLetter], Sequence[Position]], Awaitable[None]]
"""Writes a batch and its positions in one transaction; raises PartitionFencedError when a position's
epoch is no longer the stored one, with nothing of the batch kept."""


@dataclass(frozen=True)
class KeptPositions(Generic[T]):
    """What `consume_topic` needs to keep a consumer's positions in its store."""

    claim: ClaimPartitions
    handle: OwnedHandle[T]
    on_fenced: Callable[[], None] = lambda: None


@dataclass
class Ownership:
    """The partitions this process has claimed, by epoch; one per subscriber."""

    group: str
    claim: ClaimPartitions
    cluster: Callable[[], Awaitable[str]]  # the Kafka cluster's id
    _epochs: dict[Partition, int] = field(default_factory=dict)
    _stored: dict[Partition, int] = field(default_factory=dict)  # the next offset stored when claimed
    _fenced: set[Partition] = field(default_factory=set)

    async def assigned(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """Claim the partitions the group has just assigned; returns where to seek: the stored next
        offset of each partition that has one."""
        wanted = sorted(set(partitions))
        self._fenced.difference_update(wanted)
        claims = await self._claim(wanted)
        return {tp: c.next_offset for tp, c in claims.items() if c.next_offset is not None}

    def revoked(self, partitions: Iterable[Partition]) -> None:
        for tp in partitions:
            self._epochs.pop(tp, None)
            self._stored.pop(tp, None)
            self._fenced.discard(tp)

    def fenced(self, positions: Iterable[Position]) -> None:
        """Another consumer holds these partitions now: refuse their records until the group assigns them
        anew (claiming them back at once would fence the new owner in turn). A position under an epoch
        this process no longer holds is passed over: a batch in flight across a rebalance that gave
        the partition back to this process was fenced by this process's own new claim."""
        for p in positions:
            tp = (p.topic, p.partition)
            if self._epochs.get(tp) == p.epoch:
                del self._epochs[tp]
                self._fenced.add(tp)

    async def positions(self, offsets: Offsets) -> list[Position]:
        """The positions a batch's transaction writes. A partition never claimed (the claim at assignment
        failed, the database being down) is claimed now: its records still come from this process's
        assignment."""
        fenced = sorted(tp for tp in offsets if tp in self._fenced)
        if fenced:
            raise PartitionFencedError(fenced)
        unclaimed = sorted(tp for tp in offsets if tp not in self._epochs)
        if unclaimed:
            await self._claim(unclaimed)
        # Never behind what is stored: a batch fetched from Kafka's committed offset before a late claim
        # may start below it.
        return [
            Position(
                self.group, topic, partition, self._epochs[(topic, partition)], max(n, self.stored(topic, partition))
            )
            for (topic, partition), n in sorted(offsets.items())
        ]

    def stored(self, topic: str, partition: int) -> int:
        """The partition's next offset as this process last stored or claimed it (0: none): the records
        below it were applied before, and are left out when Kafka delivers them again (a seek of a
        rebalance racing a batch in flight does)."""
        return self._stored.get((topic, partition), 0)

    def advanced(self, positions: Iterable[Position]) -> None:
        """These positions committed."""
        for p in positions:
            tp = (p.topic, p.partition)
            if self._epochs.get(tp) == p.epoch:
                self._stored[tp] = max(self._stored.get(tp, 0), p.next_offset)

    async def _claim(self, partitions: Sequence[Partition]) -> Mapping[Partition, Claim]:
        if not partitions:
            return {}
        claims = dict(await self.claim(self.group, partitions, await self.cluster()))
        for tp, c in list(claims.items()):
            # Two claims of this process can overlap (a rebalance's, and a batch's late one for a partition
            # the rebalance had just revoked and given back) and return in either order: the higher epoch
            # is the one stored, so an older claim returning last must not take its place, or every batch
            # of the partition would be refused as fenced until the next rebalance.
            if c.epoch < self._epochs.get(tp, 0):
                del claims[tp]  # nor seek to its offset: the newer claim's batches may have moved it on
                continue
            self._epochs[tp] = c.epoch
            if c.next_offset is None:
                self._stored.pop(tp, None)
            else:
                self._stored[tp] = c.next_offset
        return claims


async def claim_partitions(
    pool: asyncpg.Pool, schema: str, group: str, partitions: Sequence[Partition], *, cluster: str
) -> dict[Partition, Claim]:
    """Claim the group's partitions in `<schema>.consumer_positions`: a new epoch each, and the next offset
    stored for it on this cluster. Every epoch goes up by one in one order (no deadlock between replicas
    claiming at once); a claim waits for a batch of the partition's previous owner that holds its row to
    commit. An offset stored on another Kafka cluster is forgotten."""
    ordered = sorted(set(partitions))
    try:
        rows = await pool.fetch(
            f"""INSERT INTO {schema}.consumer_positions AS p (consumer_group, topic, partition, epoch, cluster)
                SELECT $1, topic, partition, 1, $4 FROM unnest($2::text[], $3::int[]) AS k(topic, partition)
                ORDER BY 2, 3
                ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET epoch = p.epoch + 1, claimed_at = now(),
                    cluster = EXCLUDED.cluster,
                    next_offset = CASE WHEN p.cluster = EXCLUDED.cluster THEN p.next_offset END
                RETURNING topic, partition, epoch, next_offset""",
            group,
            [t for t, _ in ordered],
            [p for _, p in ordered],
            cluster,
        )
    except TRANSIENT_DB_ERRORS as exc:
        raise StoreUnavailableError(str(exc)) from exc
    return {(r["topic"], r["partition"]): Claim(r["epoch"], r["next_offset"]) for r in rows}


async def save_positions(conn: Connection, schema: str, positions: Sequence[Position]) -> None:
    """Move the consumer's partitions on in `<schema>.consumer_positions`, in the batch's transaction;
    PartitionFencedError, which must roll the transaction back, when a partition's epoch is no longer the
    one given: another consumer has claimed it since. First in the transaction: the row locks keep a
    claim waiting until the batch commits."""
    if not positions:
        return
    ordered = sorted(positions, key=lambda p: (p.group, p.topic, p.partition))
    columns = zip(*((p.group, p.topic, p.partition, p.epoch, p.next_offset) for p in ordered), strict=True)
    rows = await conn.fetch(
        f"""UPDATE {schema}.consumer_positions p SET next_offset = k.next_offset, updated_at = now()
            FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[])
                AS k(consumer_group, topic, partition, epoch, next_offset)
            WHERE (p.consumer_group, p.topic, p.partition, p.epoch)
                = (k.consumer_group, k.topic, k.partition, k.epoch)
            RETURNING p.consumer_group, p.topic, p.partition""",
        *(list(c) for c in columns),
    )
    held = {(r["consumer_group"], r["topic"], r["partition"]) for r in rows}
    fenced = [(p.topic, p.partition) for p in ordered if (p.group, p.topic, p.partition) not in held]
    if fenced:
        raise PartitionFencedError(fenced)
