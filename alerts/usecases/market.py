"""Read-only market questions the chat core and the signal detector ask: prices with
their freshness, the regime, the stored history and what it says about the thesis.

Everything here reads the store only (no exchange calls), so a burst of commands never
competes with the poller for the exchange's rate limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from alerts.domain.backtest import R2K, History, closes_of, history_of, run_backtest
from alerts.domain.freshness import FeedFreshness, Freshness
from alerts.domain.market import DailyClose, MarketCap, Universe
from alerts.domain.regime import Regime, classify, index_stats
from alerts.storage.keys import MCAP_FEED
from alerts.storage.market_caps import MarketCaps
from alerts.storage.market_store import MarketStore, Snapshot


@dataclass(frozen=True, slots=True)
class CapReading:
    """A coin's stored market cap and what the feed's health says about it."""

    value: MarketCap | None
    stale: bool  # no value, or older than the feed's staleness limit
    unreachable: bool  # the feed's last refresh failed
    ever_fetched: bool  # the feed has had at least one good refresh
    source: str  # where the values come from, for attribution ("CoinGecko")


class MarketView:
    """Prices, regime and history from the store, judged by the one freshness rule."""

    def __init__(
        self,
        store: MarketStore,
        universe: Universe,
        freshness: Freshness,
        clock: Callable[[], float],
        caps: MarketCaps,
        caps_freshness: FeedFreshness,
        caps_source: str,
    ) -> None:
        self.store = store
        self.universe = universe
        self.freshness = freshness
        self.clock = clock
        self.caps = caps
        self.caps_freshness = caps_freshness
        self.caps_source = caps_source

    async def market_cap(self, base: str) -> CapReading:
        """The market cap of `base` (e.g. LINK) as last fetched, judged by the feed's rule:
        older than three refresh intervals counts as stale."""
        value = await self.caps.get(base)
        status = await self.store.feed_status(MCAP_FEED)
        fetched_at = None if value is None else value.fetched_at
        return CapReading(
            value=value,
            stale=self.caps_freshness.is_stale(fetched_at, self.clock()),
            unreachable=status.consecutive_errors > 0,
            ever_fetched=status.last_ok is not None,
            source=self.caps_source,
        )

    async def fresh_snapshot(self, symbol: str) -> tuple[Snapshot | None, bool]:
        """The snapshot and whether it is stale (a missing one counts as stale)."""
        snap = await self.store.snapshot(symbol)
        if snap is None:
            return None, True
        return snap, self.freshness.price_stale(snap.fetched_at, self.clock())

    async def regime(self) -> tuple[Regime, float | None]:
        """The current regime and the age in seconds of the R2K data behind it."""
        rows, fetched_at = await self.store.index()
        age = None if fetched_at is None else self.clock() - fetched_at
        return await self.regime_of(rows), age

    def index_stale(self, age: float | None) -> bool:
        """R2K data of this age (None: never fetched) is stale."""
        return age is None or age > self.freshness.index_max_age

    async def regime_of(self, rows: Sequence[DailyClose]) -> Regime:
        """The regime for these R2K rows and the stored coin and BTC history."""
        coins: dict[str, list[float]] = {}
        for base in self.universe.coins:
            candles = await self.store.daily(self.universe.symbol(base))
            coins[base] = [c.close for c in candles]
        btc = [c.close for c in await self.store.daily(self.universe.btc)]
        return classify(index_stats(rows), coins, btc)

    async def history(self) -> History:
        """The longest daily history the store holds: the backtest cache or the poller's."""
        symbols = self.universe.coin_symbols
        closes: dict[str, list[DailyClose]] = {}
        for symbol in [self.universe.btc, *symbols]:
            cached = await self.store.closes(symbol) or []
            recent = closes_of(await self.store.daily(symbol))
            closes[symbol] = cached if len(cached) > len(recent) else recent
        rows, _ = await self.store.index()
        cached_r2k = await self.store.closes(R2K) or []
        r2k = rows if len(rows) >= len(cached_r2k) else cached_r2k
        return history_of(r2k, closes, self.universe.btc, symbols)

    async def evidence_line(self) -> str:
        """One line of what history says about the thesis, computed off the event loop."""
        result = await asyncio.to_thread(run_backtest, await self.history())
        return result.evidence_line()
