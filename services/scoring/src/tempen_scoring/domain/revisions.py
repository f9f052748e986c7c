"""The rule that makes a group's aggregate independent of delivery order and redelivery.

Submissions arrive at least once and in any order, and a survey platform may correct a
submission later (a higher `revision` of the same `submission_id`). The rule: the highest
revision seen wins. A higher revision replaces the recorded one (remove its contribution, add
the new one); the same or a lower revision changes nothing. Applied to any order of the same
deliveries, this yields exactly the aggregate of a from-scratch recomputation over the highest
revision of every submission.
"""

from __future__ import annotations

from dataclasses import dataclass

from tempen_scoring.domain.index import Contribution, GroupAggregate


@dataclass(frozen=True, slots=True)
class Revision:
    number: int
    contribution: Contribution


def apply_revision(
    aggregate: GroupAggregate, *, recorded: Revision | None, incoming: Revision
) -> GroupAggregate | None:
    """The group's aggregate after `incoming`, or None when it changes nothing.

    `recorded` is the revision of the same submission already counted in `aggregate` (None for a
    first delivery). None is returned for a redelivery (same number) and for a late, older
    revision; the caller then keeps its state and records nothing. When a correction moves a
    submission to another group (unit or period), remove `recorded` from the old group's
    aggregate and add `incoming` to the new one instead.
    """
    if recorded is not None and incoming.number <= recorded.number:
        return None
    base = aggregate if recorded is None else aggregate.remove(recorded.contribution)
    return base.add(incoming.contribution)
