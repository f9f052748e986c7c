"""The integer fast paths of `contribution` and `score_group` give bit-for-bit the results of the
plain exact-rational method they replaced (kept below as the reference), on the shipped Hjo pulse
(one weight, one scale: the integer path) and on an instrument with mixed scales, "vet ej" codes, a
reverse-coded item and awkward weights (the general path)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from tempen_scoring.domain.index import (
    Contribution,
    DimensionResult,
    GroupAggregate,
    UnknownItemError,
    ValueOutOfScaleError,
    contribution,
    score_group,
)
from tempen_shared.tenancy.models import Instrument, Item, LeadershipModel, Scale
from tests.scoring.unit.shipped import shipped_instruments, shipped_models
from tests.scoring.unit.test_aggregate_properties import INSTRUMENT as AWKWARD
from tests.scoring.unit.test_aggregate_properties import MODEL as AWKWARD_MODEL

SETTINGS = settings(database=None, deadline=None, max_examples=200)


def _exact_score(value: int, scale: Scale, *, reverse: bool) -> Fraction:
    if not scale.low <= value <= scale.high:
        raise ValueError(value)
    position = Fraction(value - scale.low, scale.high - scale.low)
    return (1 - position if reverse else position) * 100


def _weighted_mean(pairs: Iterable[tuple[Fraction, Fraction]]) -> Fraction:
    listed = list(pairs)
    return sum((w * x for w, x in listed), Fraction(0)) / sum((w for w, _ in listed), Fraction(0))


def reference_contribution(instrument: Instrument, model: LeadershipModel, answers: Mapping[str, int]) -> Contribution:
    items = {item.id: item for item in instrument.items}
    scored: list[tuple[Item, int]] = []
    for item_id, value in answers.items():
        item = items.get(item_id)
        if item is None:
            raise UnknownItemError(item_id)
        scale = instrument.scale_of(item)
        if not scale.accepts(value):
            raise ValueOutOfScaleError(item_id, value)
        if instrument.model_of(item) == model.id and value not in scale.not_applicable:
            scored.append((item, value))
    by_dimension: dict[str, list[tuple[Fraction, Fraction]]] = {}
    for item, value in scored:
        weighted = (Fraction(item.weight), _exact_score(value, instrument.scale_of(item), reverse=item.reverse))
        by_dimension.setdefault(item.dimension, []).append(weighted)
        if model.total is not None:
            by_dimension.setdefault(model.total.id, []).append(weighted)
    return Contribution(
        item_values={item.id: value for item, value in scored},
        dimension_scores={dimension: float(_weighted_mean(pairs)) for dimension, pairs in by_dimension.items()},
    )


def _reference_dimension(
    dimension_id: str, items: list[Item], instrument: Instrument, aggregate: GroupAggregate
) -> DimensionResult | None:
    question_indices: dict[str, Fraction] = {}
    question_respondents: dict[str, int] = {}
    weights: dict[str, Fraction] = {}
    distribution: dict[int, int] = {}
    favourable = 0
    answers = 0
    for item in items:
        counts = aggregate.item_counts.get(item.id)
        if not counts:
            continue
        scale = instrument.scale_of(item)
        answered = sum(counts.values())
        total = sum(
            (count * _exact_score(value, scale, reverse=item.reverse) for value, count in counts.items()), Fraction(0)
        )
        question_indices[item.id] = total / answered
        question_respondents[item.id] = answered
        weights[item.id] = Fraction(item.weight)
        top = scale.favourable_top
        favourable += sum(
            count
            for value, count in counts.items()
            if (value < scale.low + top if item.reverse else value > scale.high - top)
        )
        answers += answered
        for value, count in counts.items():
            distribution[value] = distribution.get(value, 0) + count
    if not question_indices:
        return None
    index = _weighted_mean((weights[item_id], q) for item_id, q in question_indices.items())
    n, total_score, squares = aggregate.dimension_moments.get(dimension_id, (0, Fraction(0), Fraction(0)))
    standard_error = None
    if n >= 2:
        standard_error = math.sqrt(float((squares - total_score * total_score / n) / (n - 1)) / n)
    return DimensionResult(
        dimension=dimension_id,
        index=float(index),
        respondents=n,
        favourable_pct=float(Fraction(100 * favourable, answers)),
        standard_error=standard_error,
        question_indices={item_id: float(q) for item_id, q in question_indices.items()},
        distribution=dict(sorted(distribution.items())),
        question_respondents=question_respondents,
    )


def reference_score_group(
    instrument: Instrument, model: LeadershipModel, aggregate: GroupAggregate
) -> dict[str, DimensionResult]:
    items = instrument.items_of(model.id)
    results: dict[str, DimensionResult] = {}
    for dimension in model.dimensions:
        result = _reference_dimension(
            dimension.id, [i for i in items if i.dimension == dimension.id], instrument, aggregate
        )
        if result is not None:
            results[dimension.id] = result
    if model.total is not None:
        total = _reference_dimension(model.total.id, list(items), instrument, aggregate)
        if total is not None:
            results[model.total.id] = total
    return results


def _answers_for(instrument: Instrument) -> st.SearchStrategy[dict[str, int]]:
    def one(item: Item) -> st.SearchStrategy[int]:
        scale = instrument.scale_of(item)
        return st.one_of(st.integers(scale.low, scale.high), st.sampled_from(scale.not_applicable or (scale.low,)))

    return st.fixed_dictionaries({}, optional={item.id: one(item) for item in instrument.items}).filter(bool)


HJO = shipped_instruments()["hjo-puls"]
MODELS = shipped_models()
CASES = [(HJO, MODELS["hjo-ledarmodell"]), (HJO, MODELS["hme"]), (AWKWARD, AWKWARD_MODEL)]


def _same_contribution(a: Contribution, b: Contribution) -> bool:
    return list(a.item_values.items()) == list(b.item_values.items()) and list(a.dimension_scores.items()) == list(
        b.dimension_scores.items()
    )


@SETTINGS
@given(case=st.sampled_from(range(len(CASES))), data=st.data())
def test_contribution_equals_the_exact_rational_method(case: int, data: st.DataObject) -> None:
    instrument, model = CASES[case]
    answers = data.draw(_answers_for(instrument))

    assert _same_contribution(
        contribution(instrument, model, answers), reference_contribution(instrument, model, answers)
    )


@SETTINGS
@given(case=st.sampled_from(range(len(CASES))), data=st.data())
def test_group_results_equal_the_exact_rational_method(case: int, data: st.DataObject) -> None:
    instrument, model = CASES[case]
    answer_sets = data.draw(st.lists(_answers_for(instrument), min_size=1, max_size=12))
    aggregate = GroupAggregate.of(contribution(instrument, model, answers) for answers in answer_sets)

    fast, reference = score_group(instrument, model, aggregate), reference_score_group(instrument, model, aggregate)

    assert list(fast) == list(reference)
    for dimension, result in fast.items():
        assert result == reference[dimension]
        assert list(result.question_indices) == list(reference[dimension].question_indices)


def test_invalid_answers_are_refused_as_before() -> None:
    model = MODELS["hme"]
    for answers in ({"nope": 3}, {"hme-1": 6}, {"hjo-us-1": 7}, {"hme-1": 0}):
        outcomes = []
        for method in (contribution, reference_contribution):
            try:
                method(HJO, model, answers)
            except (UnknownItemError, ValueOutOfScaleError) as exc:
                outcomes.append((type(exc), exc.args))
        assert len(outcomes) == 2
        assert outcomes[0] == outcomes[1]
