"""Bar-series values computed with TA-Lib (its wheels bundle the C library).

Each indicator is computed over exactly its own documented warm-up
(`Indicator.bars_needed`: its length plus `WARMUP_EXTRA_BARS`, so recursive ones
such as EMA, RSI and MACD have forgotten their seed), hence a value depends only
on the closes, never on which other series happen to be in use. Within one call
each distinct indicator is computed once however many series share it (`ema21` in
two crosses, MACD's line and signal), and each series key once whatever the number
of alerts on it: a bar close costs O(distinct indicators × bars_needed).

No value is ever made up: a series whose warm-up is not complete, or whose bars hold
a gap, a NaN or a zero/negative close inside that warm-up, is left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import talib
from numpy.typing import NDArray

from alerts.domain.indicators import BarSeries, Indicator, IndicatorName
from alerts.domain.market import Candle

Array = NDArray[np.float64]
Lines = dict[str, Array]


def indicator_lines(indicator: Indicator, closes: Array) -> Lines:
    """Every line of `indicator` over `closes` (NaN during TA-Lib's own lookback)."""
    name, p = indicator.name, indicator.params
    if name is IndicatorName.PRICE:
        return {"": closes}
    if name is IndicatorName.RSI:
        return {"": _f(talib.RSI(closes, timeperiod=int(p[0])))}
    if name is IndicatorName.EMA:
        return {"": _f(talib.EMA(closes, timeperiod=int(p[0])))}
    if name is IndicatorName.SMA:
        return {"": _f(talib.SMA(closes, timeperiod=int(p[0])))}
    if name is IndicatorName.MACD:
        macd, signal, _hist = talib.MACD(
            closes, fastperiod=int(p[0]), slowperiod=int(p[1]), signalperiod=int(p[2])
        )
        return {"": _f(macd), "signal": _f(signal)}
    upper, middle, lower = talib.BBANDS(  # TA-Lib's default average: SMA, as Bollinger
        closes, timeperiod=int(p[0]), nbdevup=float(p[1]), nbdevdn=float(p[1])
    )
    return {"": _f(middle), "upper": _f(upper), "middle": _f(middle), "lower": _f(lower)}


def _f(values: object) -> Array:
    return np.asarray(values, dtype=np.float64)


def clean_run(candles: Sequence[Candle], span: int) -> int:
    """How many of the newest bars are usable: consecutive (`span` seconds apart) with a
    finite, positive close; the run stops at the first gap or broken bar."""
    run = 0
    for i in range(len(candles) - 1, -1, -1):
        close = candles[i].close
        if not (math.isfinite(close) and close > 0):
            break
        if i + 1 < len(candles) and candles[i + 1].ts - candles[i].ts != span:
            break
        run += 1
    return run


def closes_of(candles: Sequence[Candle]) -> Array:
    return np.fromiter((c.close for c in candles), dtype=np.float64, count=len(candles))


def series_values(series: Iterable[BarSeries], closes: Array, usable: int) -> dict[str, float]:
    """Each series' value at the last of `closes`, of which the newest `usable` are clean.

    Series that cannot be trusted (warm-up incomplete, broken data) are absent.
    """
    last: dict[tuple[Indicator, str], float] = {}
    out: dict[str, float] = {}
    for s in series:
        if s.key in out or usable < s.bars_needed:
            continue
        parts = []
        for operand in s.operands:
            ind = operand.indicator
            if (ind, operand.line) not in last:
                lines = indicator_lines(ind, closes[-ind.bars_needed :])
                for line, values in lines.items():
                    last[(ind, line)] = float(values[-1])
            parts.append(last[(ind, operand.line)])
        value = parts[0] - parts[1] if len(parts) == 2 else parts[0]
        if math.isfinite(value):
            out[s.key] = value
    return out


def values_at(
    series: Iterable[BarSeries], candles: Sequence[Candle], span: int
) -> dict[str, float]:
    """The series' values on the last of `candles` (bars `span` seconds long)."""
    return series_values(series, closes_of(candles), clean_run(candles, span))
