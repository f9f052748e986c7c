"""Aggregates kept incrementally equal a from-scratch recomputation, whatever the delivery order.

The instrument mixes scales (0-10, 1-7, 1-4), "vet ej" codes, a reverse-coded item and weights
such as 0.1 whose float sums depend on order, so only exact arithmetic passes these properties.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tempen_scoring.domain.index import Contribution, GroupAggregate, answer_score, contribution, score_group
from tempen_scoring.domain.revisions import Revision, apply_revision
from tempen_shared.tenancy.models import Dimension, Instrument, Item, LeadershipModel, Scale

MODEL = LeadershipModel(
    id="m",
    version="1",
    name_sv="m",
    name_en="m",
    dimensions=(Dimension(id="d1", name_sv="d1", name_en="d1"), Dimension(id="d2", name_sv="d2", name_en="d2")),
    total=Dimension(id="total", name_sv="totalt", name_en="total"),
)
INSTRUMENT = Instrument(
    id="awkward",
    version="1",
    models=("m",),
    name="awkward",
    cadence="monthly",
    scale=Scale(low=0, high=10, not_applicable=(99,)),
    items=(
        Item(id="a", text_sv="a", dimension="d1", weight=0.1),
        Item(
            id="b",
            text_sv="b",
            dimension="d1",
            weight=0.7,
            reverse=True,
            scale=Scale(low=1, high=7, not_applicable=(9,)),
        ),
        Item(id="c", text_sv="c", dimension="d2", weight=1.3),
        Item(id="d", text_sv="d", dimension="d2", scale=Scale(low=1, high=4)),
    ),
)
SUBMISSION_IDS = [f"s{n}" for n in range(6)]
PROPERTY_SETTINGS = settings(
    database=None, deadline=None, max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def answer_sets(draw: st.DrawFn) -> dict[str, int]:
    answers: dict[str, int] = {}
    for item in INSTRUMENT.items:
        scale = INSTRUMENT.scale_of(item)
        choice = draw(
            st.none() | st.integers(scale.low, scale.high) | st.sampled_from((*scale.not_applicable, scale.low))
        )
        if choice is not None:
            answers[item.id] = choice
    return answers


# submission id -> answers of revision 1, 2, ...
Versions = dict[str, list[dict[str, int]]]
Delivery = tuple[str, int]


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[Versions, list[Delivery]]:
    versions = draw(
        st.dictionaries(st.sampled_from(SUBMISSION_IDS), st.lists(answer_sets(), min_size=1, max_size=3), min_size=1)
    )
    every_revision = [(s, r) for s, revisions in versions.items() for r in range(1, len(revisions) + 1)]
    delivered = draw(st.lists(st.sampled_from(every_revision), min_size=1, max_size=25))
    return versions, delivered


def _contribution(versions: Versions, delivery: Delivery) -> Contribution:
    submission_id, revision = delivery
    return contribution(INSTRUMENT, MODEL, versions[submission_id][revision - 1])


def _replay(versions: Versions, delivered: Sequence[Delivery]) -> GroupAggregate:
    """What the service does: one delivery at a time, keeping the recorded revision per submission."""
    aggregate = GroupAggregate.empty()
    recorded: dict[str, Revision] = {}
    for submission_id, number in delivered:
        incoming = Revision(number, _contribution(versions, (submission_id, number)))
        updated = apply_revision(aggregate, recorded=recorded.get(submission_id), incoming=incoming)
        if updated is not None:
            aggregate, recorded[submission_id] = updated, incoming
    return aggregate


def _latest(delivered: Sequence[Delivery]) -> dict[str, int]:
    latest: dict[str, int] = {}
    for submission_id, number in delivered:
        latest[submission_id] = max(number, latest.get(submission_id, 0))
    return latest


def _recompute(versions: Versions, delivered: Sequence[Delivery]) -> GroupAggregate:
    latest = _latest(delivered)
    return GroupAggregate.of(_contribution(versions, (s, latest[s])) for s in sorted(latest))


@PROPERTY_SETTINGS
@given(deliveries(), st.randoms(use_true_random=False))
def test_any_delivery_order_with_redeliveries_and_corrections_equals_batch_recomputation(
    case: tuple[Versions, list[Delivery]], rng: random.Random
) -> None:
    versions, delivered = case
    shuffled = list(delivered)
    rng.shuffle(shuffled)

    batch = _recompute(versions, delivered)

    assert _replay(versions, delivered) == batch
    assert _replay(versions, shuffled) == batch
    assert score_group(INSTRUMENT, MODEL, _replay(versions, shuffled)) == score_group(INSTRUMENT, MODEL, batch)


@PROPERTY_SETTINGS
@given(st.lists(answer_sets(), max_size=12), answer_sets())
def test_adding_then_removing_a_contribution_restores_the_aggregate_exactly(
    existing: list[dict[str, int]], extra: dict[str, int]
) -> None:
    before = GroupAggregate.of(contribution(INSTRUMENT, MODEL, answers) for answers in existing)
    added = contribution(INSTRUMENT, MODEL, extra)

    assert before.add(added).remove(added) == before


@PROPERTY_SETTINGS
@given(st.lists(answer_sets(), max_size=12), st.integers(0, 12))
def test_merging_two_parts_equals_aggregating_the_whole(answers: list[dict[str, int]], cut: int) -> None:
    contributions = [contribution(INSTRUMENT, MODEL, a) for a in answers]

    merged = GroupAggregate.of(contributions[:cut]).merge(GroupAggregate.of(contributions[cut:]))

    assert merged == GroupAggregate.of(reversed(contributions))


def _reference_question_index(answers: Sequence[Mapping[str, int]], item: Item) -> float | None:
    scale = INSTRUMENT.scale_of(item)
    scores = [
        answer_score(a[item.id], scale, reverse=item.reverse)
        for a in answers
        if a.get(item.id, -1) in range(scale.low, scale.high + 1)
    ]
    return statistics.fmean(scores) if scores else None


@PROPERTY_SETTINGS
@given(st.lists(answer_sets(), min_size=1, max_size=12))
def test_results_match_a_direct_per_question_computation(answers: list[dict[str, int]]) -> None:
    contributions = [contribution(INSTRUMENT, MODEL, a) for a in answers]
    results = score_group(INSTRUMENT, MODEL, GroupAggregate.of(contributions))

    for dimension in ("d1", "d2", "total"):
        items = [i for i in INSTRUMENT.items if dimension == "total" or i.dimension == dimension]
        indices = {i.id: q for i in items if (q := _reference_question_index(answers, i)) is not None}
        if not indices:
            assert dimension not in results
            continue
        weights = {i.id: i.weight for i in items}
        expected = sum(weights[k] * q for k, q in indices.items()) / sum(weights[k] for k in indices)
        respondent_scores = [c.dimension_scores[dimension] for c in contributions if dimension in c.dimension_scores]
        result = results[dimension]
        assert result.index == pytest.approx(expected)
        assert result.question_indices == pytest.approx(indices)
        assert result.respondents == len(respondent_scores)
        if len(respondent_scores) >= 2:
            expected_se = statistics.stdev(respondent_scores) / math.sqrt(len(respondent_scores))
            assert result.standard_error == pytest.approx(expected_se, abs=1e-9)
        else:
            assert result.standard_error is None
