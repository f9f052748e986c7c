"""HME-compatible index math: answers to 0-100 scores, additive group aggregates, and group results.

The method follows SKR's Hållbart medarbetarengagemang (HME): every answer maps linearly onto
0-100 (on 1-5: (x - 1) * 25), a question index is the mean over the people who answered that
question, a dimension index (HME's "delindex") is the mean of its question indices, and the
model's total index is the mean of all its question indices (HME's totalindex: the mean of nine).
Averaging per question first, never per respondent, is what makes our numbers match theirs when
answers are missing. Items may carry weights; equal weights give exactly the HME figures.

A `GroupAggregate` holds only counts and sums, so one submission is added, removed (a corrected
submission replaces its earlier contribution) or rolled up into a parent group in O(items), and
every result is a function of the aggregate alone. Sums are kept as exact rationals: adding and
then removing a contribution returns an aggregate equal to one that never saw it, in any order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from tempen_shared.tenancy.models import Instrument, Item, LeadershipModel, Scale

Moments = tuple[int, Fraction, Fraction]  # (n, sum, sum of squares) of respondent-level scores


class UnknownItemError(ValueError):
    def __init__(self, item_id: str) -> None:
        super().__init__(f"item {item_id!r} is not part of the instrument")
        self.item_id = item_id


class ValueOutOfScaleError(ValueError):
    def __init__(self, item_id: str, value: int) -> None:
        super().__init__(f"value {value} of item {item_id!r} is neither on its scale nor a not-applicable code")
        self.item_id = item_id
        self.value = value


class ContributionNotInAggregateError(ValueError):
    """Removing would make a count negative: the contribution was never added to this aggregate."""


def answer_score(value: int, scale: Scale, *, reverse: bool = False) -> float:
    """The 0-100 score of one answer: linear from the scale's low end (0) to its high end (100).

    On 1-5 that is (x - 1) * 25; on 1-7 (x - 1) * 100 / 6; on 0-10 x * 10. A reverse-coded item
    is flipped, so 100 always means the favourable end. Raises ValueError for a value off the
    scale, including not-applicable codes, which are never scored.
    """
    return float(_exact_score(value, scale, reverse=reverse))


def _exact_score(value: int, scale: Scale, *, reverse: bool) -> Fraction:
    if not scale.low <= value <= scale.high:
        raise ValueError(f"value {value} lies outside the scale {scale.low}-{scale.high}")
    position = Fraction(value - scale.low, scale.high - scale.low)
    return (1 - position if reverse else position) * 100


@dataclass(frozen=True, slots=True)
class Contribution:
    """One submission's effect on its group's aggregate, for one leadership model.

    `item_values` holds the raw answers to this model's items, without not-applicable codes.
    `dimension_scores` holds the respondent's own score per dimension (the item-weighted mean of
    their answered items' 0-100 scores), plus the model's total id when the model has a total;
    a dimension with no answered item is absent.
    """

    item_values: Mapping[str, int]
    dimension_scores: Mapping[str, float]

    def to_document(self) -> dict[str, Any]:
        """A JSON-ready form, so a store can keep it and remove it again when a correction arrives."""
        return {"item_values": dict(self.item_values), "dimension_scores": dict(self.dimension_scores)}

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Contribution:
        return cls(
            item_values={str(k): int(v) for k, v in document["item_values"].items()},
            dimension_scores={str(k): float(v) for k, v in document["dimension_scores"].items()},
        )


def contribution(instrument: Instrument, model: LeadershipModel, answers: Mapping[str, int]) -> Contribution:
    """Turn one submission's answers into its contribution to `model`.

    Every answer is checked, whichever model its item feeds, so a submission is valid or invalid
    independently of the model asked about; answers to other models' items are then left out.

    Raises:
        UnknownItemError: an answered item id is not in the instrument.
        ValueOutOfScaleError: a value is neither on its item's scale nor a not-applicable code.
        ValueError: the instrument does not feed `model`.
    """
    if model.id not in instrument.models:
        raise ValueError(f"instrument {instrument.id!r} does not feed model {model.id!r}")
    rules = _rules(instrument, model)
    item_values: dict[str, int] = {}
    if rules.uniform:
        # One weight and one scale span for every item of the model: a dimension score is then
        # 100 * (sum of positions on the scale) / (span * answers), exactly, in integers.
        sums: dict[str, list[int]] = {}
        total = rules.total
        for item_id, value in answers.items():
            rule = rules.items.get(item_id)
            if rule is None:
                raise UnknownItemError(item_id)
            if not rule.low <= value <= rule.high:
                if value in rule.not_applicable:
                    continue
                raise ValueOutOfScaleError(item_id, value)
            if not rule.scored:
                continue
            item_values[item_id] = value
            position = rule.high - value if rule.reverse else value - rule.low
            for dimension in (rule.dimension, total) if total is not None else (rule.dimension,):
                acc = sums.get(dimension)
                if acc is None:
                    sums[dimension] = [position, 1]
                else:
                    acc[0] += position
                    acc[1] += 1
        span = rules.span
        return Contribution(
            item_values=item_values,
            dimension_scores={d: 100 * p / (span * k) for d, (p, k) in sums.items()},
        )
    scored: list[tuple[_ItemRule, int]] = []
    for item_id, value in answers.items():
        rule = rules.items.get(item_id)
        if rule is None:
            raise UnknownItemError(item_id)
        if not rule.low <= value <= rule.high:
            if value in rule.not_applicable:
                continue
            raise ValueOutOfScaleError(item_id, value)
        if rule.scored:
            scored.append((rule, value))
    by_dimension: dict[str, list[tuple[Fraction, Fraction]]] = {}
    for rule, value in scored:
        position = rule.high - value if rule.reverse else value - rule.low
        weighted = (rule.weight, Fraction(100 * position, rule.high - rule.low))
        by_dimension.setdefault(rule.dimension, []).append(weighted)
        if rules.total is not None:
            by_dimension.setdefault(rules.total, []).append(weighted)
    return Contribution(
        item_values={rule.id: value for rule, value in scored},
        dimension_scores={dimension: float(_weighted_mean(pairs)) for dimension, pairs in by_dimension.items()},
    )


@dataclass(frozen=True, slots=True)
class _ItemRule:
    id: str
    low: int
    high: int
    not_applicable: tuple[int, ...]
    scored: bool  # the item feeds the model the rules are for
    dimension: str
    reverse: bool
    weight: Fraction


@dataclass(frozen=True, slots=True)
class _ModelRules:
    """An instrument's items as seen by one model, looked up once instead of for every answer."""

    items: dict[str, _ItemRule]
    model_items: tuple[Item, ...]
    by_dimension: dict[str, tuple[Item, ...]]
    total: str | None
    uniform: bool  # every scored item has the same weight and the same scale span
    span: int


