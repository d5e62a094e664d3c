"""Words for condition alerts (indicators, crosses, market cap, several joined by `and`).

The record keeps the canonical /alert words (`Alert.cond`); this module says when they
are checked and what a series' value means, for /alert replies, /alerts and pushes.
"""

from __future__ import annotations

from alerts.domain import fmt
from alerts.domain.alert import Alert
from alerts.domain.conditions import MCAP, PRICE, VOLUME, Condition
from alerts.domain.grammar import conditions_of
from alerts.domain.indicators import BarSeries, IndicatorName


def _bars(conditions: tuple[Condition, ...]) -> list[BarSeries]:
    """The bar series among the conditions (an alert's all share one trigger)."""
    return [bars for bars in (c.bar_series for c in conditions) if bars is not None]


def phrase(alert: Alert) -> str:
    """`rsi14 1h above 70 (on 1h close)`; several conditions joined by `and`."""
    conditions = conditions_of(alert.cond)
    text = alert.cond.removesuffix(" intrabar")
    bars = _bars(conditions)
    if not bars:
        return text
    if bars[0].intrabar:
        return f"{text} (intrabar, once per bar at most)"
    frames = sorted({b.timeframe for b in bars}, key=lambda t: t.seconds)
    return f"{text} (on {'/'.join(t.value for t in frames)} close)"


def series_name(condition: Condition) -> str:
    """What a condition watches, in words: `price`, `market cap`, `ema9 − ema21 1h`."""
    names = {PRICE: "price", VOLUME: "24h volume", MCAP: "market cap"}
    bars = condition.bar_series
    if bars is None:
        return names[condition.series]
    right = f" − {bars.right.text}" if bars.right else ""
    return f"{bars.left.text}{right} {bars.timeframe.value}"


def value_text(condition: Condition, value: float | None) -> str:
    """A series' value as users read it: `rsi14 1h 71.3`, `ema9 − ema21 1h +0.0123`."""
    name = series_name(condition)
    bars = condition.bar_series
    if value is None:
        return f"{name}: no value yet"
    if condition.series == PRICE:
        return f"{name} {fmt.price(value)}"
    if condition.series == VOLUME:
        return f"{name} {value:.2f}× its 30-day mean"
    if condition.series == MCAP:
        return f"{name} {fmt.usd_compact(value)}"
    assert bars is not None
    if bars.right is None and bars.left.indicator.name is IndicatorName.RSI:
        return f"{name} {value:.1f}"
    return f"{name} {value:+.6g}" if bars.right else f"{name} {fmt.price(value)}"


def when_checked(alert: Alert) -> str:
    """When the alert can fire, for the /alert confirmation."""
    conditions = conditions_of(alert.cond)
    bars = _bars(conditions)
    if len(conditions) > 1:
        series = {c.series for c in conditions}
        paces = [
            "prices and volume on every poll" if series & {PRICE, VOLUME} else "",
            "market cap every 10 minutes" if MCAP in series else "",
            ("indicators on every tick" if bars[0].intrabar else "indicators at each bar close")
            if bars
            else "",
        ]
        checked = ", ".join(p for p in paces if p)
        return f"when the last of them turns true while the others hold ({checked})"
    if not bars:
        return "when the condition becomes true"
    if bars[0].intrabar:
        return "when the condition becomes true during a bar (every tick counts)"
    return "when the condition becomes true at a bar close (a wick inside the bar does not count)"


def now_lines(current: tuple[tuple[Condition, float | None], ...]) -> list[str]:
    """The value of each condition's series now, or when it will first be known."""
    lines = []
    for condition, value in current:
        bars = condition.bar_series
        if value is None and bars is not None:
            source = (
                "the next tick" if bars.intrabar else f"the last closed {bars.timeframe.value} bar"
            )
            lines.append(
                f"{condition.text}: no value yet; it comes within a minute, from {source}."
            )
        elif value is None:
            lines.append(f"{condition.text}: no value yet (it needs the next data refresh).")
        else:
            lines.append(f"{condition.text}: now {value_text(condition, value)}.")
    return lines


def fired_line(alert: Alert, value: float | None, at: float, tick_ts: float) -> str:
    """`#12 LINK: rsi14 1h above 70 — rsi14 1h 71.3 at the bar closing 13:00 UTC`."""
    conditions = conditions_of(alert.cond)
    bars = _bars(conditions)
    verb = "now holds" if len(conditions) > 1 else "crossed"
    single = value_text(conditions[0], value) if len(conditions) == 1 else ""
    moment = f"at {fmt.when(at)}"
    if len(conditions) == 1 and bars and not bars[0].intrabar and tick_ts:
        moment = f"on the bar closing {fmt.when(tick_ts)}"
    value_part = f" — {single}" if single else ""
    return f"#{alert.id} {alert.symbol} {verb}: {phrase(alert)}{value_part} {moment}"
