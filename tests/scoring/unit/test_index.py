"""The index math, checked against hand-computed numbers.

Worked HME example: five respondents on SKR's nine questions; "-" means no answer.

          motivation    ledarskap     styrning
          q1 q2 q3      q4 q5 q6      q7 q8 q9
    R1     5  4  4       4  4  5       5  5  5
    R2     4  4  3       4  4  4       4  3  4
    R3     3  -  2       2  3  3       3  2  3
    R4     5  5  5       5  5  4       5  4  5
    R5     4  3  -       4  4  5       -  3  4

Each answer scores (x - 1) * 25. A question index is the mean over those who answered it, so a
missing answer only shrinks that question's denominator:
    q1 = (100 + 75 + 50 + 100 + 75) / 5 = 80        q2 = (75 + 75 + 100 + 50) / 4 = 75
    q3 = (75 + 50 + 25 + 100) / 4 = 62.5            q4 = (75 + 75 + 25 + 100 + 75) / 5 = 70
    q5 = (75 + 75 + 50 + 100 + 75) / 5 = 75         q6 = (100 + 75 + 50 + 75 + 100) / 5 = 80
    q7 = (100 + 75 + 50 + 100) / 4 = 81.25          q8 = (100 + 50 + 25 + 75 + 50) / 5 = 60
    q9 = (100 + 75 + 50 + 100 + 75) / 5 = 80
    Motivation = (80 + 75 + 62.5) / 3 = 72.5
    Ledarskap  = (70 + 75 + 80) / 3 = 75
    Styrning   = (81.25 + 60 + 80) / 3 = 73.75
    HME total  = (80 + 75 + 62.5 + 70 + 75 + 80 + 81.25 + 60 + 80) / 9 = 663.75 / 9 = 73.75
Motivation per respondent would be (83.33 + 66.67 + 37.5 + 100 + 62.5) / 5 = 70: HME averages per
question, which is why the index is 72.5.
Favourable motivation answers (4 or 5): q1 4 of 5, q2 3 of 4, q3 2 of 4, so 9 / 13 = 69.23 %.
Standard error of motivation: the respondent scores deviate from 70 by 13.33, -3.33, -32.5, 30 and
-7.5, so the squares sum to 1700/9 + 2012.5, the variance is that over 4, and SE = sqrt(variance / 5).
"""

from __future__ import annotations

import json
import math

import pytest

from tempen_scoring.domain.index import (
    Contribution,
    ContributionNotInAggregateError,
    GroupAggregate,
    UnknownItemError,
    ValueOutOfScaleError,
    answer_score,
    contribution,
    score_group,
)
from tempen_shared.tenancy.models import Dimension, Instrument, Item, LeadershipModel, Scale
from tests.scoring.unit.shipped import shipped_instruments, shipped_models

WORKED_EXAMPLE: list[dict[str, int]] = [
    {"hme-1": 5, "hme-2": 4, "hme-3": 4, "hme-4": 4, "hme-5": 4, "hme-6": 5, "hme-7": 5, "hme-8": 5, "hme-9": 5},
    {"hme-1": 4, "hme-2": 4, "hme-3": 3, "hme-4": 4, "hme-5": 4, "hme-6": 4, "hme-7": 4, "hme-8": 3, "hme-9": 4},
    {"hme-1": 3, "hme-3": 2, "hme-4": 2, "hme-5": 3, "hme-6": 3, "hme-7": 3, "hme-8": 2, "hme-9": 3},
    {"hme-1": 5, "hme-2": 5, "hme-3": 5, "hme-4": 5, "hme-5": 5, "hme-6": 4, "hme-7": 5, "hme-8": 4, "hme-9": 5},
    {"hme-1": 4, "hme-2": 3, "hme-4": 4, "hme-5": 4, "hme-6": 5, "hme-8": 3, "hme-9": 4},
]


@pytest.fixture(scope="module")
def hme() -> tuple[Instrument, LeadershipModel]:
    return shipped_instruments()["hme"], shipped_models()["hme"]


@pytest.fixture(scope="module")
def worked_example(hme: tuple[Instrument, LeadershipModel]) -> GroupAggregate:
    instrument, model = hme
    return GroupAggregate.of(contribution(instrument, model, answers) for answers in WORKED_EXAMPLE)


