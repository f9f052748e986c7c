"""Metrics every service exports, on the service's own registry. Labels are low-cardinality only:
never a unit, respondent, tenant-internal id or e-mail address."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class CommonMetrics:
    """The metrics of the plumbing shared by all services (HTTP, consumer, outbox, DLQ)."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.http_requests = Counter(
            "tempen_http_requests_total",
            "HTTP requests, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "tempen_http_request_duration_seconds",
            "HTTP request latency, by route template.",
            ["route"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.consumed = Counter(
            "tempen_messages_consumed_total",
            "Kafka records processed and committed, by topic.",
            ["topic"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "tempen_dead_letters_total",
            "Records sent to a dead-letter topic, by source topic and reason.",
            ["topic", "reason"],
            registry=registry,
        )
        self.retries = Counter(
            "tempen_consumer_retries_total",
            "Batches handed back to Kafka for retry, by kind (transient, unexpected).",
            ["kind"],
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "tempen_consumer_lag",
            "Records behind the end of each partition this service consumes.",
            ["topic", "partition"],
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "tempen_outbox_backlog",
            "Outbox rows not yet acknowledged by the broker.",
            registry=registry,
        )
        self.outbox_oldest_age = Gauge(
            "tempen_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox row (0 when empty).",
            registry=registry,
        )
        self.outbox_published = Counter(
            "tempen_outbox_published_total",
            "Outbox rows published and acknowledged.",
            registry=registry,
        )
        self.outbox_republished = Counter(
            "tempen_outbox_republished_total",
            "Outbox rows published again because the broker lost them (a memory-only broker restarted).",
            registry=registry,
        )
        self.task_restarts = Counter(
            "tempen_background_task_restarts_total",
            "Background tasks (outbox relay, publisher, notifiers, sweeper) restarted after dying, by task.",
            ["task"],
            registry=registry,
        )
        self.task_up = Gauge(
            "tempen_background_task_up",
            "1 while a background task runs, 0 while it waits to be restarted after dying, by task.",
            ["task"],
            registry=registry,
        )
        self.consumer_last_progress = Gauge(
            "tempen_consumer_last_progress_timestamp_seconds",
            "When this service last committed a batch of the topic (Unix time); with lag above 0, a stalled consumer.",
            ["topic"],
            registry=registry,
        )
