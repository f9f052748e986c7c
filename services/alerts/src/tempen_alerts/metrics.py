from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tempen_shared.metrics import LATENCY_BUCKETS, CommonMetrics

# Finer than the shared buckets between 0.25 and 5 s, where the decision latency's target (1 s) and its
# steady-load values lie (docs/benchmarks.md).
DECISION_BUCKETS = tuple(sorted({*LATENCY_BUCKETS, 0.75, 1.25, 1.5, 1.75, 2.0, 3.0, 3.5, 4.0, 4.5}))


class AlertsMetrics(CommonMetrics):
    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry, "alerts")
        self.decision_latency = Histogram(
            "tempen_alert_decision_latency_seconds",
            "From a score being computed to the alert decision on it.",
            registry=registry,
            buckets=DECISION_BUCKETS,
        )
        self.transitions = Counter(
            "tempen_alert_transitions_total",
            "Alert state changes, by the state reached.",
            ["to_state"],
            registry=registry,
        )
        self.fenced_batches = Counter(
            "tempen_alerts_fenced_batches_total",
            "Batches of score events refused whole because another consumer had claimed one of their partitions"
            " since (a rebalance this consumer had not yet heard of); its new owner applies them.",
            registry=registry,
        )
        self.plan_reminders = Counter(
            "tempen_plan_reminders_total",
            "Reminders queued because an action plan's due date passed and it was not done.",
            registry=registry,
        )
        self.open_alerts = Gauge("tempen_alerts_open", "Active alerts, by state.", ["state"], registry=registry)
        self.notifications = Counter(
            "tempen_notifications_total",
            "Notification deliveries, by channel and outcome.",
            ["channel", "outcome"],
            registry=registry,
        )
        # Why notifications ended failed: permanent (refused for good), smtputf8_unsupported (an address with
        # å, ä, ö before the @ and a relay without SMTPUTF8), invalid_address, attempts_exhausted.
        self.notification_failures = Counter(
            "tempen_notification_failures_total",
            "Notifications that ended failed, by channel and reason.",
            ["channel", "reason"],
            registry=registry,
        )
        self.delivery_latency = Histogram(
            "tempen_notification_delivery_latency_seconds",
            "From an alert transition to its notification delivered.",
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
