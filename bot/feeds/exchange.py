"""The one exchange adapter: ccxt (async) behind the `TickerSource` protocol.

Every ccxt error (and the plain exceptions ccxt lets through on truncated JSON)
is translated here into the few domain errors of `alerts.domain.market`, the way
freqtrade's exchange layer does, so nothing above this module imports ccxt.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import ccxt
import ccxt.async_support as ccxt_async
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from alerts.domain.indicators import Timeframe
from alerts.domain.market import (
    BadData,
    Candle,
    FeedUnavailable,
    GeoBlocked,
    MarketError,
    RateLimited,
    Ticker,
    UnknownSymbol,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
DAY_MS = 86_400_000
OHLCV_PAGE = 1000  # rows per fetch_ohlcv answer (Binance's cap)
# The REST endpoint behind each exchange's batched fetch_tickers (api, method, path), for
# its ccxt throttle cost; exchanges not listed count as one weight unit per request.
TICKERS_ENDPOINTS = {"binance": ("public", "get", "ticker/24hr")}


def rewrite_api_urls(urls: Any, base_url: str) -> Any:
    """Replace scheme and host of every URL string in ccxt's nested `urls['api']`."""
    if isinstance(urls, dict):
        return {key: rewrite_api_urls(value, base_url) for key, value in urls.items()}
    if isinstance(urls, str) and "://" in urls:
        target = urlsplit(base_url)
        parts = urlsplit(urls)
        return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))
    return urls


def translate_error(exc: BaseException) -> MarketError:
    """Map a ccxt (or stray) exception to a domain error with a user-safe message."""
    text = str(exc)
    if isinstance(exc, MarketError):
        return exc
    if isinstance(exc, ccxt.BadSymbol):
        return UnknownSymbol("the exchange does not list that market")
    # ccxt says "binance GET <url> 451 <reason> <body>": the status is a word of its own
    # (a port or a symbol id in the URL may contain 451 too)
    if "451" in text.split() or "restricted location" in text.lower():
        return GeoBlocked("the exchange refuses this location (HTTP 451)")
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return RateLimited("the exchange is rate-limiting us")
    if isinstance(exc, ccxt.RequestTimeout):
        return FeedUnavailable("the exchange timed out")
    if isinstance(exc, ccxt.ExchangeNotAvailable | ccxt.NetworkError | OSError):
        return FeedUnavailable("the exchange is unavailable")
    if isinstance(exc, ccxt.BaseError):
        return FeedUnavailable(f"exchange error ({type(exc).__name__})")
    return BadData(f"the exchange sent data we could not read ({type(exc).__name__})")


