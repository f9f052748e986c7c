"""What scoring's entry points need from its store, as Protocols: the entry points translate and decide,
the adapters (`adapters/postgres.py`) do the I/O. An entry point never imports an adapter
(import-linter checks it); `app.py` wires the two."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tempen_scoring.domain.rescoring import IncomingContribution, IncomingRetraction, SliceKey
from tempen_shared.events import DeadLetter
from tempen_shared.positions import Claim, Partition, Position


class ScoringStore(Protocol):
    async def apply(
        self,
        incoming: Sequence[IncomingContribution | IncomingRetraction],
        dead_letters: Sequence[DeadLetter],
        *,
        realign: Sequence[SliceKey] = (),
        backlog: bool = False,
        positions: Sequence[Position] = (),
    ) -> tuple[int, int, int]:
        """Apply a batch in one transaction, its dead letters and its consumer positions with it. Returns
        (applied, ignored as stale or duplicate, score rows written).

        Raises PartitionFencedError, with nothing of the batch kept, when a position's partition has been
        claimed under another epoch since (or was never claimed)."""
        ...

    async def claim(self, group: str, partitions: Sequence[Partition], *, cluster: str) -> Mapping[Partition, Claim]:
        """Claim the group's partitions for the caller in one transaction: each partition's epoch goes up
        by one (the first claim: 1), fencing whoever held it before. Returns each one's new epoch and its
        stored next offset: None when no batch has stored one, or when it was stored on another Kafka
        cluster than `cluster` (offsets of one cluster mean nothing on another)."""
        ...


class ScoreReader(Protocol):
    async def unit_series(
        self, tenant: str, unit: str, *, model: str | None, scope: str | None, dimension: str | None
    ) -> Sequence[Mapping[str, Any]]:
        """The unit's stored score rows with respondents, oldest period first per (model, dimension,
        scope): the read API's rows, suppressed ones included with their reason."""
        ...

    async def group_statuses(self, tenant: str, instrument: str, periods: Sequence[str]) -> Sequence[Mapping[str, Any]]:
        """One row per stored group (model, period, unit, scope) of these periods with its `status`:
        "published", or the reason it is hidden. Never a count: HR's report of hidden units is built
        from these alone."""
        ...

    async def measured_periods(self, tenant: str, instrument: str, periods: Sequence[str]) -> set[tuple[str, str]]:
        """The (model, period) pairs of these periods in which anyone answered the instrument."""
        ...

    # HME report (portal issue 15)
    async def subtree_figures(
        self, tenant: str, instrument: str, model: str, periods: Sequence[str], units: Sequence[str]
    ) -> Sequence[Mapping[str, Any]]:
        """The subtree-scope score rows of these units and periods, one per dimension: `period`, `unit`,
        `dimension`, `respondents`, `publishable`, `suppression_reason`, `index`. Withdrawn rows (no
        respondents left) are left out, as in `unit_series`."""

    async def tenant_scores(
        self,
        tenant: str,
        instrument: str,
        model: str,
        periods: Sequence[str],
        *,
        scope: str | None,
        units: Sequence[str] | None,
    ) -> Sequence[Mapping[str, Any]]:
        """One row per stored (unit, scope, period, dimension) of these periods that has respondents:
        `publishable`, `suppression_reason`, and `index` and `respondents` only where publishable (None
        otherwise: a hidden group's figures never leave the database). `units` None: every unit."""
        ...
