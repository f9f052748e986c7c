"""`<schema>.consumer_positions` in memory, for the stores' fakes: what `tempen_shared.positions`'
`claim_partitions` and `save_positions` do to the table, in one place for every service that keeps its
consumer's positions (a plain module: never import from conftest)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tempen_shared.consumer import PartitionFencedError
from tempen_shared.positions import Claim, Partition, Position


@dataclass
class StoredPosition:
    epoch: int
    next_offset: int | None
    cluster: str  # of the last claim


@dataclass
class InMemoryPositions:
    rows: dict[tuple[str, str, int], StoredPosition] = field(default_factory=dict)  # (group, topic, partition)

    def claim(self, group: str, partitions: Sequence[Partition], *, cluster: str) -> dict[Partition, Claim]:
        """A new epoch per partition; its next offset, forgotten when it was stored on another cluster."""
        claims: dict[Partition, Claim] = {}
        for topic, partition in sorted(set(partitions)):
            stored = self.rows.setdefault((group, topic, partition), StoredPosition(0, None, cluster))
            if stored.cluster != cluster:
                stored.next_offset = None
            stored.epoch, stored.cluster = stored.epoch + 1, cluster
            claims[(topic, partition)] = Claim(stored.epoch, stored.next_offset)
        return claims

    def check(self, positions: Sequence[Position]) -> None:
        """PartitionFencedError unless every position's partition is still held under its epoch."""
        fenced = sorted(
            (p.topic, p.partition)
            for p in positions
            if (stored := self.rows.get((p.group, p.topic, p.partition))) is None or stored.epoch != p.epoch
        )
        if fenced:
            raise PartitionFencedError(fenced)

    def save(self, positions: Sequence[Position]) -> None:
        """Move the partitions on; PartitionFencedError, with nothing moved, where an epoch has passed."""
        self.check(positions)
        for p in positions:
            self.rows[(p.group, p.topic, p.partition)].next_offset = p.next_offset
