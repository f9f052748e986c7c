"""plan_changes: which incoming events change the aggregates, in order (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from tempen_scoring.domain.index import Contribution
from tempen_scoring.domain.periods import Period
from tempen_scoring.domain.rescoring import (
    TOMBSTONE,
    GroupKey,
    IncomingContribution,
    IncomingRetraction,
    StoredContribution,
    plan_changes,
)

PERIOD = Period("2026-10", datetime(2026, 9, 30, 22, tzinfo=UTC), datetime(2026, 10, 31, 23, tzinfo=UTC))
GROUP = GroupKey("t", "unit-a", "puls", "model", "2026-10")
OTHER_GROUP = GroupKey("t", "unit-b", "puls", "model", "2026-10")


def contribution(value: int) -> Contribution:
    return Contribution({"q1": value}, {"dim": float((value - 1) * 25)})


def incoming(revision: int, value: int, group: GroupKey = GROUP) -> IncomingContribution:
    return IncomingContribution("t", "s-1", revision, group, PERIOD, contribution(value), None)


def test_a_redelivered_revision_changes_nothing() -> None:
    stored = {("t", "s-1", "model"): StoredContribution(1, GROUP, contribution(4))}
    plan = plan_changes([incoming(1, 4)], stored)
    assert (plan.winners, plan.ignored, dict(plan.delta.respondents)) == ([], 1, {})


def test_a_correction_moves_the_contribution_even_to_another_unit() -> None:
    stored = {("t", "s-1", "model"): StoredContribution(1, GROUP, contribution(4))}
    plan = plan_changes([incoming(2, 2, OTHER_GROUP)], stored)
    assert dict(plan.delta.respondents) == {GROUP: -1, OTHER_GROUP: 1}
    assert plan.delta.counts[(GROUP, "q1", 4)] == -1
    assert plan.delta.counts[(OTHER_GROUP, "q1", 2)] == 1


def test_a_retraction_removes_every_contribution_and_outranks_older_revisions_arriving_later() -> None:
    stored = {("t", "s-1", "model"): StoredContribution(2, GROUP, contribution(3))}
    plan = plan_changes([IncomingRetraction("t", "s-1", 3), incoming(1, 5), incoming(2, 3)], stored)
    assert dict(plan.delta.respondents) == {GROUP: -1}
    assert [t.revision for t in plan.tombstones] == [3]
    assert plan.winners == []
    assert plan.ignored == 2


def test_a_stored_tombstone_keeps_a_late_revision_out() -> None:
    tombstone = StoredContribution(3, GroupKey("t", "", "", TOMBSTONE, ""), Contribution({}, {}))
    plan = plan_changes([incoming(2, 5)], {("t", "s-1", TOMBSTONE): tombstone})
    assert (plan.winners, plan.ignored) == ([], 1)
