"""Scoring as a process that dies the moment the transaction of its first batch of submissions has
committed: after the store's commit and before the consumer's Kafka commit. `os._exit` is a crash as
SIGKILL is one (no clean-up, no Kafka commit, no leaving the group), but at exactly that point.

Run as `python -m tests.scoring.integration.crashing_scoring` with scoring's environment; exits CRASHED."""

from __future__ import annotations

import os
from typing import Any

from tempen_scoring.__main__ import main
from tempen_scoring.adapters.postgres import PostgresScoringStore

CRASHED = 17

_apply = PostgresScoringStore.apply


async def _apply_then_die(self: PostgresScoringStore, incoming: Any, dead_letters: Any, **options: Any) -> Any:
    result = await _apply(self, incoming, dead_letters, **options)
    if incoming:
        os._exit(CRASHED)
    return result


if __name__ == "__main__":
    PostgresScoringStore.apply = _apply_then_die  # type: ignore[method-assign]
    main()