def test_question_indices_use_only_those_who_answered(
    hme: tuple[Instrument, LeadershipModel], worked_example: GroupAggregate
) -> None:
    results = score_group(*hme, worked_example)

    assert results["motivation"].question_indices == {"hme-1": 80.0, "hme-2": 75.0, "hme-3": 62.5}
    assert results["styrning"].question_indices == {"hme-7": 81.25, "hme-8": 60.0, "hme-9": 80.0}
    assert results["styrning"].question_respondents == {"hme-7": 4, "hme-8": 5, "hme-9": 5}


def test_delindex_are_the_mean_of_their_question_indices(
    hme: tuple[Instrument, LeadershipModel], worked_example: GroupAggregate
) -> None:
    results = score_group(*hme, worked_example)

    assert results["motivation"].index == 72.5
    assert results["ledarskap"].index == 75.0
    assert results["styrning"].index == 73.75


def test_hme_totalindex_is_the_mean_of_all_nine_question_indices(
    hme: tuple[Instrument, LeadershipModel], worked_example: GroupAggregate
) -> None:
    total = score_group(*hme, worked_example)["hme"]

    assert total.index == 663.75 / 9
    assert len(total.question_indices) == 9
    assert total.respondents == 5


def test_dimension_index_averages_questions_not_respondents(
    hme: tuple[Instrument, LeadershipModel], worked_example: GroupAggregate
) -> None:
    n, score_sum, _ = worked_example.dimension_moments["motivation"]

    assert float(score_sum / n) == 70.0
    assert score_group(*hme, worked_example)["motivation"].index == 72.5


def test_favourable_share_and_distribution_count_every_answer_to_the_dimension(
    hme: tuple[Instrument, LeadershipModel], worked_example: GroupAggregate
) -> None:
    motivation = score_group(*hme, worked_example)["motivation"]

    assert motivation.favourable_pct == pytest.approx(900 / 13)
    assert motivation.distribution == {2: 1, 3: 3, 4: 5, 5: 4}
    assert motivation.respondents == 5


def test_standard_error_is_the_sample_sd_of_respondent_scores_over_root_n(
    hme: tuple[Instrument, LeadershipModel], worked_example: GroupAggregate
) -> None:
    motivation = score_group(*hme, worked_example)["motivation"]

    assert motivation.standard_error == pytest.approx(math.sqrt((1700 / 9 + 2012.5) / 4 / 5))


def test_standard_error_is_unknown_for_a_single_respondent(hme: tuple[Instrument, LeadershipModel]) -> None:
    instrument, model = hme
    aggregate = GroupAggregate.of([contribution(instrument, model, WORKED_EXAMPLE[0])])

    assert score_group(instrument, model, aggregate)["ledarskap"].standard_error is None


def test_dimensions_nobody_answered_are_absent(hme: tuple[Instrument, LeadershipModel]) -> None:
    instrument, model = hme
    only_motivation = contribution(instrument, model, {"hme-1": 4, "hme-2": 5})

    results = score_group(instrument, model, GroupAggregate.of([only_motivation]))

    assert set(results) == {"motivation", "hme"}
    assert set(only_motivation.dimension_scores) == {"motivation", "hme"}


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [
        (1, Scale(low=1, high=5), 0.0),
        (2, Scale(low=1, high=5), 25.0),
        (5, Scale(low=1, high=5), 100.0),
        (4, Scale(low=1, high=7), 50.0),
        (2, Scale(low=1, high=7), 100 / 6),
        (7, Scale(low=1, high=7), 100.0),
        (0, Scale(low=0, high=10), 0.0),
        (7, Scale(low=0, high=10), 70.0),
        (2, Scale(low=1, high=4), 100 / 3),
    ],
)
def test_answers_map_linearly_from_the_low_end_to_the_high_end(value: int, scale: Scale, expected: float) -> None:
    assert answer_score(value, scale) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("value", "scale", "expected"),
    [(2, Scale(low=1, high=5), 75.0), (6, Scale(low=1, high=7), 100 / 6), (3, Scale(low=0, high=10), 70.0)],
)
def test_reverse_coded_answers_are_flipped(value: int, scale: Scale, expected: float) -> None:
    assert answer_score(value, scale, reverse=True) == pytest.approx(expected)


