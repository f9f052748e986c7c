"""What scoring's entry points need from its store, as Protocols: the entry points translate and decide,
the adapters (`adapters/postgres.py`) do the I/O. An entry point never imports an adapter
(import-linter checks it); `app.py` wires the two."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tempen_scoring.rescoring import IncomingContribution, IncomingRetraction, SliceKey
from tempen_shared.events import DeadLetter


class ScoringStore(Protocol):
    async def apply(
        self,
        incoming: Sequence[IncomingContribution | IncomingRetraction],
        dead_letters: Sequence[DeadLetter],
        *,
        realign: Sequence[SliceKey] = (),
        backlog: bool = False,
    ) -> tuple[int, int, int]:
        """Apply a batch in one transaction, its dead letters with it. Returns (applied, ignored as stale
        or duplicate, score rows written)."""
        ...


class ScoreReader(Protocol):
    async def unit_series(
        self, tenant: str, unit: str, *, model: str | None, scope: str | None, dimension: str | None
    ) -> Sequence[Mapping[str, Any]]:
        """The unit's stored score rows with respondents, oldest period first per (model, dimension,
        scope): the read API's rows, suppressed ones included with their reason."""
        ...
