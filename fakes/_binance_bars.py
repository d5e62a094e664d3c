"""Bar helpers of the fake Binance: shape the klines a test needs on any interval.

Rows are `[open_ms, o, h, l, c, volume]` in `klines[(market id, interval)]`; the server
serves a bar once the fake's clock reached its open, so the newest served is forming.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fakes._binance_wire import INTERVAL_MS, TickerState, market_id
from fakes._data import BAR_INTERVALS, bars_from_closes, random_closes


class KlineBook:
    """Mixed into `FakeBinance`, which provides the state and the clock."""

    klines: dict[tuple[str, str], list[list[Any]]]
    tickers: dict[str, TickerState]
    _seed: int

    now_ms: Callable[[], int]
    set_klines: Callable[..., None]

    def _forming(self, rows: list[list[Any]], interval: str) -> list[Any] | None:
        """The row of `rows` still open at the server's now, if any."""
        now = self.now_ms()
        opened = [r for r in rows if r[0] <= now]
        if opened and now < opened[-1][0] + INTERVAL_MS[interval]:
            return opened[-1]
        return None

    def set_bars(
        self, symbol: str, interval: str, closes: list[float], *, end_s: float | None = None
    ) -> None:
        """Bars of `interval` with these closes (open = previous close), the last one the
        bar open at `end_s` (default: the server's now), so it is the forming bar."""
        span = INTERVAL_MS[interval]
        end_ms = self.now_ms() if end_s is None else int(end_s * 1000)
        first = end_ms - end_ms % span - (len(closes) - 1) * span
        self.set_klines(symbol, bars_from_closes(closes, first, span), interval=interval)

    def append_bar(
        self, symbol: str, interval: str, close: float, *, high: float = 0.0, low: float = 0.0
    ) -> None:
        """One more bar after the newest (it opens when the server clock reaches it)."""
        rows = self.klines[(market_id(symbol), interval)]
        prev = rows[-1][4]
        high, low = max(high, prev, close), min(low or close, prev, close)
        rows.append([rows[-1][0] + INTERVAL_MS[interval], prev, high, low, close, 100.0])

    def set_forming(
        self, symbol: str, interval: str, close: float, *, high: float = 0.0, low: float = 0.0
    ) -> None:
        """Move the newest bar (the forming one): its close and, for a wick, its high/low."""
        row = self.klines[(market_id(symbol), interval)][-1]
        row[2] = max(row[2], high, close)
        row[3] = min(row[3], low or close, close)
        row[4] = close

    def seed_bars(self, count: int = 600, intervals: tuple[str, ...] = BAR_INTERVALS) -> None:
        """Every market on each alert timeframe (default 5m 15m 1h 4h 1d): `count`
        deterministic bars ending with the forming bar at the current price."""
        for i, (mid, t) in enumerate(sorted(self.tickers.items())):
            for j, interval in enumerate(intervals):
                rng_seed = self._seed * 1000 + i * 10 + j
                closes = random_closes(t.last, count, seed=rng_seed)
                self.set_bars(mid, interval, closes)
