from prometheus_client import CollectorRegistry, Counter, Histogram

from tempen_shared.metrics import LATENCY_BUCKETS, CommonMetrics


class ScoringMetrics(CommonMetrics):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry, "scoring")
        self.scores_published = Counter(
            "tempen_scores_published_total", "Score events published (publishable groups only).", registry=registry
        )
        self.suppressed = Counter(
            "tempen_groups_suppressed_total",
            "Score rows withheld by the anonymity rule, by reason.",
            ["reason"],
            registry=registry,
        )
        self.latency = Histogram(
            "tempen_scoring_latency_seconds",
            "From ingest accepting a submission to its score being durable.",
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.submissions = Counter(
            "tempen_scored_submissions_total",
            "Submissions applied to the aggregates, by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.fenced_batches = Counter(
            "tempen_scoring_fenced_batches_total",
            "Batches refused whole because another consumer had claimed one of their partitions since"
            " (a rebalance this consumer had not yet heard of); its new owner applies them.",
            registry=registry,
        )