class CcxtExchange:
    """ccxt-backed exchange with bounded retries and error translation."""

    def __init__(
        self,
        exchange_id: str,
        *,
        api_url: str | None = None,
        timeout_ms: int = 10_000,
        attempts: int = 3,
        max_backoff: float = 4.0,
        rate_limit: bool = True,
    ) -> None:
        if exchange_id not in ccxt_async.exchanges:
            raise ValueError(f"EXCHANGE {exchange_id!r} is not a ccxt exchange id")
        self.name = exchange_id
        cls = getattr(ccxt_async, exchange_id)
        options: dict[str, Any] = {"fetchCurrencies": False}
        if exchange_id == "binance":
            options["fetchMarkets"] = {"types": ["spot"]}
        config = {"enableRateLimit": rate_limit, "timeout": timeout_ms, "options": options}
        self._ex: Any = cls(config)
        self.api_url = api_url  # the websocket stays off for a rewritten REST API (bot/realtime)
        if api_url:
            self._ex.urls["api"] = rewrite_api_urls(self._ex.urls["api"], api_url)
        self._attempts = attempts
        self._max_backoff = max_backoff
        self._markets: set[str] = set()

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run one ccxt call with bounded exponential backoff + jitter on transient errors.

        Geo-blocks, unknown symbols and bad data are not retried: retrying cannot help.
        """
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(multiplier=0.2, max=self._max_backoff, jitter=0.2),
            retry=retry_if_exception_type((FeedUnavailable, RateLimited)),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                try:
                    return await fn()
                except Exception as exc:
                    error = translate_error(exc)
                    if isinstance(error, RateLimited) and error.retry_after is None:
                        error.retry_after = self._header_retry_after()
                    raise error from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _header_retry_after(self) -> float | None:
        """ccxt keeps Retry-After only in the last response's headers, not in the error."""
        headers = getattr(self._ex, "last_response_headers", None) or {}
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None

    async def load(self, wanted: Sequence[str] = ()) -> list[str]:
        markets = await self._call(lambda: self._ex.load_markets())
        self._markets = set(markets)
        return [s for s in wanted if s not in self._markets]

    def lists(self, symbol: str) -> bool:
        return symbol in self._markets

    @property
    def symbols(self) -> set[str]:
        return set(self._markets)

    async def fetch_tickers(self, symbols: Sequence[str]) -> dict[str, Ticker]:
        listed = [s for s in symbols if s in self._markets]
        if not listed:
            return {}
        raw: dict[str, Any] = await self._call(lambda: self._ex.fetch_tickers(listed))
        out: dict[str, Ticker] = {}
        now = time.time()
        for symbol in listed:
            ticker = ticker_from_ccxt(symbol, raw.get(symbol), now)
            if ticker is not None:
                out[symbol] = ticker
        return out

    @property
    def batch_seconds(self) -> float:
        """How long ccxt's throttle spaces two batched ticker requests (cost × rateLimit).

        Binance: `ticker/24hr` with a symbols list costs 16 units of 50 ms, so 0.8 s.
        """
        if not self._ex.enableRateLimit:
            return 0.0
        api, method, path = TICKERS_ENDPOINTS.get(self.name, ("", "", ""))
        config = self._ex.api.get(api, {}).get(method, {}).get(path) if api else None
        cost = 1.0
        if config is not None:
            params = {"symbols": "[]"}
            cost = float(self._ex.calculate_rate_limiter_cost(api, method, path, params, config))
        return cost * float(self._ex.rateLimit) / 1000

    @property
    def client(self) -> Any:
        """The ccxt instance, for the websocket stream to share its loaded markets."""
        return self._ex

    async def fetch_daily(self, symbol: str, days: int) -> list[Candle]:
        """Daily candles, oldest first; rows without a usable price are left out."""
        bars = await self._bars(symbol, "1d", DAY_MS, days)
        return [c for c in bars if c.close > 0 and not math.isnan(c.open + c.high + c.low)]

    async def fetch_bars(self, symbol: str, timeframe: Timeframe, count: int) -> list[Candle]:
        """The `count` newest bars of `timeframe` (the last may be forming), broken rows
        kept as NaN so the indicator code refuses them rather than skipping a hole."""
        return await self._bars(symbol, timeframe.value, timeframe.seconds * 1000, count)

    async def _bars(self, symbol: str, timeframe: str, span_ms: int, count: int) -> list[Candle]:
        """The newest page, then older pages backwards: exchanges cap one answer
        (Binance: 1000 rows), and a page without `since` is the newest one."""
        if symbol not in self._markets:
            raise UnknownSymbol(f"{symbol} is not listed on {self.name}")
        rows: dict[int, list[Any]] = {}
        since: int | None = None
        try:
            while len(rows) < count:
                limit = min(OHLCV_PAGE, count - len(rows))
                start = since
                batch: list[list[Any]] = await self._call(
                    lambda start=start, limit=limit: self._ex.fetch_ohlcv(  # type: ignore[misc]
                        symbol, timeframe, since=start, limit=limit
                    )
                )
                oldest = min(rows, default=None)
                fresh = [r for r in batch or [] if oldest is None or int(r[0]) < oldest]
                for row in fresh:
                    rows[int(row[0])] = row
                if not fresh or len(batch) < limit:
                    break
                since = min(rows) - min(OHLCV_PAGE, count - len(rows)) * span_ms
            return [candle_of(rows[ts]) for ts in sorted(rows)[-count:]]
        except (IndexError, TypeError, ValueError) as exc:  # a malformed row: BadData
            raise translate_error(exc) from exc

    async def close(self) -> None:
        await self._ex.close()