@pytest.mark.parametrize("value", [0, 6, 9])
def test_values_off_the_scale_and_not_applicable_codes_have_no_score(value: int) -> None:
    with pytest.raises(ValueError, match="outside the scale"):
        answer_score(value, Scale(low=1, high=5, not_applicable=(9,)))


def test_vet_ej_and_reverse_coded_item_in_hjo_cornerstone() -> None:
    """Three respondents on Hjo's "uppdrag och struktur"; hjo-us-3 is reverse-coded, 6 is "vet ej".

             us-1  us-2  us-3(rev)  us-4
        R1    5     4     2 -> 75    4
        R2    6     3     4 -> 25    5
        R3    4     2     3 -> 50    3

    us-1 = (100 + 75) / 2 = 87.5 (the "vet ej" leaves the denominator); us-2 = (75 + 50 + 25) / 3 = 50;
    us-3 = (75 + 25 + 50) / 3 = 50; us-4 = (75 + 100 + 50) / 3 = 75; index = 262.5 / 4 = 65.625.
    Favourable: 4-5, but 1-2 on us-3: 2 + 1 + 1 + 2 = 6 of 11 answers.
    """
    instrument, model = shipped_instruments()["hjo-puls"], shipped_models()["hjo-ledarmodell"]
    respondents = [
        {"hjo-us-1": 5, "hjo-us-2": 4, "hjo-us-3": 2, "hjo-us-4": 4},
        {"hjo-us-1": 6, "hjo-us-2": 3, "hjo-us-3": 4, "hjo-us-4": 5},
        {"hjo-us-1": 4, "hjo-us-2": 2, "hjo-us-3": 3, "hjo-us-4": 3},
    ]
    contributions = [contribution(instrument, model, answers) for answers in respondents]

    result = score_group(instrument, model, GroupAggregate.of(contributions))["uppdrag-struktur"]

    assert result.question_indices == {"hjo-us-1": 87.5, "hjo-us-2": 50.0, "hjo-us-3": 50.0, "hjo-us-4": 75.0}
    assert result.index == 65.625
    assert result.favourable_pct == pytest.approx(600 / 11)
    assert result.distribution == {2: 2, 3: 3, 4: 4, 5: 2}
    assert result.respondents == 3
    assert "hjo-us-1" not in contributions[1].item_values
    assert contributions[1].dimension_scores["uppdrag-struktur"] == pytest.approx((50 + 25 + 100) / 3)


def _mixed_scale_instrument() -> tuple[Instrument, LeadershipModel]:
    model = LeadershipModel(
        id="m",
        version="1",
        name_sv="m",
        name_en="m",
        dimensions=(Dimension(id="d", name_sv="d", name_en="d"), Dimension(id="e", name_sv="e", name_en="e")),
        total=Dimension(id="all", name_sv="alla", name_en="all"),
    )
    instrument = Instrument(
        id="mixed",
        version="1",
        models=("m",),
        name="mixed",
        cadence="quarterly",
        scale=Scale(low=0, high=10),
        items=(
            Item(id="seven", text_sv="a", dimension="d", weight=2.0, scale=Scale(low=1, high=7)),
            Item(id="ten", text_sv="b", dimension="d"),
            Item(id="five", text_sv="c", dimension="e", scale=Scale(low=1, high=5)),
        ),
    )
    return instrument, model


def test_items_on_different_scales_combine_by_weight_on_the_common_scale() -> None:
    # seven: 4 on 1-7 is 50 (weight 2); ten: 7 on 0-10 is 70 (weight 1): (2 * 50 + 70) / 3 = 170 / 3.
    instrument, model = _mixed_scale_instrument()
    one = contribution(instrument, model, {"seven": 4, "ten": 7})

    result = score_group(instrument, model, GroupAggregate.of([one]))

    assert result["d"].index == pytest.approx(170 / 3)
    assert one.dimension_scores["d"] == pytest.approx(170 / 3)
    assert "e" not in result


def test_model_total_weights_every_answered_question_of_the_model() -> None:
    # seven = 100 (weight 2), ten = 0, five: 3 on 1-5 = 50: (200 + 0 + 50) / 4 = 62.5.
    instrument, model = _mixed_scale_instrument()
    one = contribution(instrument, model, {"seven": 7, "ten": 0, "five": 3})

    assert score_group(instrument, model, GroupAggregate.of([one]))["all"].index == 62.5


