"""`/chart LINK 1h`: bars of one timeframe, with the chat's indicators drawn from them.

Moving averages and Bollinger bands go over the price; RSI (with its 30/70 lines) and
MACD (line, signal, histogram) get a panel each under it. Values come from the same
TA-Lib code as the alerts (`bot.feeds.indicators`), over the clean newest run of bars
only: behind a gap or a broken bar nothing is drawn rather than a guess. The render is
a pure function of its arguments, so the chart process and the shared cache can take it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from alerts.domain.backtest import DAY
from alerts.domain.indicators import BarSeries, Indicator, IndicatorName, Timeframe
from alerts.domain.market import Candle
from bot.feeds.indicators import Array, clean_run, closes_of, indicator_lines
from handlers.chat.charting import (
    DOWN,
    LINE,
    UP,
    _date_axis,
    _figure,
    _frame,
    _legend,
    _png,
)

SHOWN_BARS = 100  # a phone screen's worth of candles
OVERLAY_COLORS = ("#e08214", "#7b3294", "#1b7837", "#c51b7d", "#2166ac")
RSI_COLOR, SIGNAL_COLOR = "#7b3294", "#e08214"
PANEL = {IndicatorName.RSI: 0, IndicatorName.MACD: 1}  # panel order under the price


def chart_indicators(series_keys: Sequence[str], timeframe: Timeframe) -> list[Indicator]:
    """The distinct indicators (not the price) of the series on `timeframe`, in key order."""
    found: dict[Indicator, None] = {}
    for key in series_keys:
        try:
            series = BarSeries.from_key(key)
        except ValueError:
            continue
        if series.timeframe is timeframe:
            for operand in series.operands:
                if operand.indicator.name is not IndicatorName.PRICE:
                    found[operand.indicator] = None
    return list(found)


def _lines(ind: Indicator, candles: Sequence[Candle], span: int) -> dict[str, Array]:
    """The indicator over the clean newest bars, NaN before them (never across a gap)."""
    run = clean_run(candles, span)
    out = np.full(len(candles), np.nan)
    lines = indicator_lines(ind, closes_of(candles[len(candles) - run :])) if run else {}
    return {name: np.concatenate([out[: len(candles) - run], v]) for name, v in lines.items()}


def render_bar_chart(
    symbol: str, timeframe: str, candles: Sequence[Candle], series_keys: Sequence[str]
) -> bytes:
    """Candles of `timeframe` (the newest may be forming) and the indicators of
    `series_keys` on that timeframe; the price frame is stored for `draw_levels`."""
    if not candles:
        raise ValueError("no bars to chart")
    tf = Timeframe(timeframe)
    span = tf.seconds
    indicators = chart_indicators(series_keys, tf)
    panels = sorted({PANEL[i.name] for i in indicators if i.name in PANEL})
    shown = list(candles[-SHOWN_BARS:])
    cut = len(candles) - len(shown)
    last = shown[-1]
    fig = _figure(f"{symbol} · {timeframe}", f"{timeframe} bars, UTC · last {last.close:,.6g} "
                  "(bar still forming)")
    grid = fig.add_gridspec(1 + len(panels), 1, height_ratios=(3.2, *[1.3] * len(panels)),
                            hspace=0.08, top=0.87, bottom=0.08, left=0.07, right=0.86)
    ax = fig.add_subplot(grid[0])
    axes = [ax] + [fig.add_subplot(grid[i + 1], sharex=ax) for i in range(len(panels))]
    when = [c.ts / DAY for c in shown]
    _candles(ax, shown, when, tf)
    colors = iter(OVERLAY_COLORS)
    for ind in indicators:
        lines = {name: values[cut:] for name, values in _lines(ind, candles, span).items()}
        if ind.name in PANEL:
            _panel(axes[1 + panels.index(PANEL[ind.name])], ind, lines, when, span)
        elif ind.name is IndicatorName.BB:
            color = next(colors, LINE)
            ax.plot(when, lines["upper"], color=color, lw=1.1, label=f"{ind.text} upper/lower")
            ax.plot(when, lines["lower"], color=color, lw=1.1)
            ax.plot(when, lines["middle"], color=color, lw=0.8, ls="--")
            ax.fill_between(when, lines["lower"], lines["upper"], color=color, alpha=0.07)
        else:
            ax.plot(when, lines[""], color=next(colors, LINE), lw=1.5, label=ind.text)
    for axis in axes:
        _date_axis(axis)
    for axis in axes[:-1]:
        axis.tick_params(labelbottom=False)
    _legend(ax)
    return _png(fig, _frame(ax))


def _candles(ax: Any, shown: list[Candle], when: list[float], tf: Timeframe) -> None:
    """Candle bodies and wicks; the forming bar outlined (its close is not final)."""
    width = 0.7 * tf.seconds / DAY
    colors = [UP if c.close >= c.open else DOWN for c in shown]
    ax.vlines(when, [c.low for c in shown], [c.high for c in shown], colors=colors, lw=1)
    bottoms = [min(c.open, c.close) for c in shown]
    heights = [max(abs(c.close - c.open), c.close * 1e-4) for c in shown]
    ax.bar(when, heights, width, bottoms, color=colors, label=f"{tf.value} candle")
    ax.bar([when[-1]], [heights[-1]], width, [bottoms[-1]], color="none",
           edgecolor="#333333", linewidth=0.8, linestyle=":", label="Forming bar")
    if not all(math.isfinite(c.close) for c in shown):
        ax.set_title("some bars are missing data", fontsize=8, color=DOWN, loc="right")


def _panel(ax: Any, ind: Indicator, lines: dict[str, Array], when: list[float], span: int) -> None:
    if ind.name is IndicatorName.RSI:
        ax.plot(when, lines[""], color=RSI_COLOR, lw=1.4, label=ind.text)
        for level in (30, 70):
            ax.axhline(level, color="#888888", lw=0.9, ls="--")
        ax.set_ylim(0, 100)
        ax.set_yticks([30, 70])
        ax.set_ylabel("RSI", fontsize=9)
    else:
        hist = lines[""] - lines["signal"]
        ax.bar(when, hist, 0.7 * span / DAY, color=[UP if h >= 0 else DOWN for h in hist],
               alpha=0.45)
        ax.plot(when, lines[""], color=LINE, lw=1.3, label=ind.text)
        ax.plot(when, lines["signal"], color=SIGNAL_COLOR, lw=1.2, label="signal")
        ax.axhline(0, color="#888888", lw=0.8)
        ax.set_ylabel("MACD", fontsize=9)
    last = float(lines[""][-1])
    if math.isfinite(last):  # the newest value beside the panel: read at a glance on a phone
        ax.annotate(f"{last:.4g}", xy=(when[-1], last), xytext=(8, 0), textcoords="offset points",
                    va="center", fontsize=9, fontweight="bold", annotation_clip=False)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.85, edgecolor="none")