def candle_of(row: Sequence[Any]) -> Candle:
    """A ccxt OHLCV row `[ms, o, h, l, c, v]` as a `Candle` (a missing price is NaN)."""
    o, h, lo, c = (_float_or_nan(row[i]) for i in range(1, 5))
    volume = _float_or_none(row[5]) if len(row) > 5 else None
    return Candle(int(row[0]) // 1000, o, h, lo, c, volume or 0.0)


def _float_or_nan(value: object) -> float:
    found = _float_or_none(value)
    return math.nan if found is None else found


def ticker_from_ccxt(symbol: str, item: Any, now: float) -> Ticker | None:
    """A ccxt ticker dict (REST or websocket) as a `Ticker`; None when it has no price."""
    if not item:
        return None
    price = item.get("last")
    if price is None:
        return None  # ccxt turns a zero last price into None: not a usable tick
    ts = item.get("timestamp")
    return Ticker(
        symbol=symbol,
        price=float(price),
        change_pct=_float_or_none(item.get("percentage")),
        quote_volume=_float_or_none(item.get("quoteVolume")),
        ts=float(ts) / 1000 if ts else now,
    )


def _float_or_none(value: object) -> float | None:
    if value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


class ExchangeChain:
    """The configured exchange with fallbacks tried in order (EXCHANGE_FALLBACKS).

    It moves to the next exchange when the current one is geo-blocked (451) or
    cannot load its markets; ticks then come from the first that works.
    """

    def __init__(self, exchanges: Sequence[CcxtExchange]) -> None:
        self._all = list(exchanges)
        self._current = 0
        self.name = self._all[0].name

    @property
    def active(self) -> CcxtExchange:
        return self._all[self._current]

    @property
    def primary(self) -> CcxtExchange:
        """The configured exchange (EXCHANGE), whatever the fallbacks did since."""
        return self._all[0]

    async def _switch(self, exc: MarketError) -> bool:
        if self._current + 1 >= len(self._all):
            return False
        log.warning(
            "%s failed (%s); falling back to %s",
            self.active.name,
            exc,
            self._all[self._current + 1].name,
        )
        self._current += 1
        self.name = self.active.name
        return True

    async def load(self, wanted: Sequence[str]) -> list[str]:
        while True:
            try:
                return await self.active.load(wanted)
            except (GeoBlocked, FeedUnavailable) as exc:
                if not await self._switch(exc):
                    raise

    def lists(self, symbol: str) -> bool:
        return self.active.lists(symbol)

    @property
    def batch_seconds(self) -> float:
        """The slowest throttle of the chain: any of them may end up polling."""
        return max(ex.batch_seconds for ex in self._all)

    @property
    def symbols(self) -> set[str]:
        return self.active.symbols

    async def fetch_tickers(self, symbols: Sequence[str]) -> dict[str, Ticker]:
        try:
            return await self.active.fetch_tickers(symbols)
        except GeoBlocked as exc:
            if await self._switch(exc):
                await self.active.load(symbols)
                return await self.active.fetch_tickers(symbols)
            raise

    async def fetch_daily(self, symbol: str, days: int) -> list[Candle]:
        return await self.active.fetch_daily(symbol, days)

    async def fetch_bars(self, symbol: str, timeframe: Timeframe, count: int) -> list[Candle]:
        return await self.active.fetch_bars(symbol, timeframe, count)

    async def close(self) -> None:
        for ex in self._all:
            await ex.close()