# Compiled rules per (instrument, model) object pair. The entry holds both objects, so their ids
# cannot be reused while it exists; configuration is loaded once per process, so this stays tiny.
_RULES: dict[tuple[int, int], tuple[Instrument, LeadershipModel, _ModelRules]] = {}


def _rules(instrument: Instrument, model: LeadershipModel) -> _ModelRules:
    hit = _RULES.get((id(instrument), id(model)))
    if hit is not None and hit[0] is instrument and hit[1] is model:
        return hit[2]
    items: dict[str, _ItemRule] = {}
    for item in instrument.items:
        scale = instrument.scale_of(item)
        items[item.id] = _ItemRule(
            id=item.id,
            low=scale.low,
            high=scale.high,
            not_applicable=tuple(scale.not_applicable),
            scored=instrument.model_of(item) == model.id,
            dimension=item.dimension,
            reverse=item.reverse,
            weight=Fraction(item.weight),
        )
    model_items = instrument.items_of(model.id)
    scored = [items[i.id] for i in model_items]
    spans = {r.high - r.low for r in scored}
    weights = {r.weight for r in scored}
    rules = _ModelRules(
        items=items,
        model_items=model_items,
        by_dimension={d.id: tuple(i for i in model_items if i.dimension == d.id) for d in model.dimensions},
        total=model.total.id if model.total is not None else None,
        uniform=len(spans) == 1 and len(weights) == 1,
        span=spans.pop() if len(spans) == 1 else 0,
    )
    if len(_RULES) >= 64:
        _RULES.clear()
    _RULES[(id(instrument), id(model))] = (instrument, model, rules)
    return rules


def _weighted_mean(pairs: Iterable[tuple[Fraction, Fraction]]) -> Fraction:
    listed = list(pairs)
    return sum((w * x for w, x in listed), Fraction(0)) / sum((w for w, _ in listed), Fraction(0))


