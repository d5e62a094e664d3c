"""Bar series: what an indicator condition watches, as one number per bar.

Every indicator condition reduces to one series crossing a level, so the engine's
sorted-set indexes and claim script serve it unchanged:
- a level (`rsi14 1h above 70`) is the indicator itself against the level;
- a cross of two lines (`ema9 crosses above ema21`, `macd crosses above signal`,
  `price crosses above sma200`, `bb20 breaks upper`) is their spread (left − right)
  crossing 0.
A series is named by its canonical `key` (`rsi14@1h`, `ema9-ema21@1h`,
`price-bb(20,2).upper@1h`, with a trailing `~` when evaluated intrabar); the bar feed
computes each distinct key once per bar, whatever the number of alerts on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Timeframe(StrEnum):
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def seconds(self) -> int:
        return {"5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}[self.value]


TIMEFRAME_LIST = " ".join(t.value for t in Timeframe)


class IndicatorName(StrEnum):
    PRICE = "price"  # the bar's close (the forming bar's last price intrabar)
    RSI = "rsi"
    EMA = "ema"
    SMA = "sma"
    MACD = "macd"
    BB = "bb"


INDICATOR_LIST = "rsi, ema, sma, macd, bb"
DEFAULT_PARAMS: dict[IndicatorName, tuple[float, ...]] = {
    IndicatorName.PRICE: (),
    IndicatorName.RSI: (14,),
    IndicatorName.EMA: (20,),
    IndicatorName.SMA: (20,),
    IndicatorName.MACD: (12, 26, 9),
    IndicatorName.BB: (20, 2),
}
# Lines of an indicator other than its main one.
LINES: dict[IndicatorName, tuple[str, ...]] = {
    IndicatorName.MACD: ("signal",),
    IndicatorName.BB: ("upper", "lower", "middle"),
}
MAX_PERIOD = 500  # bars: the bar feed keeps enough closes for the longest warm-up
# Bars fetched beyond an indicator's own length so recursive ones (EMA, RSI, MACD)
# have forgotten their seed: with 250 extra bars the seed's weight is below 1e-6.
WARMUP_EXTRA_BARS = 250


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True, slots=True)
class Indicator:
    """One indicator with its parameters, e.g. `rsi14`, `macd(12,26,9)`, `bb(20,2)`."""

    name: IndicatorName
    params: tuple[float, ...] = ()

    @property
    def text(self) -> str:
        if not self.params:
            return self.name.value
        if len(self.params) == 1:
            return f"{self.name.value}{_num(self.params[0])}"
        return f"{self.name.value}({','.join(_num(p) for p in self.params)})"

    @property
    def bars_needed(self) -> int:
        """Closes that give a settled value (documented warm-up, README)."""
        if self.name is IndicatorName.PRICE:
            return 1
        if self.name is IndicatorName.MACD:
            return int(self.params[1] + self.params[2]) + WARMUP_EXTRA_BARS
        return int(self.params[0]) + WARMUP_EXTRA_BARS


@dataclass(frozen=True, slots=True)
class Operand:
    """One line of an indicator: its main line, or `signal`, `upper`, `lower`, `middle`."""

    indicator: Indicator
    line: str = ""

    @property
    def text(self) -> str:
        return f"{self.indicator.text}.{self.line}" if self.line else self.indicator.text


@dataclass(frozen=True, slots=True)
class BarSeries:
    """`left` (− `right`, when a cross) on bars of `timeframe`, at close or intrabar."""

    timeframe: Timeframe
    left: Operand
    right: Operand | None = None
    intrabar: bool = False

    @property
    def key(self) -> str:
        body = self.left.text if self.right is None else f"{self.left.text}-{self.right.text}"
        return f"{body}@{self.timeframe.value}{'~' if self.intrabar else ''}"

    @property
    def bars_needed(self) -> int:
        right = self.right.indicator.bars_needed if self.right else 1
        return max(self.left.indicator.bars_needed, right)

    @property
    def operands(self) -> tuple[Operand, ...]:
        return (self.left,) if self.right is None else (self.left, self.right)

    @classmethod
    def from_key(cls, key: str) -> BarSeries:
        """The series a key names (raises ValueError on anything `key` never writes)."""
        body, _, tail = key.partition("@")
        intrabar = tail.endswith("~")
        timeframe = Timeframe(tail.removesuffix("~"))
        left_text, sep, right_text = body.partition("-")
        right = _operand_of(right_text) if sep else None
        return cls(timeframe, _operand_of(left_text), right, intrabar)


_OPERAND = re.compile(r"^([a-z]+)(?:(\d+(?:\.\d+)?)|\(([\d.,]+)\))?(?:\.([a-z]+))?$")


def _operand_of(text: str) -> Operand:
    match = _OPERAND.match(text)
    if not match:
        raise ValueError(f"not an operand: {text!r}")
    name = IndicatorName(match.group(1))
    if match.group(2):
        params: tuple[float, ...] = (float(match.group(2)),)
    elif match.group(3):
        params = tuple(float(p) for p in match.group(3).split(","))
    else:
        params = ()
    line = match.group(4) or ""
    if line and line not in LINES.get(name, ()):
        raise ValueError(f"{name.value} has no line {line!r}")
    return Operand(Indicator(name, params), line)


def is_bar_series(key: str) -> bool:
    """Bar series keys carry a timeframe; tick series (`price`, `volx`, `mcap`) do not."""
    return "@" in key
