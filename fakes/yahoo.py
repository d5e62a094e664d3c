"""A fake Yahoo Finance v8 chart API (`/v8/finance/chart/{symbol}`) for daily index bars.

Answers exactly the real shape::

    {"chart": {"result": [{"meta": {...}, "timestamp": [...],
                           "indicators": {"quote": [{"open": [], "high": [], "low": [],
                                                     "close": [], "volume": []}],
                                          "adjclose": [{"adjclose": []}]}}],
               "error": null}}

Behaviour copied from Yahoo: `null` inside the arrays for missing days; a window with no
bars omits `timestamp` and sends empty `quote`/`adjclose` objects; unknown symbols give 404
with `{"chart": {"result": null, "error": {"code": "Not Found", ...}}}`; a User-Agent
without "Mozilla" gets 429 `Too Many Requests` as plain text. `interval` may be 1d, 1wk or
1mo; `range` (1d, 5d, 1mo, ..., ytd, max) or `period1`/`period2` (unix seconds) choose the
window, relative to `now()` (override with `now_s`).

Fault modes (`fail_next` / `set_outage`): HTTP statuses (429 plain text, others Yahoo's
JSON error object), "timeout", "truncated", "disconnect", and "error_object": HTTP 200
whose body is `{"chart": {"result": null, "error": {...}}}`.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from fakes._base import Fault, Handler, PathFaultServer, json_response

__all__ = ["FakeYahoo"]

DAY_S = 86_400
Bar = tuple[int, float | None, float | None, float | None, float | None, int | None]
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
RANGE_DAYS = {"1mo": 31, "3mo": 92, "6mo": 183, "1y": 366, "2y": 731, "5y": 1827, "10y": 3653}
LAST_ROWS = {"1d": 1, "5d": 5}
HTTP_PHRASES = {400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
NAMES = {"^RUT": "Russell 2000", "^GSPC": "S&P 500", "^IXIC": "NASDAQ Composite"}


def chart_error(code: str, description: str) -> dict[str, Any]:
    """Yahoo's error envelope."""
    return {"chart": {"result": None, "error": {"code": code, "description": description}}}


