"""Webhook metric families, registered on the daemon's own registry (see zaphubd.metrics)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from zaphubd.metrics import LATENCY_BUCKETS


class WebhookMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.attempts = Counter(
            "zaphubd_webhook_attempts_total",
            "Webhook delivery attempts by outcome (delivered, retry, failed)",
            ["outcome"],
            registry=registry,
        )
        self.attempt_latency = Histogram(
            "zaphubd_webhook_attempt_duration_seconds",
            "Webhook attempt duration, from request to answer (or error)",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.deferred = Counter(
            "zaphubd_webhook_deferred_total",
            "Deliveries put back unattempted because their host was congested",
            registry=registry,
        )
        self.held = Gauge(
            "zaphubd_webhook_held",
            "Deliveries waiting or running in the per-host lanes",
            registry=registry,
        )
