from prometheus_client import CollectorRegistry, Counter

from tempen_shared.metrics import CommonMetrics


class IngestMetrics(CommonMetrics):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry, "ingest")
        self.submissions = Counter(
            "tempen_submissions_total", "Submissions received, by outcome.", ["outcome"], registry=registry
        )
        self.rejected = Counter(
            "tempen_submissions_rejected_total", "Rejected submissions, by reason.", ["reason"], registry=registry
        )
