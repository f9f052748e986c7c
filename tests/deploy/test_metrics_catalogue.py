"""deploy/metrics.yaml is well formed, and agrees with the metrics defined in code that it can see here."""

import importlib
from typing import Any

import pytest
from faststream.prometheus.container import MetricsContainer
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tempen_shared.metrics import CommonMetrics
from tempen_shared.topics import all_topic_names
from tests.deploy.promql import catalogue_metrics, load_catalogue
from tests.deploy.services import SERVICES as DEPLOYED

SERVICES = set(DEPLOYED)
TYPES = {"counter", "gauge", "histogram"}
CATALOGUE = load_catalogue()["metrics"]


def _exported(metric: Counter | Gauge | Histogram) -> tuple[str, str, tuple[str, ...]]:
    """(name as scraped, type, label names) of a prometheus_client metric."""
    # prometheus_client keeps these only in underscored attributes; it has done so since 0.4.
    kind: str = metric._type
    name: str = metric._name
    labels: tuple[str, ...] = tuple(metric._labelnames)
    return (f"{name}_total" if kind == "counter" else name), kind, labels


def _catalogued(name: str) -> tuple[str, str, tuple[str, ...]]:
    entry = catalogue_metrics().get(name)
    assert entry is not None, f"{name} is exported but not in deploy/metrics.yaml"
    return entry["name"], entry["type"], tuple(entry["labels"])


def test_catalogue_names_are_unique() -> None:
    names = [m["name"] for m in CATALOGUE]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda m: m["name"])
def test_catalogue_entry_is_complete_and_consistent(entry: dict[str, Any]) -> None:
    assert set(entry) <= {"name", "type", "labels", "services", "help", "values"}
    assert entry["type"] in TYPES
    assert entry["help"].strip()
    assert entry["services"], "a metric nobody exports"
    assert set(entry["services"]) <= SERVICES
    assert isinstance(entry["labels"], list)
    assert not {"job", "instance", "le"} & set(entry["labels"]), "labels Prometheus or histograms add themselves"
    if entry["type"] == "counter":
        assert entry["name"].endswith("_total"), "counters are catalogued by their scraped name, with _total"
    else:
        assert not entry["name"].endswith(("_total", "_bucket", "_count", "_sum"))
    for label, values in (entry.get("values") or {}).items():
        assert label in entry["labels"]
        assert values, f"{label}: an empty closed set"


def test_every_topic_named_in_the_catalogue_is_in_the_topic_registry() -> None:
    topics = set(all_topic_names())
    for entry in CATALOGUE:
        named = set((entry.get("values") or {}).get("topic", []))
        assert named <= topics, f"{entry['name']}: {sorted(named - topics)} are not tempen topics"


def test_common_metrics_of_every_service_are_catalogued_with_their_type_and_labels() -> None:
    common = CommonMetrics(CollectorRegistry(), "test")
    metrics = [m for m in vars(common).values() if isinstance(m, Counter | Gauge | Histogram)]
    assert len(metrics) >= 10
    for metric in metrics:
        exported = _exported(metric)
        assert exported == _catalogued(exported[0])
        assert set(catalogue_metrics()[exported[0]]["services"]) == SERVICES


def test_faststream_middleware_metrics_are_catalogued_with_their_type_and_labels() -> None:
    container = MetricsContainer(CollectorRegistry(), metrics_prefix="faststream", custom_label_names=[])
    metrics = [getattr(container, slot) for slot in MetricsContainer.__slots__ if not slot.startswith("_")]
    assert len(metrics) == 9
    for metric in metrics:
        exported = _exported(metric)
        assert exported == _catalogued(exported[0])


SERVICE_METRICS = {
    "ingest": ("tempen_ingest.metrics", "IngestMetrics"),
    "scoring": ("tempen_scoring.metrics", "ScoringMetrics"),
    "alerts": ("tempen_alerts.metrics", "AlertsMetrics"),
}


@pytest.mark.parametrize("service", sorted(SERVICE_METRICS))
def test_a_service_exports_exactly_the_tempen_metrics_the_catalogue_lists_for_it(service: str) -> None:
    module, cls = SERVICE_METRICS[service]
    metrics_class = getattr(importlib.import_module(module), cls)
    instance = metrics_class(CollectorRegistry())
    exported = {_exported(m) for m in vars(instance).values() if isinstance(m, Counter | Gauge | Histogram)}
    catalogued = {
        (m["name"], m["type"], tuple(m["labels"]))
        for m in CATALOGUE
        if service in m["services"] and m["name"].startswith("tempen_")
    }
    assert exported == catalogued
