"""The market-cap feed: every tracked coin's market cap from CoinGecko, every 10 minutes.

One `/coins/markets` request per refresh covers every tracked symbol (the default coins,
BTC and ETH, and the extra symbols the poller polls). Tickers are not unique on
CoinGecko (dozens of tokens call themselves LINK), so each ticker maps to one coin id:
declared ones for the default coins, otherwise resolved once through `symbols=` by the
largest market cap and kept in Redis, so the choice never flips. A failed refresh
writes nothing: the last good values stay with their real fetch time and readers say
how old they are. The cadence is kept across restarts and replicas by the feed's
`last_ok` in Redis. Runs on the leader only (bot/app.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from alerts.domain.market import CoinMarket, MarketCap, MarketCapSource, MarketError, RateLimited
from alerts.domain.telemetry import NO_TELEMETRY, Telemetry
from alerts.storage.keys import MCAP_FEED as FEED
from alerts.storage.market_caps import MarketCaps
from alerts.storage.market_store import MarketStore
from bot.feeds.poller import Poller, reraise_swallowed_cancel

log = logging.getLogger(__name__)

REFRESH_SECONDS = 600.0
CHECK_SECONDS = 30.0  # how often the loop looks whether a refresh is due (reads one hash)
RETRY_BASE_SECONDS = 60.0  # after a failure: 2, 4, then 5 minutes (or Retry-After)
# CoinGecko ids of the default coins and the references: no lookup, no collision.
KNOWN_IDS: Mapping[str, str] = {
    "AVAX": "avalanche-2",
    "BCH": "bitcoin-cash",
    "ADA": "cardano",
    "LINK": "chainlink",
    "HBAR": "hedera-hashgraph",
    "BTC": "bitcoin",
    "ETH": "ethereum",
}

# After each good refresh: market symbol (`LINK/USDT`, as alerts name it) -> its value,
# only values fetched by this refresh, and the refresh's fetch time.
RefreshListener = Callable[[Mapping[str, MarketCap], float], Awaitable[None]]


def largest_by_symbol(rows: Sequence[CoinMarket]) -> dict[str, CoinMarket]:
    """Per ticker, the coin with the largest market cap; tickers whose coins report no
    market cap are left out (nothing to choose by, so nothing is remembered)."""
    best: dict[str, CoinMarket] = {}
    for row in rows:
        if row.market_cap is None:
            continue
        current = best.get(row.symbol)
        if current is None or row.market_cap > (current.market_cap or 0.0):
            best[row.symbol] = row
    return best


class MarketCapFeed:
    """Refreshes market caps of the tracked symbols and tells listeners what it fetched."""

    def __init__(
        self,
        source: MarketCapSource,
        caps: MarketCaps,
        store: MarketStore,
        symbols: Callable[[], Sequence[str]],
        *,
        interval: float = REFRESH_SECONDS,
        clock: Callable[[], float] = time.time,
        telemetry: Telemetry = NO_TELEMETRY,
        known_ids: Mapping[str, str] = KNOWN_IDS,
        on_refresh: Sequence[RefreshListener] = (),
    ) -> None:
        self.source = source
        self.caps = caps
        self.store = store
        self.symbols = symbols  # market symbols (`LINK/USDT`), e.g. the poller's current list
        self.interval = interval
        self.clock = clock
        self.telemetry = telemetry
        self.known_ids = dict(known_ids)
        self.listeners = list(on_refresh)  # e.g. alert evaluation of `mcap` conditions
        self.refreshes = 0
        self._failures = 0
        self._next_try = float("-inf")  # after a failure: not before this
        self._covered: set[str] | None = None  # bases asked for by the last good refresh
        self._no_coin: set[str] = set()  # tickers CoinGecko has no priced coin for

    def _bases(self) -> dict[str, str]:
        """Tracked market symbol -> base ticker, in the poller's order."""
        return {s: s.split("/")[0] for s in dict.fromkeys(self.symbols())}

    async def due(self) -> bool:
        """A refresh is due when the interval since the last good one has passed (by the
        stored time, so restarts and a new leader keep the cadence), or a symbol became
        tracked since; after a failure, not before the backoff ends."""
        now = self.clock()
        if now < self._next_try:
            return False
        status = await self.store.feed_status(FEED)
        if status.last_ok is None or now - status.last_ok >= self.interval:
            return True
        if self._covered is None:  # a fresh process: what is stored counts as covered
            self._covered = set(await self.caps.all())
        wanted = set(self._bases().values()) - self._no_coin
        return not wanted <= self._covered

    async def refresh_if_due(self) -> bool:
        """One refresh when due; True when one was attempted."""
        if not await self.due():
            return False
        await self.refresh_once()
        return True

    async def refresh_once(self) -> dict[str, MarketCap]:
        """Fetch, store and announce the market caps of the tracked symbols (by market
        symbol). A failure is recorded in the feed's health, then raised."""
        now = self.clock()
        bases = self._bases()
        try:
            ids = await self.coin_ids(list(dict.fromkeys(bases.values())))
            rows = await self.source.markets(sorted(set(ids.values())))
        except MarketError as exc:
            self._failures += 1
            delay = Poller.backoff(RETRY_BASE_SECONDS, self._failures, exc.retry_after)
            self._next_try = now + delay
            self.telemetry.poll_failed(FEED, type(exc).__name__)
            if isinstance(exc, RateLimited):
                self.telemetry.was_rate_limited(FEED)
            await self.store.feed_error(FEED, str(exc), now)
            log.warning("market caps: refresh failed (%s), next try in %.0fs", exc, delay)
            raise
        by_id = {row.coin_id: row for row in rows}
        values: dict[str, MarketCap] = {}
        for base, coin_id in ids.items():
            row = by_id.get(coin_id)
            if row is not None and row.market_cap is not None:
                values[base] = MarketCap(base, coin_id, row.market_cap, row.rank, now)
        await self.caps.save(values.values())
        await self.store.feed_ok(FEED, now)
        self._failures, self._next_try = 0, float("-inf")
        self._covered = set(bases.values())
        self.refreshes += 1
        self.telemetry.poll_ok(FEED)
        fetched = {symbol: values[base] for symbol, base in bases.items() if base in values}
        for listener in self.listeners:
            await listener(fetched, now)
        return fetched

    async def coin_ids(self, bases: Sequence[str]) -> dict[str, str]:
        """Base ticker -> coin id: declared, stored, or resolved now (one request for all
        new tickers) and stored for good."""
        stored = await self.caps.coin_ids()
        ids: dict[str, str] = {}
        unresolved = []
        for base in bases:
            coin_id = self.known_ids.get(base) or stored.get(base)
            if coin_id:
                ids[base] = coin_id
            elif base not in self._no_coin:
                unresolved.append(base)
        if not unresolved:
            return ids
        best = largest_by_symbol(await self.source.by_symbols([b.lower() for b in unresolved]))
        for base in unresolved:
            row = best.get(base.lower())
            if row is None:
                self._no_coin.add(base)
                log.info("market caps: CoinGecko has no priced coin with ticker %s", base)
                continue
            ids[base] = await self.caps.keep_coin_id(base, row.coin_id)
            log.info("market caps: %s is CoinGecko's %r", base, ids[base])
        return ids

    async def run(self) -> None:
        """Refresh whenever due, until cancelled; failures are recorded, never raised."""
        while True:
            try:
                await self.refresh_if_due()
            except MarketError:
                pass  # recorded in the feed's health and logged; backoff set
            except Exception:
                log.exception("market-cap refresh crashed; continuing")
            reraise_swallowed_cancel()
            await asyncio.sleep(min(CHECK_SECONDS, self.interval))