@dataclass(frozen=True, slots=True)
class GroupAggregate:
    """The counts and sums of one group (unit or subtree, period, model) from which results follow.

    Additive and subtractable: `add`, `remove` and `merge` return new aggregates. Zero counts are
    dropped, so two aggregates of the same submissions compare equal however they were built.
    `dimension_moments` are exact rationals (`float(x)` converts them); see `to_document` to store them.
    """

    respondents: int = 0
    item_counts: Mapping[str, Mapping[int, int]] = field(default_factory=dict)
    dimension_moments: Mapping[str, Moments] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> GroupAggregate:
        return cls()

    @classmethod
    def of(cls, contributions: Iterable[Contribution]) -> GroupAggregate:
        """The aggregate of a batch, as a from-scratch recomputation builds it."""
        aggregate = cls.empty()
        for each in contributions:
            aggregate = aggregate.add(each)
        return aggregate

    def add(self, contribution: Contribution) -> GroupAggregate:
        return self._combined(_single(contribution), sign=1)

    def remove(self, contribution: Contribution) -> GroupAggregate:
        """Take back a contribution added earlier; raises ContributionNotInAggregateError if it never was."""
        return self._combined(_single(contribution), sign=-1)

    def merge(self, other: GroupAggregate) -> GroupAggregate:
        """The aggregate of both groups together, for roll-ups (a subtree is its units merged)."""
        return self._combined(other, sign=1)

    def _combined(self, other: GroupAggregate, *, sign: int) -> GroupAggregate:
        respondents = self.respondents + sign * other.respondents
        if respondents < 0:
            raise ContributionNotInAggregateError("respondent count would become negative")
        return GroupAggregate(
            respondents=respondents,
            item_counts=_combined_counts(self.item_counts, other.item_counts, sign=sign),
            dimension_moments=_combined_moments(self.dimension_moments, other.dimension_moments, sign=sign),
        )

    def to_document(self) -> dict[str, Any]:
        """A JSON-ready form; exact sums are written as "numerator/denominator" strings."""
        return {
            "respondents": self.respondents,
            "item_counts": {item: {str(v): c for v, c in counts.items()} for item, counts in self.item_counts.items()},
            "dimension_moments": {d: [n, str(s), str(q)] for d, (n, s, q) in self.dimension_moments.items()},
        }

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> GroupAggregate:
        return cls(
            respondents=int(document["respondents"]),
            item_counts={
                str(item): {int(v): int(c) for v, c in counts.items()}
                for item, counts in document["item_counts"].items()
            },
            dimension_moments={
                str(d): (int(n), Fraction(s), Fraction(q)) for d, (n, s, q) in document["dimension_moments"].items()
            },
        )


def _single(contribution: Contribution) -> GroupAggregate:
    return GroupAggregate(
        respondents=1,
        item_counts={item_id: {value: 1} for item_id, value in contribution.item_values.items()},
        dimension_moments={
            dimension: (1, Fraction(score), Fraction(score) ** 2)
            for dimension, score in contribution.dimension_scores.items()
        },
    )


def _combined_counts(
    mine: Mapping[str, Mapping[int, int]], other: Mapping[str, Mapping[int, int]], *, sign: int
) -> dict[str, Mapping[int, int]]:
    result = dict(mine)
    for item_id, counts in other.items():
        combined = dict(result.get(item_id, {}))
        for value, count in counts.items():
            new_count = combined.get(value, 0) + sign * count
            if new_count < 0:
                raise ContributionNotInAggregateError(f"count of value {value} of item {item_id!r} would be negative")
            if new_count:
                combined[value] = new_count
            else:
                combined.pop(value, None)
        if combined:
            result[item_id] = combined
        else:
            result.pop(item_id, None)
    return result


def _combined_moments(mine: Mapping[str, Moments], other: Mapping[str, Moments], *, sign: int) -> dict[str, Moments]:
    result = dict(mine)
    zero = (0, Fraction(0), Fraction(0))
    for dimension, (n, total, squares) in other.items():
        my_n, my_total, my_squares = result.get(dimension, zero)
        new = (my_n + sign * n, my_total + sign * total, my_squares + sign * squares)
        if new[0] < 0 or (new[0] == 0 and new != zero):
            raise ContributionNotInAggregateError(f"moments of dimension {dimension!r} do not contain the removal")
        if new[0]:
            result[dimension] = new
        else:
            result.pop(dimension, None)
    return result


@dataclass(frozen=True, slots=True)
class DimensionResult:
    """A group's result on one dimension (or on the model's total).

    `respondents` counts the people who answered at least one of the dimension's items.
    `favourable_pct` is the share (0-100) of all answers to the dimension's items that lie in the
    top `scale.favourable_top` values, the bottom ones for reverse-coded items. `standard_error` is
    the sample standard deviation of respondent-level scores over sqrt(n); None when n < 2.
    `distribution` counts raw values over the dimension's items, as answered (not reversed).
    `question_respondents` says how many answered each question, for per-question suppression.
    """

    dimension: str
    index: float
    respondents: int
    favourable_pct: float | None
    standard_error: float | None
    question_indices: Mapping[str, float]
    distribution: Mapping[int, int]
    question_respondents: Mapping[str, int] = field(default_factory=dict)


