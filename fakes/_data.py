"""Deterministic market data for the fakes (seeded random walks, no network, no files)."""

from __future__ import annotations

import math
import random

DAY_MS = 86_400_000
DAY_S = 86_400
#: Yahoo stamps daily index bars at the 09:30 New York open; 14:30 UTC ignores DST on purpose.
INDEX_BAR_OFFSET_S = 14 * 3600 + 30 * 60

#: base -> (last price, tick size, step size, 24h quote volume); realistic late-2025 levels.
DEFAULT_MARKETS: dict[str, tuple[float, str, str, float]] = {
    "BTC": (97_000.0, "0.01", "0.00001", 1.6e9),
    "ETH": (3_500.0, "0.01", "0.0001", 9.0e8),
    "AVAX": (35.0, "0.01", "0.01", 6.0e7),
    "BCH": (480.0, "0.1", "0.001", 3.0e7),
    "ADA": (0.9, "0.0001", "0.1", 1.2e8),
    "LINK": (9.2, "0.01", "0.01", 5.0e7),
    "HBAR": (0.25, "0.00001", "1", 3.0e7),
    "SOL": (180.0, "0.01", "0.001", 6.0e8),
    "DOGE": (0.38, "0.00001", "1", 4.0e8),
    "XRP": (2.3, "0.0001", "0.1", 5.0e8),
    "BNB": (650.0, "0.01", "0.001", 1.5e8),
}

Candle = tuple[int, float, float, float, float, float]
BAR_INTERVALS = ("5m", "15m", "1h", "4h", "1d")  # the alert timeframes


def random_closes(last: float, count: int, *, seed: int, vol: float = 0.01) -> list[float]:
    """`count` closes of a seeded random walk ending exactly at `last`."""
    rng = random.Random(seed)
    closes = [last]
    for _ in range(count - 1):
        closes.append(closes[-1] / math.exp(rng.gauss(0, vol)))
    return closes[::-1]


def bars_from_closes(closes: list[float], first_ms: int, span_ms: int) -> list[Candle]:
    """Bars `span_ms` apart from `first_ms` with these closes; each opens at the previous
    close and its wick reaches a little beyond both."""
    out: list[Candle] = []
    prev = closes[0]
    for i, close in enumerate(closes):
        high, low = max(prev, close) * 1.001, min(prev, close) * 0.999
        out.append((first_ms + i * span_ms, prev, high, low, close, 100.0))
        prev = close
    return out


def decimals(tick: str) -> int:
    """Digits after the point of a tick size like "0.0001"."""
    return len(tick.rstrip("0").split(".")[1]) if "." in tick.rstrip("0") else 0


def generate_daily_klines(
    last: float,
    days: int,
    *,
    end_ms: int,
    seed: int,
    vol: float = 0.04,
    quote_volume: float = 1e8,
    digits: int = 8,
) -> list[Candle]:
    """`days` daily candles (open_ms, o, h, l, c, volume) whose last close is exactly `last`.

    Built backwards from today's candle so the newest bar agrees with the ticker.
    """
    rng = random.Random(seed)
    today = end_ms - end_ms % DAY_MS
    closes = [last]
    for _ in range(days - 1):
        closes.append(closes[-1] / math.exp(rng.gauss(0.0005, vol)))
    closes.reverse()
    out: list[Candle] = []
    prev = closes[0] / math.exp(rng.gauss(0, vol))
    for i, close in enumerate(closes):
        open_ = prev
        high = max(open_, close) * (1 + abs(rng.gauss(0, vol / 2)))
        low = min(open_, close) * (1 - min(0.5, abs(rng.gauss(0, vol / 2))))
        volume = quote_volume / close * rng.uniform(0.6, 1.4)
        row = (open_, high, low, close if i < days - 1 else last)
        o, h, lo, c = (round(x, digits) for x in row)
        out.append((today - (days - 1 - i) * DAY_MS, o, h, lo, c, round(volume, 2)))
        prev = close
    return out


def generate_index_history(
    *,
    end_s: int,
    years: float = 10.0,
    end_level: float = 2480.0,
    seed: int = 2000,
    record_high: bool = True,
    null_days: int = 2,
) -> list[tuple[int, float | None]]:
    """Weekday closes of an index (like ^RUT) for `years`, ending near `end_level`.

    With `record_high` the last close is a new all-time high reached by a gentle rally
    (not a one-day jump). A couple of `None` closes are sprinkled mid-history, as Yahoo
    does for missing days.
    """
    rng = random.Random(seed)
    last_day = (end_s - end_s % DAY_S) // DAY_S
    first_day = last_day - int(years * 365.25)
    days = [d for d in range(first_day, last_day + 1) if (d + 3) % 7 < 5]  # 1970-01-01: Thu
    # log-linear trend (about x2.1 over ten years) plus a mean-reverting wander of ~10-15%
    n = len(days)
    trend = math.log(2.1) / max(n - 1, 1)
    dev, levels = 0.0, []
    for i in range(n):
        dev = 0.995 * dev + rng.gauss(0, 0.011)
        levels.append(math.exp(i * trend + dev))
    if record_high and len(levels) > 2:
        ramp = min(120, len(levels) - 1)
        target = max(levels[:-1]) * 1.003
        need = target / levels[-1]
        if need > 1:  # tilt the last months upwards so the final close is the new top
            for k in range(ramp):
                levels[-ramp + k] *= need ** ((k + 1) / ramp)
        levels[-1] = target
        for i in range(len(levels) - ramp, len(levels) - 1):
            if levels[i] >= target:
                levels[i] = target * (0.975 + 0.02 * rng.random())
    scale = end_level / levels[-1]
    rows: list[tuple[int, float | None]] = [
        (d * DAY_S + INDEX_BAR_OFFSET_S, round(v * scale, 2))
        for d, v in zip(days, levels, strict=True)
    ]
    if record_high and len(rows) > 2:
        peak = max(c for _, c in rows[:-1] if c is not None)
        if (rows[-1][1] or 0) <= peak:
            rows[-1] = (rows[-1][0], round(peak * 1.001, 2))
    for _ in range(null_days):
        i = rng.randrange(len(rows) // 4, len(rows) * 3 // 4)
        rows[i] = (rows[i][0], None)
    return rows