@dataclass(slots=True)
class Series:
    """Daily bars of one symbol; o/h/l/volume are derived from the closes."""

    rows: list[tuple[int, float | None]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def bars(self) -> list[Bar]:
        """(ts, open, high, low, close, volume); a null close nulls the whole bar, like Yahoo."""
        out: list[Bar] = []
        prev: float | None = None
        for ts, close in self.rows:
            if close is None:
                out.append((ts, None, None, None, None, None))
                continue
            open_ = prev if prev is not None else close
            high = round(max(open_, close) * 1.0035, 2)
            low = round(min(open_, close) * 0.9965, 2)
            volume = 3_000_000_000 + (ts // DAY_S % 977) * 1_000_000
            out.append((ts, round(open_, 2), high, low, close, volume))
            prev = close
        return out


class FakeYahoo(PathFaultServer):
    """Yahoo chart API; state lives in `series` keyed by the plain symbol ("^RUT")."""

    def __init__(self, *, port: int = 0, hang_seconds: float = 30.0) -> None:
        super().__init__(port=port, hang_seconds=hang_seconds)
        self.series: dict[str, Series] = {}
        self.now_s: float | None = None
        self.require_browser_ua = True

    # ---- state API -------------------------------------------------------------------------
    def now(self) -> float:
        """The clock `range=` counts back from (real time unless `now_s` is set)."""
        return time.time() if self.now_s is None else self.now_s

    def set_history(
        self,
        symbol: str,
        rows: list[tuple[int, float | None]],
        *,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Replace the daily closes (unix seconds, close or None) of `symbol`."""
        self.series[symbol] = Series(sorted(rows, key=lambda r: r[0]), dict(meta or {}))

    def append_day(self, symbol: str, ts: int, close: float | None) -> None:
        """Add (or replace) one bar, e.g. today's new record close."""
        series = self.series.setdefault(symbol, Series())
        series.rows = [r for r in series.rows if r[0] != ts]
        series.rows.append((ts, close))
        series.rows.sort(key=lambda r: r[0])

    def set_meta(self, symbol: str, **fields: Any) -> None:
        """Override meta fields (e.g. regularMarketPrice) that are otherwise derived."""
        self.series[symbol].meta.update(fields)

    def remove_symbol(self, symbol: str) -> None:
        """From now on the symbol answers 404 Not Found."""
        self.series.pop(symbol, None)

    # ---- faults ----------------------------------------------------------------------------
    def _error_response(self, status: int, fault: Fault, request: web.Request) -> web.Response:
        if status == 429:
            return web.Response(status=429, text="Too Many Requests\r\n", content_type="text/plain")
        phrase = HTTP_PHRASES.get(status, "Internal Server Error")
        return json_response(chart_error(phrase, f"injected HTTP {status}"), status=status)

    async def _special_fault(
        self, fault: Fault, request: web.Request, handler: Handler
    ) -> web.StreamResponse | None:
        if fault.mode == "error_object":
            body = chart_error("Internal Server Error", "Backend error: data unavailable")
            return json_response(body, status=200)
        return None

    # ---- HTTP ------------------------------------------------------------------------------
    def _setup_routes(self, app: web.Application) -> None:
        app.router.add_get("/v8/finance/chart/{symbol}", self._chart)

    async def _chart(self, request: web.Request) -> web.Response:
        if self.require_browser_ua and "Mozilla" not in request.headers.get("User-Agent", ""):
            return web.Response(status=429, text="Too Many Requests\r\n", content_type="text/plain")
        symbol = request.match_info["symbol"]
        series = self.series.get(symbol)
        if series is None:
            desc = "No data found, symbol may be delisted"
            return json_response(chart_error("Not Found", desc), status=404)
        q = request.query
        interval = q.get("interval", "1d")
        if interval not in ("1d", "1wk", "1mo"):
            desc = f"Invalid input - interval={interval} is not supported by this fake"
            return json_response(chart_error("Bad Request", desc), status=400)
        bars = series.bars()
        rng = q.get("range", "")
        if "period1" in q or "period2" in q:
            try:
                p1 = int(q.get("period1", "0"))
                p2 = int(q.get("period2", str(int(self.now()))))
            except ValueError:
                desc = "Invalid input - period1 and period2 must be integers"
                return json_response(chart_error("Bad Request", desc), status=400)
            if p1 > p2:
                desc = (
                    "Invalid input - start date cannot be after end date. "
                    f"startDate = {p1}, endDate = {p2}"
                )
                return json_response(chart_error("Bad Request", desc), status=400)
            window = [b for b in bars if p1 <= b[0] < p2]
            rng = ""
        else:
            rng = rng or "1mo"
            if rng not in VALID_RANGES:
                desc = f"Invalid input - range={rng} is not supported. Valid ranges: {VALID_RANGES}"
                return json_response(chart_error("Bad Request", desc), status=400)
            window = self._range_window(bars, rng)
        before = [b for b in bars if window and b[0] < window[0][0] and b[4] is not None]
        window = _aggregate(window, interval)
        result = self._result(symbol, series, bars, window, before, interval, rng)
        return json_response({"chart": {"result": [result], "error": None}})

    def _range_window(self, bars: list[Any], rng: str) -> list[Any]:
        if rng == "max":
            return bars
        if rng in LAST_ROWS:
            return bars[-LAST_ROWS[rng] :]
        now = self.now()
        if rng == "ytd":
            year = dt.datetime.fromtimestamp(now, dt.UTC).year
            start = dt.datetime(year, 1, 1, tzinfo=dt.UTC).timestamp()
        else:
            start = now - RANGE_DAYS[rng] * DAY_S
        return [b for b in bars if b[0] >= start]

    def _result(
        self,
        symbol: str,
        series: Series,
        bars: list[Any],
        window: list[Any],
        before: list[Any],
        interval: str,
        rng: str,
    ) -> dict[str, Any]:
        """meta + arrays; meta is derived from the data, then `series.meta` overrides."""
        closes = [b for b in bars if b[4] is not None]
        last = closes[-1] if closes else None
        year_ago = (last[0] if last else 0) - 365 * DAY_S
        year = [b for b in closes if b[0] >= year_ago]
        prev_close = before[-1][4] if before else (window[0][4] if window else None)
        tz_off = -18000
        day0 = (last[0] // DAY_S * DAY_S) if last else 0
        period = {"timezone": "EST", "gmtoffset": tz_off}
        meta: dict[str, Any] = {
            "currency": "USD",
            "symbol": symbol,
            "exchangeName": "WCB" if symbol.startswith("^") else "NYQ",
            "fullExchangeName": "Cboe Indices" if symbol.startswith("^") else "NYSE",
            "instrumentType": "INDEX" if symbol.startswith("^") else "EQUITY",
            "firstTradeDate": bars[0][0] if bars else None,
            "regularMarketTime": (last[0] + 23_400) if last else None,
            "hasPrePostMarketData": False,
            "gmtoffset": tz_off,
            "timezone": "EST",
            "exchangeTimezoneName": "America/New_York",
            "regularMarketPrice": last[4] if last else None,
            "fiftyTwoWeekHigh": max((b[2] for b in year), default=None),
            "fiftyTwoWeekLow": min((b[3] for b in year), default=None),
            "regularMarketDayHigh": last[2] if last else None,
            "regularMarketDayLow": last[3] if last else None,
            "regularMarketVolume": last[5] if last else 0,
            "longName": NAMES.get(symbol, symbol),
            "shortName": NAMES.get(symbol, symbol),
            "chartPreviousClose": prev_close,
            "priceHint": 2,
            "currentTradingPeriod": {
                "pre": {**period, "start": day0 + 32_400, "end": day0 + 52_200},
                "regular": {**period, "start": day0 + 52_200, "end": day0 + 75_600},
                "post": {**period, "start": day0 + 75_600, "end": day0 + 90_000},
            },
            "dataGranularity": interval,
            "range": rng,
            "validRanges": VALID_RANGES,
        }
        meta.update(series.meta)
        result: dict[str, Any] = {"meta": meta}
        if not window:
            result["indicators"] = {"quote": [{}], "adjclose": [{}]}
            return result
        result["timestamp"] = [b[0] for b in window]
        quote = {
            "open": [b[1] for b in window],
            "high": [b[2] for b in window],
            "low": [b[3] for b in window],
            "close": [b[4] for b in window],
            "volume": [b[5] for b in window],
        }
        result["indicators"] = {"quote": [quote], "adjclose": [{"adjclose": quote["close"]}]}
        return result


def _aggregate(bars: list[Any], interval: str) -> list[Any]:
    """Weekly/monthly bars from daily ones (first open, max high, min low, last close)."""
    if interval == "1d" or not bars:
        return bars

    def key(ts: int) -> tuple[int, int]:
        day = dt.datetime.fromtimestamp(ts, dt.UTC)
        if interval == "1mo":
            return (day.year, day.month)
        iso = day.isocalendar()
        return (iso.year, iso.week)

    groups: dict[tuple[int, int], list[Any]] = {}
    for b in bars:
        groups.setdefault(key(b[0]), []).append(b)
    out = []
    for group in groups.values():
        real = [b for b in group if b[4] is not None]
        if not real:
            out.append((group[0][0], None, None, None, None, None))
            continue
        out.append(
            (
                group[0][0],
                real[0][1],
                max(b[2] for b in real),
                min(b[3] for b in real),
                real[-1][4],
                sum(b[5] for b in real),
            )
        )
    return out
