"""Which bar series (`rsi14@1h`, `ema9-ema21@1h`, …) each symbol's alerts use.

The bar feed computes exactly these at each bar close, so its cost follows the number
of distinct series, never the number of alerts. Creating an alert registers its series
(idempotent); the feed's `in_use` forgets series no index, wait set or leg zset holds any
more, in one script so a concurrent create cannot lose its registration.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis

from alerts.domain.indicators import is_bar_series
from alerts.storage.keys import Keys
from alerts.storage.scripts import load_lua


class BarSeriesRegistry:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis: Any = redis
        self.keys = keys
        self._in_use = redis.register_script(load_lua("series_in_use"))

    async def register(self, symbol: str, series: Iterable[str]) -> None:
        """Note the bar series an alert about to be created uses (tick series are skipped)."""
        bars = {key: 1 for key in series if is_bar_series(key)}
        if bars:
            await self.redis.hset(self.keys.bar_series(symbol), mapping=bars)

    async def in_use(self, symbol: str) -> list[str]:
        """The symbol's bar series some alert uses (and the unused ones forgotten)."""
        k = self.keys
        prefixes = [k.index(symbol, "", ""), k.rearm(symbol, "", ""), k.legs(symbol, "")]
        argv = [p.removesuffix(":") for p in prefixes[:2]] + [prefixes[2]]
        found = await self._in_use(keys=[k.bar_series(symbol)], args=argv)
        return sorted(str(s) for s in found)
