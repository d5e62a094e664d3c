"""The /alert grammar: condition and options parsed into an `AlertSpec`.

Parsing knows no market: `AlertSpec` still says "+40%", and the alert use case turns
it into a stored `Alert` at the current price.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Literal

from alerts.domain.alert import Direction, num
from alerts.domain.conditions import (
    PRICE,
    VOLUME,
    Condition,
    ParseError,
    looks_like_indicator,
    number,
    parse_indicator_condition,
    parse_tick_condition,
    with_trigger,
)
from alerts.domain.moves import WINDOW_LIST, WINDOW_NAMES, WINDOWS

DEFAULT_COOLDOWN = 3600
MAX_CONDITIONS = 5
MAX_TEXT_ARGS = 48

_DURATION = re.compile(r"^(\d{1,4})(m|h|d)$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def duration_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


SpecKind = Literal["above", "below", "percent", "move", "volume", "condition"]


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """A parsed /alert command before it is checked against the market."""

    kind: SpecKind
    value: float
    window: int = 0
    repeat: bool = False
    cooldown: int = DEFAULT_COOLDOWN
    expires_in: int = 0
    conditions: tuple[Condition, ...] = ()  # kind "condition": all must hold (joined by `and`)
    intrabar: bool = False  # indicator conditions on every tick instead of on bar close

    @property
    def text(self) -> str:
        """The /alert words that parse back to this spec (after the symbol)."""
        return " ".join([self._condition_text(), *self._option_words()])

    @property
    def condition_words(self) -> str:
        """What a condition alert's record keeps (`cond`): its conditions and trigger."""
        return f"{self._condition_text()}{' intrabar' if self.intrabar else ''}"

    def _condition_text(self) -> str:
        if self.kind == "condition":
            return " and ".join(with_trigger(c, False).text for c in self.conditions)
        if self.kind in ("above", "below"):
            return f"{self.kind} {num(self.value)}"
        if self.kind == "percent":
            return f"{self.value:+g}%"
        if self.kind == "move":
            return f"move {num(self.value)}% {WINDOW_NAMES[self.window]}"
        return f"volume {num(self.value)}x"

    def _option_words(self) -> list[str]:
        words = ["intrabar"] if self.intrabar else []
        if self.repeat:
            words += (
                ["repeat"]
                if self.cooldown == DEFAULT_COOLDOWN
                else ["cooldown", duration_text(self.cooldown)]
            )
        if self.expires_in:
            words += ["for", duration_text(self.expires_in)]
        return words


USAGE = (
    "Examples: /alert LINK above 9.5 · /alert ADA below 0.8 · /alert AVAX +40% · "
    f"/alert BCH move 5% 1h (windows {WINDOW_LIST}) · /alert HBAR volume 3x · "
    "/alert LINK rsi14 1h above 70 · /alert LINK ema9 1h crosses above ema21 · "
    "/alert HBAR macd 4h crosses above signal · /alert LINK bb20 1h breaks upper · "
    "/alert LINK mcap above 10B · /alert LINK above 15 and rsi14 1h below 70. "
    "Options: repeat, cooldown 15m, for 7d, on close (default for indicators), intrabar."
)


def parse_duration(text: str, *, low: int, high: int, what: str) -> int:
    match = _DURATION.match(text.lower())
    if not match:
        raise ParseError(f"{what} must look like 15m, 4h or 7d.")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not low <= seconds <= high:
        raise ParseError(f"{what} must be between {duration_text(low)} and {duration_text(high)}.")
    return seconds


def parse_alert_args(args: list[str]) -> AlertSpec:
    """Parse everything after the symbol: condition(s) first, then options."""
    if not args:
        raise ParseError("What should the alert watch for?")
    if len(args) > MAX_TEXT_ARGS:
        raise ParseError("That alert has too many words.")
    words = [a.lower() for a in args]
    head = words[0]
    if head[:1] in "+-" and head.endswith("%"):
        pct = number(head, "The percentage", suffix="%")
        if pct == 0 or pct <= -100 or pct > 10_000:
            raise ParseError("The percentage must be like +40% or -20% (above -100%).")
        spec, rest = AlertSpec("percent", pct), words[1:]
    elif head == "move":
        if len(words) < 3:
            raise ParseError("A move alert needs a size and a window, e.g. move 5% 1h.")
        pct = number(words[1], "The move size", suffix="%")
        if not 0.1 <= pct <= 100:
            raise ParseError("The move size must be between 0.1% and 100%.")
        match = _DURATION.match(words[2])
        window = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
        if window not in WINDOWS:
            raise ParseError(f"The window must be one of {WINDOW_LIST}.")
        spec, rest = AlertSpec("move", pct, window=window), words[3:]
    else:
        conditions, at = _conditions(words)
        spec, rest = _spec_of(conditions), words[at:]
    if rest[:1] == ["and"]:
        raise ParseError(
            "move and +N% alerts stand alone; combine levels, volume, mcap and indicators with and."
        )
    return _options(spec, rest)