def test_unknown_item_is_rejected_with_its_id(hme: tuple[Instrument, LeadershipModel]) -> None:
    with pytest.raises(UnknownItemError) as caught:
        contribution(*hme, {"hme-1": 3, "hme-10": 4})

    assert caught.value.item_id == "hme-10"


def test_value_off_the_item_scale_is_rejected_with_item_and_value(hme: tuple[Instrument, LeadershipModel]) -> None:
    with pytest.raises(ValueOutOfScaleError) as caught:
        contribution(*hme, {"hme-1": 3, "hme-2": 7})

    assert (caught.value.item_id, caught.value.value) == ("hme-2", 7)


def test_vet_ej_is_refused_on_hme_items_of_a_pulse_that_offers_it_elsewhere() -> None:
    instrument, model = shipped_instruments()["hjo-puls"], shipped_models()["hjo-ledarmodell"]

    with pytest.raises(ValueOutOfScaleError) as caught:
        contribution(instrument, model, {"hjo-us-1": 6, "hme-1": 6})

    assert caught.value.item_id == "hme-1"


def test_answers_to_another_model_of_the_instrument_are_left_out() -> None:
    instrument, models = shipped_instruments()["hjo-puls"], shipped_models()
    answers = {"hjo-ee-1": 5, "hme-4": 2, "hme-5": 3}

    for_hjo = contribution(instrument, models["hjo-ledarmodell"], answers)
    for_hme = contribution(instrument, models["hme"], answers)

    assert for_hjo.item_values == {"hjo-ee-1": 5}
    assert for_hme.item_values == {"hme-4": 2, "hme-5": 3}
    assert for_hme.dimension_scores == {"ledarskap": 37.5, "hme": 37.5}


def test_a_model_the_instrument_does_not_feed_is_refused() -> None:
    with pytest.raises(ValueError, match="does not feed"):
        contribution(shipped_instruments()["hme"], shipped_models()["ljungby-tillit"], {"hme-1": 3})


def test_removing_what_was_added_leaves_an_equal_aggregate_with_awkward_weights() -> None:
    instrument, model = _mixed_scale_instrument()
    weighted = instrument.model_copy(
        update={"items": tuple(i.model_copy(update={"weight": 0.1 + n * 0.2}) for n, i in enumerate(instrument.items))}
    )
    base = GroupAggregate.of(contribution(weighted, model, {"seven": v, "ten": 10 - v}) for v in range(1, 8))
    extra = contribution(weighted, model, {"seven": 3, "ten": 9, "five": 1})

    assert base.add(extra).remove(extra) == base


def test_removing_the_last_answer_of_a_value_drops_its_count() -> None:
    instrument, model = _mixed_scale_instrument()
    first = contribution(instrument, model, {"seven": 2})
    second = contribution(instrument, model, {"seven": 5, "ten": 1})

    after = GroupAggregate.of([first, second]).remove(second)

    assert after.item_counts == {"seven": {2: 1}}
    assert set(after.dimension_moments) == {"d", "all"}
    assert after.respondents == 1


def test_removing_a_contribution_that_was_never_added_is_refused() -> None:
    instrument, model = _mixed_scale_instrument()
    added = GroupAggregate.of([contribution(instrument, model, {"seven": 2})])

    with pytest.raises(ContributionNotInAggregateError):
        added.remove(contribution(instrument, model, {"seven": 3}))


def test_merging_groups_equals_aggregating_all_their_submissions(
    hme: tuple[Instrument, LeadershipModel],
) -> None:
    contributions = [contribution(*hme, answers) for answers in WORKED_EXAMPLE]

    merged = GroupAggregate.of(contributions[:2]).merge(GroupAggregate.of(contributions[2:]))

    assert merged == GroupAggregate.of(reversed(contributions))


def test_aggregate_survives_a_json_round_trip(worked_example: GroupAggregate) -> None:
    document = json.loads(json.dumps(worked_example.to_document()))

    assert GroupAggregate.from_document(document) == worked_example


def test_contribution_survives_a_json_round_trip(hme: tuple[Instrument, LeadershipModel]) -> None:
    original = contribution(*hme, WORKED_EXAMPLE[2])

    assert Contribution.from_document(json.loads(json.dumps(original.to_document()))) == original
