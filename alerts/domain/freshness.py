"""When market data counts as stale: one rule for replies, alerts, signals, /stats, /healthz.

Data is stale when it is older than `STALE_PERIODS` poll periods, where the period is
what the feed can really keep: the configured interval, or the exchange client's own
throttle for the batched ticker request when that is longer (Binance through ccxt:
weight 16 × 50 ms = 0.8 s per request, whatever POLL_INTERVAL_SECONDS says), and never
less than `FLOOR_SECONDS`, so a busy moment or one slow answer never turns fresh prices
stale. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

STALE_PERIODS = 3
FLOOR_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Freshness:
    """The staleness rule of one feed: its configured interval and its least real period."""

    interval: float
    throttle: float = 0.0

    @property
    def period(self) -> float:
        """The poll period the feed can really keep."""
        return max(self.interval, self.throttle)

    @property
    def max_age(self) -> float:
        """Data older than this is stale."""
        return max(FLOOR_SECONDS, STALE_PERIODS * self.period)

    @property
    def interval_too_short(self) -> bool:
        """The configured interval is shorter than the feed can poll (warned at start-up)."""
        return self.interval < self.throttle

    def is_stale(self, fetched_at: float | None, now: float) -> bool:
        """True when there is no data, or it is older than `max_age`."""
        return fetched_at is None or now - fetched_at > self.max_age
