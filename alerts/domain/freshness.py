"""When market data counts as stale: one rule for replies, alerts, signals, /stats, /healthz.

Data is stale when it is older than `STALE_PERIODS` poll periods of its feed, where the
period is what the feed can really keep: the configured interval, or the exchange
client's own throttle for the batched ticker request when that is longer (Binance
through ccxt: weight 16 × 50 ms = 0.8 s per request, whatever POLL_INTERVAL_SECONDS
says), and never less than `FLOOR_SECONDS`, so a busy moment or one slow answer never
turns fresh prices stale. Nothing is evaluated, signalled or shown as current on stale
data; replies say STALE instead.
"""

from __future__ import annotations

from dataclasses import dataclass

STALE_PERIODS = 3
FLOOR_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class FeedFreshness:
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


@dataclass(frozen=True, slots=True)
class Freshness:
    """The rule for both feeds: exchange prices and the R2K index."""

    prices: FeedFreshness
    index: FeedFreshness

    @classmethod
    def of(cls, poll_interval: float, index_interval: float, throttle: float = 0.0) -> Freshness:
        return cls(FeedFreshness(poll_interval, throttle), FeedFreshness(index_interval))

    @property
    def poll_period(self) -> float:
        return self.prices.period

    @property
    def price_max_age(self) -> float:
        return self.prices.max_age

    @property
    def index_max_age(self) -> float:
        return self.index.max_age

    def price_stale(self, fetched_at: float | None, now: float) -> bool:
        """A price (snapshot or last good exchange poll) fetched at `fetched_at`."""
        return self.prices.is_stale(fetched_at, now)

    def index_stale(self, fetched_at: float | None, now: float) -> bool:
        """The R2K history fetched at `fetched_at`."""
        return self.index.is_stale(fetched_at, now)
