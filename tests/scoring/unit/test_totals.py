"""`Totals` adds exactly, also when what it adds is a sum of deltas: a batch's subtree sums pass up the
tree as one part (`SliceState.advance`), and such a sum can have no net respondents yet moved sums."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tempen_scoring.domain.incremental import Totals
from tempen_scoring.domain.rescoring import exact, scaled_pair


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


@pytest.mark.parametrize(
    "moments",
    [
        {"d": (3, Decimal("125"), Decimal("6875.000000000"))},
        {"d": (0, Decimal("50.000000001"), Decimal("-0.000000000000000001"))},
        {"d": (-2, Decimal("-0.5"), Decimal("-12345678901234567890.123456789012345678"))},
    ],
)
def test_the_moments_written_to_the_database_are_the_exact_decimals_held(
    moments: dict[str, tuple[int, Decimal, Decimal]],
) -> None:
    totals = Totals(1, {}, moments)

    written = totals.fixed_moments()

    assert {d: (n, Decimal(s), Decimal(ss)) for d, (n, s, ss) in written.items()} == totals.moments == moments
    assert all("E" not in s and "E" not in ss for _, s, ss in written.values()), "fixed notation, as numeric reads it"


@pytest.mark.parametrize("score", [0.0, 12.5, 100.0, 1 / 3, 2 / 3 * 100, 0.1 + 0.2, 99.9999999996])
def test_a_score_is_added_as_the_integers_of_its_exact_decimal(score: float) -> None:
    x, xx = scaled_pair(score)

    assert Decimal(x).scaleb(-9) == exact(score)
    assert Decimal(xx).scaleb(-18) == exact(score) * exact(score)
