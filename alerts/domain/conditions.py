"""Conditions of the alert language: indicator levels and crosses, price, volume, market cap.

Each condition is one series crossing one level in one direction (`Condition`), so a
condition of any shape is indexed and claimed like a price alert. Its canonical
`text` is what /alert accepts, what /alerts shows and what the record stores: parsing
a condition's text gives the same condition back (tested with hypothesis).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alerts.domain.alert import Direction, num
from alerts.domain.indicators import (
    DEFAULT_PARAMS,
    INDICATOR_LIST,
    MAX_PERIOD,
    TIMEFRAME_LIST,
    BarSeries,
    Indicator,
    IndicatorName,
    Operand,
    Timeframe,
)

PRICE, VOLUME, MCAP = "price", "volx", "mcap"  # tick series (evaluated on ticks / refreshes)
ABOVE_WORDS, BELOW_WORDS = ("above", ">", "over"), ("below", "<", "under")
_MONEY = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
_TOKEN = re.compile(r"^([a-z]+?)(\d+(?:\.\d+)?)?$")
_CALL = re.compile(r"^([a-z]+)\(([^()]*)\)$")


class ParseError(ValueError):
    """The /alert text is malformed; the message names the part that is wrong."""


@dataclass(frozen=True, slots=True)
class Condition:
    """`series` crossing `level` going `direction` (a cross of two lines: their spread vs 0)."""

    series: str
    direction: Direction
    level: float = 0.0

    @property
    def bar_series(self) -> BarSeries | None:
        return BarSeries.from_key(self.series) if "@" in self.series else None

    def holds(self, value: float) -> bool:
        """Whether the condition is true at `value` (what a crossing into it makes true)."""
        return value >= self.level if self.direction is Direction.UP else value <= self.level

    @property
    def text(self) -> str:
        word = "above" if self.direction is Direction.UP else "below"
        if self.series == PRICE:
            return f"{word} {num(self.level)}"
        if self.series == VOLUME:
            return f"volume {num(self.level)}x"
        if self.series == MCAP:
            return f"mcap {word} {money(self.level)}"
        bars = BarSeries.from_key(self.series)
        head = f"{_short(bars.left.indicator)} {bars.timeframe.value}"
        right = bars.right
        if right is None:
            return f"{head} {word} {num(self.level)}"
        if right.line in ("upper", "lower"):
            return f"{_short(right.indicator)} {bars.timeframe.value} breaks {right.line}"
        target = "signal" if right.line == "signal" else _short(right.indicator)
        return f"{head} crosses {word} {target}"


def money(value: float) -> str:
    """`10B`, `612.5M`: the largest suffix that keeps the number exact and short."""
    for suffix, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= size and float(f"{value / size:.6g}") * size == value:
            return f"{value / size:.6g}{suffix}"
    return num(value)


def _short(indicator: Indicator) -> str:
    """`macd` / `bb20` when the parameters are the defaults, else the full text."""
    defaults = DEFAULT_PARAMS[indicator.name]
    if indicator.params == defaults and indicator.name is IndicatorName.MACD:
        return "macd"
    if indicator.name is IndicatorName.BB and indicator.params[1:] == defaults[1:]:
        return f"bb{num(indicator.params[0])}"
    return indicator.text


def number(text: str, what: str, *, suffix: str = "") -> float:
    """A finite number as typed (`9.5`, `1,200`; `suffix` such as `%` or `x` dropped)."""
    try:
        value = float(text.lower().removesuffix(suffix).replace(",", ""))
    except ValueError:
        raise ParseError(f"{what} must be a number, not {text[:20]!r}.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ParseError(f"{what} must be a finite number.")
    return value


def parse_money(text: str) -> float:
    """`10B`, `750m`, `1.2t`, `5000000000`."""
    raw = text.lower().lstrip("$")
    scale = _MONEY.get(raw[-1:], 1.0)
    value = number(raw[:-1] if scale != 1.0 else raw, "The market cap") * scale
    if not 0 < value < 1e15:
        raise ParseError("The market cap must be above zero, e.g. 10B or 750M.")
    return value


def _period(text: str, name: str) -> float:
    value = number(text, f"The {name} period")
    if value != int(value) or not 2 <= value <= MAX_PERIOD:
        raise ParseError(f"The {name} period must be a whole number from 2 to {MAX_PERIOD}.")
    return value


def parse_indicator(word: str) -> Indicator:
    """`rsi`, `rsi14`, `ema9`, `sma200`, `macd`, `macd(8,21,5)`, `bb20`, `bb(20,2.5)`, `price`."""
    call = _CALL.match(word)
    if call:
        name_text, raw = call.group(1), call.group(2).split(",")
    else:
        token = _TOKEN.match(word)
        if not token:
            raise ParseError(f"unknown indicator {word[:20]!r} — {INDICATOR_LIST}.")
        name_text, raw = token.group(1), [token.group(2)] if token.group(2) else []
    try:
        name = IndicatorName(name_text)
    except ValueError:
        raise ParseError(f"unknown indicator {name_text[:20]!r} — {INDICATOR_LIST}.") from None
    defaults = DEFAULT_PARAMS[name]
    if name is IndicatorName.PRICE:
        if raw:
            raise ParseError("price takes no period.")
        return Indicator(name)
    if len(raw) > len(defaults):
        raise ParseError(f"{name.value} takes at most {len(defaults)} parameters.")
    params = list(defaults)
    for i, text in enumerate(raw):
        params[i] = _parse_param(name, i, text)
    if name is IndicatorName.MACD and params[0] >= params[1]:
        raise ParseError(
            "macd's fast period must be shorter than its slow one, e.g. macd(12,26,9)."
        )
    return Indicator(name, tuple(params))


def _parse_param(name: IndicatorName, i: int, text: str) -> float:
    if name is IndicatorName.BB and i == 1:
        value = number(text, "The bb width")
        if not 0.5 <= value <= 5:
            raise ParseError("The bb width must be from 0.5 to 5 standard deviations.")
        return value
    return _period(text, name.value)


def parse_timeframe(words: list[str], i: int, what: str) -> Timeframe:
    if i >= len(words):
        raise ParseError(f"{what} needs a timeframe: {TIMEFRAME_LIST}.")
    try:
        return Timeframe(words[i])
    except ValueError:
        raise ParseError(f"unknown timeframe {words[i][:20]!r} — {TIMEFRAME_LIST}.") from None


def _direction(words: list[str], i: int, what: str) -> Direction:
    word = words[i] if i < len(words) else ""
    if word in ABOVE_WORDS:
        return Direction.UP
    if word in BELOW_WORDS:
        return Direction.DOWN
    raise ParseError(f"{what}: expected above or below, not {word[:20]!r}.")


def looks_like_indicator(word: str) -> bool:
    """Worth parsing as an indicator: a typo gets "unknown indicator", not "I don't understand"."""
    return bool(_CALL.match(word) or (word[:1].isalpha() and _TOKEN.match(word)))


def parse_indicator_condition(words: list[str], i: int) -> tuple[Condition, int]:
    """One indicator condition starting at `words[i]`; returns it and the next index."""
    left = parse_indicator(words[i])
    timeframe = parse_timeframe(words, i + 1, left.text)
    verb = words[i + 2] if i + 2 < len(words) else ""
    name = left.name
    if verb == "breaks":
        if name is not IndicatorName.BB:
            raise ParseError(
                f"only bb breaks upper/lower; {left.text} can cross or be above/below."
            )
        band = words[i + 3] if i + 3 < len(words) else ""
        if band not in ("upper", "lower"):
            raise ParseError("bb breaks upper or breaks lower.")
        series = BarSeries(timeframe, Operand(Indicator(IndicatorName.PRICE)), Operand(left, band))
        way = Direction.UP if band == "upper" else Direction.DOWN
        return Condition(series.key, way), i + 4
    if name is IndicatorName.BB:
        raise ParseError(
            f"bb conditions are breaks upper or breaks lower, e.g. {left.text} 1h breaks upper."
        )
    if verb == "crosses":
        way = _direction(words, i + 3, f"{left.text} crosses")
        target = words[i + 4] if i + 4 < len(words) else ""
        if name is IndicatorName.MACD:
            if target != "signal":
                raise ParseError("macd crosses above or below signal.")
            right = Operand(left, "signal")
        elif name is IndicatorName.RSI:
            raise ParseError("rsi is compared with a level, e.g. rsi14 1h above 70.")
        else:
            if not target:
                raise ParseError(f"{left.text} crosses {way.value} what? e.g. ema21 or sma200.")
            other = parse_indicator(target)
            if other.name not in (IndicatorName.EMA, IndicatorName.SMA):
                raise ParseError(
                    f"{left.text} crosses an average (ema or sma), not {target[:20]!r}."
                )
            if other == left:
                raise ParseError("A line can't cross itself: pick two different averages.")
            right = Operand(other)
        series = BarSeries(timeframe, Operand(left), right)
        return Condition(series.key, way), i + 5
    way = _direction(words, i + 2, f"{left.text} {timeframe.value}")
    if i + 3 >= len(words):
        raise ParseError(f"{left.text} {timeframe.value} {words[i + 2]} what level?")
    level = number(words[i + 3], f"The {left.name.value} level")
    if name is IndicatorName.RSI and not 0 < level < 100:
        raise ParseError("The rsi level must be between 0 and 100.")
    if name in (IndicatorName.EMA, IndicatorName.SMA, IndicatorName.PRICE) and not 0 < level < 1e12:
        raise ParseError("The price level must be above zero.")
    series = BarSeries(timeframe, Operand(left))
    return Condition(series.key, way, level), i + 4


def parse_tick_condition(words: list[str], i: int) -> tuple[Condition, int] | None:
    """`above 15`, `below 0.8`, `volume 2x`, `mcap above 10B`; None when it is none of them."""
    head = words[i]
    if head in ABOVE_WORDS or head in BELOW_WORDS:
        if i + 1 >= len(words):
            raise ParseError(f"{head} what price?")
        price = number(words[i + 1], "The price")
        if not 0 < price < 1e12:
            raise ParseError("The price must be above zero.")
        way = Direction.UP if head in ABOVE_WORDS else Direction.DOWN
        return Condition(PRICE, way, price), i + 2
    if head == "volume":
        if i + 1 >= len(words):
            raise ParseError("A volume condition needs a multiple, e.g. volume 3x.")
        multiple = number(words[i + 1], "The volume multiple", suffix="x")
        if not 1 < multiple <= 100:
            raise ParseError("The volume multiple must be above 1 and at most 100, e.g. 3x.")
        return Condition(VOLUME, Direction.UP, multiple), i + 2
    if head == "mcap":
        way = _direction(words, i + 1, "mcap")
        if i + 2 >= len(words):
            raise ParseError("mcap above what? e.g. mcap above 10B.")
        return Condition(MCAP, way, parse_money(words[i + 2])), i + 3
    return None


def with_trigger(condition: Condition, intrabar: bool) -> Condition:
    """The same condition evaluated intrabar (or on close): bar series only."""
    bars = condition.bar_series
    if bars is None or bars.intrabar == intrabar:
        return condition
    moved = BarSeries(bars.timeframe, bars.left, bars.right, intrabar)
    return Condition(moved.key, condition.direction, condition.level)
