"""Evaluation: every accepted tick batch goes through the alert engine once.

The poller hands over only fresh, guarded ticks (stale or wild ones never get here),
so this use case only runs the engine per symbol and counts what fired (for /stats
and the `altbot_alerts_fired_total` metric).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from alerts.domain.conditions import MCAP
from alerts.domain.market import BarValues, MarketCap, TickBatch
from alerts.storage.engine import Engine
from alerts.storage.keys import Keys
from alerts.usecases.stats import fired_today_field

log = logging.getLogger(__name__)


def no_count(fired: int) -> None:
    """`on_fired` when nothing outside Redis counts fired alerts."""


class Evaluation:
    """Runs the engine over a batch; `on_fired(n)` reports how many alerts fired."""

    def __init__(
        self,
        engine: Engine,
        redis: Any,
        keys: Keys,
        clock: Callable[[], float],
        on_fired: Callable[[int], None] = no_count,
    ) -> None:
        self.engine = engine
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self.on_fired = on_fired

    async def on_batch(self, batch: TickBatch) -> None:
        """Poller listener: one engine pass per accepted tick of the batch."""
        now = int(batch.fetched_at)
        fired = 0
        for t in batch.ticks:
            ratio = batch.volume_ratio.get(t.symbol)
            fired += await self.engine.on_tick(t.symbol, t.price, batch.fetched_at, now, ratio)
        await self._count(fired)

    async def on_series(self, symbol: str, values: Mapping[str, float], tick: float) -> None:
        """Bar closes and market-cap refreshes: one claim per series value, at `tick` (the
        bar's close time, or the fetch time), whatever the number of alerts on it."""
        fired, now = 0, int(self.clock())
        for series, value in values.items():
            fired += await self.engine.evaluate(symbol, series, value, tick, now)
        await self._count(fired)

    async def on_bar_values(self, bars: BarValues) -> None:
        """Bar-feed listener: indicator series at a bar close (or an intrabar tick)."""
        await self.on_series(bars.symbol, bars.values, bars.bar_close_ts)

    async def on_market_caps(self, caps: Mapping[str, MarketCap], fetched_at: float) -> None:
        """Market-cap feed listener: `mcap above 10B` conditions, at the fetch time."""
        for symbol, cap in caps.items():
            await self.on_series(symbol, {MCAP: cap.usd}, cap.fetched_at)

    async def _count(self, fired: int) -> None:
        if fired:
            self.on_fired(fired)
            await self.redis.hincrby(self.keys.stats, fired_today_field(self.clock()), fired)
            log.info("%d alerts fired", fired)
