"""The websocket half of the ccxt adapter: ccxt.pro `watch_tickers` as a plain tick stream.

Like bot/exchange.py this is the ccxt boundary: errors leave as the domain errors of
`alerts.domain.market`, tickers as `Ticker`s. Each `run()` is one session on a fresh ccxt.pro
instance that shares the REST adapter's loaded markets (no second markets download);
the session closes its sockets when it ends, so a new symbol set is simply a new session
and ccxt's per-instance stream bookkeeping never piles up.

On Binance, ccxt subscribes `<symbol>@miniTicker` streams on `/ws/<n>`: each market's
24h mini ticker, pushed about once a second while it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import ccxt.pro as ccxt_pro

from alerts.domain.market import FeedUnavailable, MarketError
from bot.feeds.exchange import (
    CcxtExchange,
    ExchangeChain,
    rewrite_api_urls,
    ticker_from_ccxt,
    translate_error,
)
from bot.feeds.poller import reraise_swallowed_cancel
from bot.feeds.realtime import OnTicks

log = logging.getLogger(__name__)

CHUNK = 200  # symbols per subscription: ccxt's per-stream limit for Binance
SILENCE_SECONDS = 60.0  # no tick for this long on a subscription = a dead socket


class CcxtTickerStream:
    """Streams tickers of the active exchange of a chain (or of one exchange)."""

    def __init__(
        self,
        source: CcxtExchange | ExchangeChain,
        *,
        ws_url: str | None = None,
        ws_url_for: str | None = None,
        silence_seconds: float = SILENCE_SECONDS,
        chunk: int = CHUNK,
    ) -> None:
        self.source = source
        self.ws_url = ws_url
        self.ws_url_for = ws_url_for  # EXCHANGE_WS_URL applies to the configured exchange only
        self.silence_seconds = silence_seconds
        self.chunk = chunk
        self._has: dict[str, bool] = {}

    def _active(self) -> CcxtExchange:
        return self.source.active if isinstance(self.source, ExchangeChain) else self.source

    @property
    def name(self) -> str:
        return self._active().name

    def supported(self) -> bool:
        """Whether the active exchange has a ticker websocket in ccxt.pro."""
        name = self.name
        if name not in self._has:
            cls = getattr(ccxt_pro, name, None) if name in ccxt_pro.exchanges else None
            self._has[name] = bool(cls is not None and cls().has.get("watchTickers"))
        return self._has[name]

    def _instance(self, active: CcxtExchange) -> Any:
        ex: Any = getattr(ccxt_pro, active.name)({"enableRateLimit": True})
        urls = ex.urls["api"]
        if active.api_url:  # REST calls a ccxt.pro method may make go where the poller's go
            urls = {
                k: v if k == "ws" else rewrite_api_urls(v, active.api_url) for k, v in urls.items()
            }
        if self.ws_url and active.name == (self.ws_url_for or active.name):
            urls["ws"] = rewrite_api_urls(urls["ws"], self.ws_url)
        ex.urls["api"] = urls
        if not active.client.markets:
            raise FeedUnavailable("the exchange markets are not loaded yet")
        ex.set_markets_from_exchange(active.client)
        return ex

    async def run(self, symbols: Sequence[str], on_ticks: OnTicks) -> None:
        """Stream `symbols` into `on_ticks` until the socket fails (a `MarketError`)."""
        active = self._active()
        if not self.supported():
            raise FeedUnavailable(f"{active.name} has no ticker websocket")
        ex = self._instance(active)
        parts = [list(symbols[i : i + self.chunk]) for i in range(0, len(symbols), self.chunk)]
        last_tick = [time.monotonic()]  # shared: a chunk of quiet markets is not a dead socket
        tasks = [asyncio.create_task(self._watch(ex, p, on_ticks, last_tick)) for p in parts]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
            raise FeedUnavailable("the exchange stream ended")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await ex.close()

    async def _watch(
        self, ex: Any, symbols: list[str], on_ticks: OnTicks, last_tick: list[float]
    ) -> None:
        """One subscription; hands over every market whose ticker changed since the last wake.

        ccxt resolves a watch with one ticker, but a burst handled in one read updates
        `ex.tickers` several times: reading that cache (a new dict per update) loses none.
        """
        seen: dict[str, object] = {}
        while True:
            reraise_swallowed_cancel()
            try:
                # Not wait_for: on 3.11 it swallows a cancel that lands as a tick resolves.
                async with asyncio.timeout(self.silence_seconds):
                    await ex.watch_tickers(symbols)
            except TimeoutError:
                if time.monotonic() - last_tick[0] < self.silence_seconds:
                    continue  # other subscriptions of this session still tick
                raise FeedUnavailable(
                    f"no ticks from the {ex.id} stream for {self.silence_seconds:.0f}s"
                ) from None
            except MarketError:
                raise
            except Exception as exc:
                raise translate_error(exc) from exc
            cache = ex.tickers or {}
            now = time.time()
            fresh = []
            for symbol in symbols:
                item = cache.get(symbol)
                if item is not None and item is not seen.get(symbol):
                    seen[symbol] = item
                    ticker = ticker_from_ccxt(symbol, item, now)
                    if ticker is not None:
                        fresh.append(ticker)
            if fresh:
                last_tick[0] = time.monotonic()
                on_ticks(fresh)
