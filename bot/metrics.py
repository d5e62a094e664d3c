"""Prometheus metrics, one registry per app so tests can build several apps."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    """Every metric altbot exports on /metrics."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.polls = Counter("altbot_polls", "Polls per feed", ["feed"], registry=r)
        self.poll_errors = Counter(
            "altbot_poll_errors", "Failed polls per feed and error", ["feed", "error"], registry=r
        )
        self.data_age = Gauge(
            "altbot_data_age_seconds", "Age of the last good data per feed", ["feed"], registry=r
        )
        self.commands = Counter(
            "altbot_commands", "Chat commands served", ["transport"], registry=r
        )
        self.alerts_fired = Counter(
            "altbot_alerts_fired", "Alerts claimed by the engine", registry=r
        )
        self.alerts_active = Gauge("altbot_alerts_active", "Stored alerts", registry=r)
        self.bad_records = Counter(
            "altbot_bad_records",
            "Corrupt records and wrong-typed keys the scripts skipped (each once per process)",
            registry=r,
        )
        self.outbox_depth = Gauge("altbot_outbox_depth", "Jobs in the outbox stream", registry=r)
        self.outbox_pending = Gauge("altbot_outbox_pending", "Jobs read but not acked", registry=r)
        self.deliveries = Counter(
            "altbot_deliveries", "Messages delivered", ["transport"], registry=r
        )
        self.dead_letters = Gauge(
            "altbot_dead_letters", "Jobs in the dead-letter stream (kept 7 days)", registry=r
        )
        self.dead_lettered_total = Counter(
            "altbot_dead_lettered", "Jobs this process moved to the dead-letter stream",
            registry=r,
        )  # fmt: skip
        self.rate_limited = Counter(
            "altbot_rate_limited", "429 answers received", ["service"], registry=r
        )
        self.stream_up = Gauge(
            "altbot_exchange_stream_up",
            "1 while exchange ticks come over the websocket",
            registry=r,
        )
        self.signal_checks = Counter(
            "altbot_signal_checks", "Signal detection runs (at most one per poll)", registry=r
        )
        self.chart_renders = Counter(
            "altbot_chart_renders",
            "Charts actually rendered (cache hits and shared renders not counted)",
            registry=r,
        )
        self.delivery_latency = Histogram(
            "altbot_delivery_latency_seconds",
            "From the tick that fired an alert to the message being sent",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )

    # ---- the `alerts.domain.telemetry.Telemetry` port -------------------------------------
    def poll_ok(self, feed: str) -> None:
        self.polls.labels(feed).inc()

    def poll_failed(self, feed: str, error: str) -> None:
        self.poll_errors.labels(feed, error).inc()

    def was_rate_limited(self, service: str) -> None:
        self.rate_limited.labels(service).inc()

    def stream_state(self, up: bool) -> None:
        self.stream_up.set(1 if up else 0)

    def delivered(self, latency_s: float | None) -> None:
        if latency_s is not None:
            self.delivery_latency.observe(max(0.0, latency_s))

    def dead_lettered(self, jobs: int) -> None:
        self.dead_lettered_total.inc(jobs)