def score_group(
    instrument: Instrument, model: LeadershipModel, aggregate: GroupAggregate
) -> dict[str, DimensionResult]:
    """The results of one group on every dimension of `model` (and its total) that anyone answered.

    A question index is the mean score of those who answered the question; a dimension index is
    the item-weighted mean of its answered questions' indices; the total is the item-weighted
    mean of all the model's answered question indices. Dimensions nobody answered are absent.
    """
    rules = _rules(instrument, model)
    results: dict[str, DimensionResult] = {}
    for dimension in model.dimensions:
        result = _score_dimension(dimension.id, rules.by_dimension[dimension.id], instrument, aggregate)
        if result is not None:
            results[dimension.id] = result
    if model.total is not None:
        total = _score_dimension(model.total.id, rules.model_items, instrument, aggregate)
        if total is not None:
            results[model.total.id] = total
    return results


def answered_dimensions(instrument: Instrument, model: LeadershipModel, aggregate: GroupAggregate) -> list[str]:
    """The dimensions (and total) `score_group` would give results for, in its order, without scoring them:
    what a suppressed group's rows need."""
    rules = _rules(instrument, model)
    counts = aggregate.item_counts
    out = [d.id for d in model.dimensions if any(counts.get(i.id) for i in rules.by_dimension[d.id])]
    if model.total is not None and any(counts.get(i.id) for i in rules.model_items):
        out.append(model.total.id)
    return out


def _score_dimension(
    dimension_id: str, items: Sequence[Item], instrument: Instrument, aggregate: GroupAggregate
) -> DimensionResult | None:
    # A question's index is 100 * positions / (span * answered) with integer positions on the scale,
    # so every figure is an exact rational built from integers, and each float is that rational
    # correctly rounded (int / int rounds correctly, as float(Fraction) does).
    questions: list[tuple[Item, int, int, int]] = []  # item, positions, span, answered
    question_respondents: dict[str, int] = {}
    distribution: dict[int, int] = {}
    favourable = 0
    answers = 0
    for item in items:
        counts = aggregate.item_counts.get(item.id)
        if not counts:
            continue
        scale = instrument.scale_of(item)
        low, high, top, reverse = scale.low, scale.high, scale.favourable_top, item.reverse
        answered = 0
        positions = 0
        for value, count in counts.items():
            if not low <= value <= high:
                raise ValueError(f"value {value} lies outside the scale {low}-{high}")
            answered += count
            if reverse:
                positions += count * (high - value)
                if value < low + top:
                    favourable += count
            else:
                positions += count * (value - low)
                if value > high - top:
                    favourable += count
            distribution[value] = distribution.get(value, 0) + count
        questions.append((item, positions, high - low, answered))
        question_respondents[item.id] = answered
        answers += answered
    if not questions:
        return None
    first_weight = questions[0][0].weight
    if all(q[0].weight == first_weight for q in questions):
        # Equal weights: the mean of the question indices, over a common denominator.
        common = math.lcm(*(span * answered for _, _, span, answered in questions))
        numerator = sum(positions * (common // (span * answered)) for _, positions, span, answered in questions)
        index = 100 * numerator / (common * len(questions))
    else:
        index = float(
            _weighted_mean(
                (Fraction(item.weight), Fraction(100 * positions, span * answered))
                for item, positions, span, answered in questions
            )
        )
    n, total_score, squares = aggregate.dimension_moments.get(dimension_id, (0, Fraction(0), Fraction(0)))
    return DimensionResult(
        dimension=dimension_id,
        index=index,
        respondents=n,
        favourable_pct=100 * favourable / answers,
        standard_error=_standard_error(n, total_score, squares),
        question_indices={
            item.id: 100 * positions / (span * answered) for item, positions, span, answered in questions
        },
        distribution=dict(sorted(distribution.items())),
        question_respondents=question_respondents,
    )


def _standard_error(n: int, total: Fraction, squares: Fraction) -> float | None:
    if n < 2:
        return None
    # (squares - total² / n) / (n - 1), exact in integers (so never negative by rounding), then rounded once.
    a, b = total.numerator, total.denominator
    c, d = squares.numerator, squares.denominator
    variance = (c * b * b * n - a * a * d) / (d * b * b * n * (n - 1))
    return math.sqrt(variance / n)
