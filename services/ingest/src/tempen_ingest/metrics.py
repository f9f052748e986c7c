from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tempen_shared.metrics import LATENCY_BUCKETS, CommonMetrics


class IngestMetrics(CommonMetrics):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry, "ingest")
        self.submissions = Counter(
            "tempen_submissions_total", "Submissions received, by outcome.", ["outcome"], registry=registry
        )
        self.rejected = Counter(
            "tempen_submissions_rejected_total", "Rejected submissions, by reason.", ["reason"], registry=registry
        )
        self.fetches = Counter(
            "tempen_response_fetches_total",
            "Responses fetched from survey platforms' APIs (SurveyMonkey, Qualtrics), by platform and outcome"
            " (stored, skipped, retried, dead_lettered).",
            ["platform", "outcome"],
            registry=registry,
        )
        self.fetch_failures = Counter(
            "tempen_response_fetch_failures_total",
            "Failed fetches of a response, by platform and reason (timeout, unreachable, http_429, http_5xx, ...).",
            ["platform", "reason"],
            registry=registry,
        )
        self.fetch_duration = Histogram(
            "tempen_response_fetch_duration_seconds",
            "Time the platform's API took to answer one fetch, by platform.",
            ["platform"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.fetch_backlog = Gauge(
            "tempen_response_fetch_backlog",
            "Responses named by webhooks and not yet fetched and settled.",
            registry=registry,
        )
