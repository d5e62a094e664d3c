"""What the lower layers report for metrics, as a port the composition root implements.

Feeds and the outbox say *what happened* (a poll failed, a message went out); the
Prometheus side (bot/metrics.py) decides how that is counted. `NO_TELEMETRY` keeps
tests and tools that do not scrape metrics free of the dependency.
"""

from __future__ import annotations

from typing import Protocol


class Telemetry(Protocol):
    """Events worth a metric, reported by feeds, the engine and delivery."""

    def poll_ok(self, feed: str) -> None:
        """A successful poll of `feed` (`exchange`, `ws`, `index`)."""

    def poll_failed(self, feed: str, error: str) -> None:
        """A failed poll, by error class name."""

    def was_rate_limited(self, service: str) -> None:
        """A 429-like answer from `service` (`exchange`, `telegram`, …)."""

    def stream_state(self, up: bool) -> None:
        """Whether exchange ticks come over the websocket right now."""

    def delivered(self, latency_s: float | None) -> None:
        """One job delivered; `latency_s` from the tick that caused it, when known."""

    def dead_lettered(self, jobs: int) -> None:
        """Jobs moved to the dead-letter stream (permanent error, or retries used up)."""


class NoTelemetry:
    """A `Telemetry` that records nothing."""

    def poll_ok(self, feed: str) -> None:
        return None

    def poll_failed(self, feed: str, error: str) -> None:
        return None

    def was_rate_limited(self, service: str) -> None:
        return None

    def stream_state(self, up: bool) -> None:
        return None

    def delivered(self, latency_s: float | None) -> None:
        return None

    def dead_lettered(self, jobs: int) -> None:
        return None


NO_TELEMETRY: Telemetry = NoTelemetry()
