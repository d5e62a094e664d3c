"""The one staleness rule, used by replies, health, signals, /stats and alert creation.

Data is stale once it is older than `STALE_INTERVALS` of the feed's poll period:
one missed poll is noise, three mean the feed is not answering. Nothing is evaluated,
signalled or shown as current on stale data; replies say STALE instead.
"""

from __future__ import annotations

from dataclasses import dataclass

STALE_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class Freshness:
    """Poll periods of the exchange and index feeds, and what counts as stale for each."""

    poll_period: float
    index_period: float

    @property
    def price_max_age(self) -> float:
        return STALE_INTERVALS * self.poll_period

    @property
    def index_max_age(self) -> float:
        return STALE_INTERVALS * self.index_period

    def price_stale(self, fetched_at: float | None, now: float) -> bool:
        """A price (snapshot or last good exchange poll) fetched at `fetched_at`."""
        return fetched_at is None or now - fetched_at > self.price_max_age

    def index_stale(self, fetched_at: float | None, now: float) -> bool:
        """The R2K history fetched at `fetched_at`."""
        return fetched_at is None or now - fetched_at > self.index_max_age
