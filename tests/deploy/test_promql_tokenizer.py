"""The tokenizer the catalogue checks rely on: it must find every metric, and nothing that is not one."""

import pytest

from tests.deploy.promql import Matcher, PromQLTokenError, expression_problems, metric_names, selectors


def test_aggregation_grouping_labels_and_functions_are_not_taken_for_metrics() -> None:
    expr = 'histogram_quantile(0.95, sum by (job, le) (rate(foo_seconds_bucket{job=~"$job"}[$__rate_interval])))'
    assert metric_names(expr) == {"foo_seconds_bucket"}


def test_both_sides_of_a_binary_operation_with_vector_matching_are_found() -> None:
    expr = "sum by (job) (rate(a_total[5m])) / on (job) group_left (instance) b_total > bool 0.5 unless c offset 10m"
    assert metric_names(expr) == {"a_total", "b_total", "c"}


def test_aggregation_with_the_grouping_clause_after_its_argument_is_understood() -> None:
    assert metric_names("sum(rate(x_total[1m])) without (instance, pod)") == {"x_total"}


def test_string_arguments_and_durations_are_ignored() -> None:
    expr = 'label_replace(up{job="a"}, "dst", "$1", "src", "(not_a_metric)") and deriv(m:rec:sum[5m:1m]) > 1e3'
    assert metric_names(expr) == {"up", "m:rec:sum"}


def test_label_matchers_are_read_with_their_operators() -> None:
    [selector] = selectors('tempen_notifications_total{outcome=~"failed|in_doubt", channel!="email"}')
    assert selector.matchers == (Matcher("outcome", "=~", "failed|in_doubt"), Matcher("channel", "!=", "email"))


def test_a_selector_by_name_label_is_read_as_that_metric() -> None:
    [selector] = selectors('{__name__="up", job="ingest"}')
    assert selector.name == "up"
    assert selector.matchers == (Matcher("job", "=", "ingest"),)


def test_unbalanced_brackets_are_an_error_not_a_silent_pass() -> None:
    with pytest.raises(PromQLTokenError):
        selectors("sum(rate(x_total{job='a'[5m]))")


def test_a_metric_missing_from_the_catalogue_is_reported() -> None:
    assert expression_problems("rate(tempen_no_such_metric_total[5m])") == [
        "tempen_no_such_metric_total: not in deploy/metrics.yaml"
    ]


def test_a_histogram_is_known_by_its_bucket_sum_and_count_series() -> None:
    expr = (
        "rate(tempen_scoring_latency_seconds_sum[5m]) / rate(tempen_scoring_latency_seconds_count[5m])"
        ' + histogram_quantile(0.5, rate(tempen_scoring_latency_seconds_bucket{le="1"}[5m]))'
    )
    assert expression_problems(expr) == []


def test_a_label_the_metric_does_not_have_is_reported() -> None:
    assert expression_problems('tempen_outbox_backlog{topic="tempen.intake"}') == [
        "tempen_outbox_backlog: has no label 'topic' (it has ['instance', 'job'])"
    ]


def test_a_value_outside_a_closed_label_set_is_reported() -> None:
    problems = expression_problems('tempen_notifications_total{outcome=~"failed|in-doubt"}')
    assert problems == [
        "tempen_notifications_total: outcome='in-doubt' is not one of ['sent', 'retried', 'failed', 'in_doubt']"
    ]
