"""A fake Binance spot REST API that real `ccxt.async_support.binance` talks to unmodified.

Pointing ccxt at it (what `point_ccxt_at` does)::

    ex = ccxt.async_support.binance({"enableRateLimit": False})
    point_ccxt_at(ex, fake.url)
    # 1. every URL string in ex.urls["api"] gets scheme+host replaced by the fake's,
    #    e.g. https://api.binance.com/api/v3 -> http://127.0.0.1:PORT/api/v3;
    # 2. ex.options["fetchMarkets"]["types"] = ["spot"]  (ccxt 4.5 shape: a dict with
    #    "types" and "loadAllOptions"; the old list shape is only a fallback) so
    #    load_markets() asks /api/v3/exchangeInfo only, not /fapi/v1 or /dapi/v1;
    # 3. fetchMargins/fetchCurrencies off: they only matter with API keys (sapi calls).

Endpoints: /api/v3/ping, /time, /exchangeInfo, /ticker/24hr, /ticker, /ticker/price,
/ticker/bookTicker, /klines. Errors use Binance's `{"code": -1121, "msg": ...}` bodies.

Klines follow the fake's clock (`now_ms`; `freeze_at` stops it): a bar is served once it
has opened, so the newest one served is the forming bar (its close time still ahead),
as on Binance. `seed_bars` fills every interval, `set_bars` / `append_bar` /
`set_forming` shape the closes a test needs (an RSI push, an intrabar wick).
Paths the fake does not serve answer 404 and land in `unknown_paths`.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

from fakes._base import Fault, PathFaultServer, json_response
from fakes._binance_bars import KlineBook
from fakes._binance_wire import (
    ERR_COMBINATION,
    ERR_ILLEGAL,
    ERR_INTERVAL,
    ERR_NO_SYMBOL,
    ERR_START_END,
    ERR_SYMBOL,
    INTERVAL_MS,
    RATE_LIMITS,
    MarketState,
    TickerState,
    error_body,
    fmt,
    kline_row,
    market_id,
    symbol_info,
    ticker_24hr,
)
from fakes._data import DEFAULT_MARKETS, decimals, generate_daily_klines

__all__ = ["FakeBinance", "market_id", "point_ccxt_at"]


class FakeBinance(KlineBook, PathFaultServer):
    """Binance spot public REST; state lives in `markets`, `tickers`, `klines`."""

    def __init__(
        self, *, port: int = 0, history_days: int = 0, seed: int = 7, hang_seconds: float = 30.0
    ) -> None:
        super().__init__(port=port, hang_seconds=hang_seconds)
        self.markets: dict[str, MarketState] = {}
        self.tickers: dict[str, TickerState] = {}
        self.klines: dict[tuple[str, str], list[list[Any]]] = {}
        self.ticker_overrides: dict[str, dict[str, Any]] = {}
        self.unknown_paths: list[str] = []
        self.time_offset_ms = 0
        self.frozen_ms: int | None = None
        self._seed = seed
        self._weight = 0
        self._weight_minute = 0
        for base, (price, tick, step, qv) in DEFAULT_MARKETS.items():
            self.add_market(base, "USDT", price=price, tick=tick, step=step, quote_volume=qv)
        if history_days:
            self.seed_klines(history_days)

    # ---- state API -------------------------------------------------------------------------
    def now_ms(self) -> int:
        """Server clock (shift it with `time_offset_ms`, or stop it with `freeze_at`)."""
        if self.frozen_ms is not None:
            return self.frozen_ms
        return int(time.time() * 1000) + self.time_offset_ms

    def freeze_at(self, seconds: float) -> None:
        """Stop the server clock at `seconds` (unix): tests step bar closes by hand."""
        self.frozen_ms = int(seconds * 1000)

    def add_market(
        self,
        base: str,
        quote: str = "USDT",
        *,
        price: float = 1.0,
        tick: str = "0.0001",
        step: str = "0.01",
        quote_volume: float = 1e7,
        status: str = "TRADING",
    ) -> str:
        """List a spot market (returns its Binance id, e.g. "PEPEUSDT")."""
        market = MarketState(base.upper(), quote.upper(), tick, step, status)
        self.markets[market.id] = market
        self.tickers[market.id] = TickerState(price, price, price, price, quote_volume)
        return market.id

    def set_market_status(self, symbol: str, status: str) -> None:
        """E.g. "BREAK" to emulate a halted or delisted pair (still listed, not active)."""
        self.markets[market_id(symbol)].status = status

    def remove_market(self, symbol: str) -> None:
        """Delist: later requests for it answer -1121 Invalid symbol."""
        mid = market_id(symbol)
        self.markets.pop(mid, None)
        self.tickers.pop(mid, None)

    def set_price(
        self,
        symbol: str,
        last: float,
        *,
        change_pct: float | None = None,
        quote_volume: float | None = None,
    ) -> None:
        """Move the last price; `change_pct` re-anchors the 24h open, else the open stays.

        The current 1d candle (if one covers now) follows the price, like on Binance.
        """
        mid = market_id(symbol)
        if mid not in self.tickers:
            raise KeyError(f"unknown market {symbol}; add_market() it first")
        t = self.tickers[mid]
        t.last = last
        if change_pct is not None:
            t.open = last / (1 + change_pct / 100) if change_pct > -100 else 0.0
            t.high, t.low = max(t.open, last), min(t.open, last)
        else:
            t.high, t.low = max(t.high, last), min(t.low, last)
        if quote_volume is not None:
            t.quote_volume = quote_volume
        t.count += 1
        for (kmid, interval), rows in self.klines.items():
            row = self._forming(rows, interval) if kmid == mid else None
            if row is not None:
                row[2], row[3], row[4] = max(row[2], last), min(row[3], last), last

    def patch_ticker(self, symbol: str, **fields: Any) -> None:
        """Force raw wire fields of the 24h ticker (e.g. lastPrice="0.00000000")."""
        self.ticker_overrides.setdefault(market_id(symbol), {}).update(fields)

    def set_klines(
        self,
        symbol: str,
        candles: list[tuple[int, float, float, float, float, float]],
        *,
        interval: str = "1d",
    ) -> None:
        """Replace the candles (open_ms, o, h, l, c, volume) of one symbol and interval."""
        rows = sorted(([int(c[0]), *map(float, c[1:6])] for c in candles), key=lambda r: r[0])
        self.klines[(market_id(symbol), interval)] = rows

    def seed_klines(self, days: int = 420) -> None:
        """Deterministic daily history for every market, ending at its current price.

        The 24h open becomes yesterday's close, so tickers show a plausible change.
        """
        for i, (mid, t) in enumerate(sorted(self.tickers.items())):
            vol = 0.03 if mid.startswith(("BTC", "ETH")) else 0.05
            candles = generate_daily_klines(
                t.last,
                days,
                end_ms=self.now_ms(),
                seed=self._seed * 1000 + i,
                vol=vol,
                quote_volume=t.quote_volume,
                digits=decimals(self.markets[mid].tick),
            )
            self.set_klines(mid, candles)
            if days > 1:
                t.open = candles[-2][4]
                t.high = max(t.open, t.last, candles[-1][2])
                t.low = min(t.open, t.last, candles[-1][3])

    # ---- faults (fail_next / set_outage: PathFaultServer) ------------------------------
    def _error_response(self, status: int, fault: Fault, request: web.Request) -> web.Response:
        """Bodies and headers as Binance (or its CDN) sends them for that status."""
        payload, ctype, headers = error_body(status, self.now_ms())
        if ctype == "application/json":
            return json_response(payload, status=status, headers=headers)
        return web.Response(status=status, text=payload, content_type=ctype, headers=headers)

    # ---- HTTP ------------------------------------------------------------------------------
    def _setup_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/v3/ping", self._ping)
        r.add_get("/api/v3/time", self._time)
        r.add_get("/api/v3/exchangeInfo", self._exchange_info)
        r.add_get("/api/v3/ticker/24hr", self._ticker_24hr)
        r.add_get("/api/v3/ticker", self._ticker_rolling)
        r.add_get("/api/v3/ticker/price", self._ticker_price)
        r.add_get("/api/v3/ticker/bookTicker", self._book_ticker)
        r.add_get("/api/v3/klines", self._klines)
        r.add_route("*", "/{tail:.*}", self._not_found)

    def _reply(self, data: Any, weight: int, status: int = 200) -> web.Response:
        """JSON plus the x-mbx-used-weight headers Binance adds to every answer."""
        minute = self.now_ms() // 60_000
        if minute != self._weight_minute:
            self._weight_minute, self._weight = minute, 0
        self._weight += weight
        used = str(self._weight)
        headers = {"x-mbx-used-weight": used, "x-mbx-used-weight-1m": used}
        return json_response(data, status=status, headers=headers)

    def _error(self, err: dict[str, Any], status: int = 400) -> web.Response:
        return self._reply(err, 1, status)

    async def _not_found(self, request: web.Request) -> web.Response:
        self.unknown_paths.append(request.path)
        html = "<html><body><h1>404 Not Found</h1></body></html>"
        return web.Response(status=404, text=html, content_type="text/html")

    async def _ping(self, request: web.Request) -> web.Response:
        return self._reply({}, 1)

    async def _time(self, request: web.Request) -> web.Response:
        return self._reply({"serverTime": self.now_ms()}, 1)

    def _symbols_param(self, request: web.Request) -> list[str] | web.Response | None:
        """`symbol=X` or `symbols=["X","Y"]` -> ids; an error response if malformed/unknown."""
        q = request.query
        if "symbol" in q and "symbols" in q:
            return self._error(ERR_COMBINATION)
        if "symbol" in q:
            ids = [q["symbol"].upper()]
        elif "symbols" in q:
            try:
                ids = json.loads(q["symbols"])
            except ValueError:
                ids = None
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                return self._error(ERR_ILLEGAL)
        else:
            return None
        if any(i not in self.markets for i in ids):
            return self._error(ERR_SYMBOL)
        return ids

    def _ticker(self, mid: str, *, rolling: bool = False) -> dict[str, Any]:
        tick = float(self.markets[mid].tick)
        out = ticker_24hr(mid, self.tickers[mid], tick, self.now_ms(), rolling=rolling)
        out.update(self.ticker_overrides.get(mid, {}))
        return out

    async def _exchange_info(self, request: web.Request) -> web.Response:
        ids = self._symbols_param(request)
        if isinstance(ids, web.Response):
            return ids
        chosen = [self.markets[i] for i in (ids or sorted(self.markets))]
        info = {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "rateLimits": RATE_LIMITS,
            "exchangeFilters": [],
            "symbols": [symbol_info(m, self.tickers[m.id].last) for m in chosen],
        }
        return self._reply(info, 20)

    async def _ticker_24hr(self, request: web.Request) -> web.Response:
        ids = self._symbols_param(request)
        if isinstance(ids, web.Response):
            return ids
        if "symbol" in request.query and ids:
            return self._reply(self._ticker(ids[0]), 2)
        chosen = ids if ids is not None else sorted(self.tickers)
        return self._reply([self._ticker(i) for i in chosen], 80 if ids is None else 40)

    async def _ticker_rolling(self, request: web.Request) -> web.Response:
        ids = self._symbols_param(request)
        if isinstance(ids, web.Response):
            return ids
        if ids is None:
            return self._error(ERR_NO_SYMBOL)
        objs = [self._ticker(i, rolling=True) for i in ids]
        return self._reply(objs[0] if "symbol" in request.query else objs, 4 * len(ids))

    async def _ticker_price(self, request: web.Request) -> web.Response:
        ids = self._symbols_param(request)
        if isinstance(ids, web.Response):
            return ids
        chosen = ids or sorted(self.tickers)
        objs = [{"symbol": i, "price": fmt(self.tickers[i].last)} for i in chosen]
        return self._reply(objs[0] if "symbol" in request.query else objs, 2)

    async def _book_ticker(self, request: web.Request) -> web.Response:
        ids = self._symbols_param(request)
        if isinstance(ids, web.Response):
            return ids
        keys = ("symbol", "bidPrice", "bidQty", "askPrice", "askQty")
        objs = [{k: self._ticker(i)[k] for k in keys} for i in ids or sorted(self.tickers)]
        return self._reply(objs[0] if "symbol" in request.query else objs, 2)

    async def _klines(self, request: web.Request) -> web.Response:
        """Binance semantics: with startTime the first `limit` bars after it, else the last."""
        q = request.query
        mid = q.get("symbol", "").upper()
        if not mid:
            return self._error(ERR_NO_SYMBOL)
        if mid not in self.markets:
            return self._error(ERR_SYMBOL)
        interval = q.get("interval", "")
        if interval not in INTERVAL_MS:
            return self._error(ERR_INTERVAL)
        try:
            limit = min(max(int(q.get("limit", "500")), 1), 1000)
            start = int(q["startTime"]) if "startTime" in q else None
            end = int(q["endTime"]) if "endTime" in q else None
        except ValueError:
            return self._error(ERR_ILLEGAL)
        if start is not None and end is not None and start > end:
            return self._error(ERR_START_END)
        now = self.now_ms()
        rows = [
            r
            for r in self.klines.get((mid, interval), [])
            if r[0] <= now and (start is None or r[0] >= start) and (end is None or r[0] <= end)
        ]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return self._reply([kline_row(r, INTERVAL_MS[interval]) for r in rows], 2)


def point_ccxt_at(exchange: Any, base_url: str) -> Any:
    """Aim a ccxt binance instance at `base_url` (test glue; production has its own).

    Rewrites scheme+host of every string in `exchange.urls["api"]` (nested dicts too) and
    limits `load_markets()` to spot so it never asks fapi/dapi/sapi.
    """
    target = urlsplit(base_url)

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: rewrite(v) for k, v in node.items()}
        if isinstance(node, str) and "://" in node:
            parts = urlsplit(node)
            return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, ""))
        return node

    exchange.urls["api"] = rewrite(exchange.urls["api"])
    current = exchange.options.get("fetchMarkets")
    fetch_markets = dict(current) if isinstance(current, dict) else {}
    fetch_markets["types"] = ["spot"]
    fetch_markets.setdefault("loadAllOptions", False)
    exchange.options["fetchMarkets"] = fetch_markets
    exchange.options["fetchMargins"] = False
    exchange.options["fetchCurrencies"] = False
    return exchange