def _conditions(words: list[str]) -> tuple[list[Condition], int]:
    """Conditions joined by `and`, from the start; returns them and where options begin."""
    found: list[Condition] = []
    i = 0
    while True:
        if i >= len(words):
            raise ParseError("and what? Add a condition after and.")
        word = words[i]
        tick = parse_tick_condition(words, i)
        if tick is not None:
            condition, i = tick
        elif word == "move" or (word[:1] in "+-" and word.endswith("%")):
            raise ParseError(
                "move and +N% alerts stand alone; combine levels, volume, mcap "
                "and indicators with and."
            )
        elif looks_like_indicator(word):
            condition, i = parse_indicator_condition(words, i)
        else:
            raise ParseError(f"I don't understand {word[:20]!r}.")
        if condition in found:
            raise ParseError(f"{condition.text} is there twice.")
        found.append(condition)
        if i < len(words) and words[i] == "and":
            if len(found) == MAX_CONDITIONS:
                raise ParseError(f"At most {MAX_CONDITIONS} conditions can be joined by and.")
            i += 1
            continue
        return found, i


def _spec_of(conditions: list[Condition]) -> AlertSpec:
    """A lone price level or volume multiple stays the classic alert; the rest are conditions."""
    if len(conditions) == 1 and conditions[0].series in (PRICE, VOLUME):
        c = conditions[0]
        if c.series == VOLUME:
            return AlertSpec("volume", c.level)
        return AlertSpec("above" if c.direction is Direction.UP else "below", c.level)
    return AlertSpec("condition", 0.0, conditions=tuple(conditions))


def _options(spec: AlertSpec, words: list[str]) -> AlertSpec:
    i = 0
    repeat, cooldown, expires, trigger = False, DEFAULT_COOLDOWN, 0, ""
    while i < len(words):
        word = words[i]
        if word == "repeat":
            repeat = True
        elif word in ("cooldown", "for") and i + 1 < len(words):
            if word == "cooldown":
                cooldown = parse_duration(words[i + 1], low=60, high=7 * 86400, what="The cooldown")
                repeat = True
            else:
                expires = parse_duration(
                    words[i + 1], low=3600, high=365 * 86400, what="The expiry"
                )
            i += 1
        elif word == "intrabar" or (word == "on" and words[i + 1 : i + 2] == ["close"]):
            if trigger:
                raise ParseError("Choose one trigger: on close or intrabar.")
            trigger = word
            i += word == "on"
        else:
            raise ParseError(
                f"Unknown option {word[:20]!r}: use repeat, cooldown 15m, for 7d, on close "
                "or intrabar."
            )
        i += 1
    spec = replace(spec, repeat=repeat, cooldown=cooldown, expires_in=expires)
    return _trigger(spec, trigger == "intrabar") if trigger else spec


def _trigger(spec: AlertSpec, intrabar: bool) -> AlertSpec:
    """Apply `on close` / `intrabar`; intrabar repeats fire at most once per bar."""
    bars = [c.bar_series for c in spec.conditions if c.bar_series is not None]
    if not bars:
        raise ParseError(
            "on close and intrabar apply to indicator conditions, e.g. rsi14 1h above 70 intrabar."
        )
    if not intrabar:
        return spec
    longest = max(b.timeframe.seconds for b in bars)
    cooldown = max(spec.cooldown, longest) if spec.repeat else spec.cooldown
    moved = tuple(with_trigger(c, True) for c in spec.conditions)
    return replace(spec, conditions=moved, intrabar=True, cooldown=cooldown)


@lru_cache(maxsize=4096)
def conditions_of(cond: str) -> tuple[Condition, ...]:
    """The conditions a record's `cond` words name (`AlertSpec.condition_words`).

    Cached: records repeat a few canonical texts, and listing, rendering and removing an
    alert each ask again (the result is an immutable tuple of frozen conditions)."""
    return parse_alert_args(cond.split()).conditions
