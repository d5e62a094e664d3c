"""Binance spot wire shapes (exchangeInfo entries, 24h tickers, klines, error bodies).

Kept apart from the server so the shapes can be read against Binance's docs in one place.
Numbers go out as fixed-point strings and errors as `{"code": -1121, "msg": ...}`, which is
what ccxt's binance parser and `handle_errors` expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fakes._data import DAY_MS

INTERVAL_MS = {
    "1s": 1_000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": 7 * DAY_MS,
    "1M": 30 * DAY_MS,
}

ERR_SYMBOL = {"code": -1121, "msg": "Invalid symbol."}
ERR_INTERVAL = {"code": -1120, "msg": "Invalid interval."}
ERR_ILLEGAL = {"code": -1100, "msg": "Illegal characters found in a parameter."}
ERR_COMBINATION = {"code": -1128, "msg": "Combination of optional parameters invalid."}
ERR_START_END = {"code": -1023, "msg": "Start time is greater than end time."}
ERR_NO_SYMBOL = {
    "code": -1102,
    "msg": "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.",
}
MSG_429 = (
    "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. "
    "Please use WebSocket Streams for live updates to avoid polling the API."
)
MSG_451 = (
    "Service unavailable from a restricted location according to 'b. Eligibility' in "
    "https://www.binance.com/en/terms. Please contact customer service if you believe you "
    "received this message in error."
)
MSG_500 = "Internal error; unable to process your request. Please try again."
HTML_502 = "<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"
HTML_504 = "<html><head><title>504 Gateway Time-out</title></head><body>504</body></html>"

RATE_LIMITS = [
    {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
    {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
    {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
]


def market_id(symbol: str) -> str:
    """ccxt "LINK/USDT" -> Binance "LINKUSDT" (ids pass through unchanged)."""
    return symbol.replace("/", "").upper()


def fmt(value: float, digits: int = 8) -> str:
    """Binance sends numbers as fixed-point strings."""
    return f"{value:.{digits}f}"


@dataclass(slots=True)
class TickerState:
    """24h statistics of one market; the wire ticker is derived from it."""

    last: float
    open: float
    high: float
    low: float
    quote_volume: float
    count: int = 150_000

    @property
    def volume(self) -> float:
        """Base volume implied by the quote volume at the average price."""
        avg = (self.open + self.last) / 2
        return self.quote_volume / avg if avg > 0 else 0.0


@dataclass(slots=True)
class MarketState:
    """One spot symbol as exchangeInfo lists it."""

    base: str
    quote: str
    tick: str = "0.01"
    step: str = "0.001"
    status: str = "TRADING"

    @property
    def id(self) -> str:
        return self.base + self.quote


def symbol_info(m: MarketState, price: float) -> dict[str, Any]:
    """One exchangeInfo `symbols` entry with every field ccxt's parse_market reads."""
    price = price or 1.0
    tick, step = fmt(float(m.tick)), fmt(float(m.step))
    filters: list[dict[str, Any]] = [
        {
            "filterType": "PRICE_FILTER",
            "minPrice": tick,
            "maxPrice": fmt(price * 1000),
            "tickSize": tick,
        },
        {"filterType": "LOT_SIZE", "minQty": step, "maxQty": "9000000.00000000", "stepSize": step},
        {"filterType": "ICEBERG_PARTS", "limit": 10},
        {
            "filterType": "MARKET_LOT_SIZE",
            "minQty": "0.00000000",
            "maxQty": fmt(1_000_000 / price),
            "stepSize": "0.00000000",
        },
        {
            "filterType": "TRAILING_DELTA",
            "minTrailingAboveDelta": 10,
            "maxTrailingAboveDelta": 2000,
            "minTrailingBelowDelta": 10,
            "maxTrailingBelowDelta": 2000,
        },
        {
            "filterType": "PERCENT_PRICE_BY_SIDE",
            "bidMultiplierUp": "5",
            "bidMultiplierDown": "0.2",
            "askMultiplierUp": "5",
            "askMultiplierDown": "0.2",
            "avgPriceMins": 5,
        },
        {
            "filterType": "NOTIONAL",
            "minNotional": "5.00000000",
            "applyMinToMarket": True,
            "maxNotional": "9000000.00000000",
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        },
        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
    ]
    return {
        "symbol": m.id,
        "status": m.status,
        "baseAsset": m.base,
        "baseAssetPrecision": 8,
        "quoteAsset": m.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": [
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT",
            "TAKE_PROFIT_LIMIT",
        ],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": m.base in ("BTC", "ETH"),
        "filters": filters,
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN", "TRD_GRP_004", "TRD_GRP_005", "TRD_GRP_006"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def ticker_24hr(
    mid: str, t: TickerState, tick: float, now_ms: int, *, rolling: bool = False
) -> dict[str, Any]:
    """The full 24h statistics object; the rolling-window variant lacks book/prev fields."""
    change = t.last - t.open
    pct = change / t.open * 100 if t.open else 0.0
    avg = (t.open + t.last + t.high + t.low) / 4
    out: dict[str, Any] = {
        "symbol": mid,
        "priceChange": fmt(change),
        "priceChangePercent": fmt(pct, 3),
        "weightedAvgPrice": fmt(avg),
        "prevClosePrice": fmt(t.open),
        "lastPrice": fmt(t.last),
        "lastQty": fmt(0.5),
        "bidPrice": fmt(max(t.last - tick, 0.0)),
        "bidQty": fmt(12.0),
        "askPrice": fmt(t.last),
        "askQty": fmt(8.0),
        "openPrice": fmt(t.open),
        "highPrice": fmt(t.high),
        "lowPrice": fmt(t.low),
        "volume": fmt(t.volume),
        "quoteVolume": fmt(t.quote_volume),
        "openTime": now_ms - DAY_MS,
        "closeTime": now_ms,
        "firstId": 400_000_000,
        "lastId": 400_000_000 + t.count - 1,
        "count": t.count,
    }
    if rolling:
        for key in ("prevClosePrice", "lastQty", "bidPrice", "bidQty", "askPrice", "askQty"):
            del out[key]
    return out


def kline_row(row: list[Any], span_ms: int) -> list[Any]:
    """[openTime, o, h, l, c, volume, closeTime, quoteVolume, trades, takerBase, takerQuote, 0]."""
    open_ms, o, h, lo, c, vol = row
    return [
        open_ms,
        fmt(o),
        fmt(h),
        fmt(lo),
        fmt(c),
        fmt(vol),
        open_ms + span_ms - 1,
        fmt(vol * c),
        1000,
        fmt(vol / 2),
        fmt(vol * c / 2),
        "0",
    ]


def error_body(status: int, now_ms: int) -> tuple[Any, str, dict[str, str]]:
    """(body, content type, headers) Binance or its CDN sends for an HTTP error status."""
    if status == 429:
        return {"code": -1003, "msg": MSG_429}, "application/json", {"Retry-After": "2"}
    if status == 418:
        msg = (
            f"Way too much request weight used; IP banned until {now_ms + 120_000}. "
            "Please use WebSocket Streams for live updates to avoid bans."
        )
        return {"code": -1003, "msg": msg}, "application/json", {"Retry-After": "120"}
    if status == 451:
        return {"code": 0, "msg": MSG_451}, "application/json", {}
    if status == 500:
        return {"code": -1001, "msg": MSG_500}, "application/json", {}
    if status == 502:
        return HTML_502, "text/html", {}
    if status == 503:
        return "Service Unavailable.", "text/plain", {}
    if status == 504:
        return HTML_504, "text/html", {}
    return {"code": -1000, "msg": "An unknown error occurred."}, "application/json", {}
