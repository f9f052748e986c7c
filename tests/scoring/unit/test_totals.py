"""`Totals` adds exactly, also when what it adds is a sum of deltas: a batch's subtree sums pass up the
tree as one part (`SliceState.advance`), and such a sum can have no net respondents yet moved sums."""

from __future__ import annotations

from decimal import Decimal

from tempen_scoring.domain.incremental import Totals


def test_a_sum_of_deltas_with_no_net_respondents_keeps_its_moved_sums() -> None:
    added = Totals(1, {"q1": {4: 1}}, {"d": (1, Decimal("75"), Decimal("5625"))})
    retracted = Totals(-1, {"q1": {2: -1}}, {"d": (-1, Decimal("-25"), Decimal("-625"))})
    net = Totals()
    net.add(added)
    net.add(retracted)

    assert net.respondents == 0
    assert net.moments == {"d": (0, Decimal("50"), Decimal("5000"))}
    assert net.counts == {"q1": {4: 1, 2: -1}}


def test_a_group_whose_last_respondent_leaves_drops_its_moments_and_counts() -> None:
    group = Totals(1, {"q1": {4: 1}}, {"d": (1, Decimal("75"), Decimal("5625"))})
    group.add(Totals(-1, {"q1": {4: -1}}, {"d": (-1, Decimal("-75"), Decimal("-5625"))}))

    assert group == Totals()
