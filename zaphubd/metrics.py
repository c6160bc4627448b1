"""Prometheus metrics, on a registry the composition root owns (no module-level globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    """Every metric family the daemon exports; one instance per daemon."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        reg = self.registry
        self.http_requests = Counter(
            "zaphubd_http_requests_total",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=reg,
        )
        self.http_latency = Histogram(
            "zaphubd_http_request_duration_seconds",
            "HTTP request latency by route and method",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.jobs = Counter(
            "zaphubd_queue_jobs_total",
            "Jobs handled, by queue and outcome (ok, held, retry, dead, recovered)",
            ["queue", "outcome"],
            registry=reg,
        )
        self.job_latency = Histogram(
            "zaphubd_queue_job_duration_seconds",
            "Handler run time by queue",
            ["queue"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.queue_depth = Gauge(
            "zaphubd_queue_depth",
            "Jobs per queue and state (waiting, in_flight, delayed, dead)",
            ["queue", "state"],
            registry=reg,
        )
        self.send_backlog = Gauge(
            "zaphubd_send_backlog",
            "Pending sends by session (the most loaded ones, the rest as 'other') and state "
            "(queued, in_flight, retrying)",
            ["session", "state"],
            registry=reg,
        )
        self.send_oldest_age = Gauge(
            "zaphubd_send_oldest_queued_age_seconds",
            "Age of the oldest queued send, by session (as for zaphubd_send_backlog)",
            ["session"],
            registry=reg,
        )
        self.send_prefetched = Gauge(
            "zaphubd_send_prefetched",
            "Pending sends the lanes of this node hold in memory (capped by "
            "ZAPHUB_SEND_PREFETCH_TOTAL)",
            registry=reg,
        )
        self.event_streams = Gauge(
            "zaphubd_event_streams_open",
            "Event streams (Server-Sent Events) open on this node",
            registry=reg,
        )
        self.inbound_messages = Counter(
            "zaphubd_inbound_messages",
            "Inbound messages by outcome: stored, history (stored from a history sync), "
            "duplicate (seen before), undecryptable, unsupported, store_failed",
            ["outcome"],
            registry=reg,
        )
