"""The /alert grammar: condition and options parsed into an `AlertSpec`.

Parsing knows no market: `AlertSpec` still says "+40%", and the alert use case turns
it into a stored `Alert` at the current price.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from alerts.domain.moves import WINDOW_LIST, WINDOWS

DEFAULT_COOLDOWN = 3600
MAX_TEXT_ARGS = 12

_DURATION = re.compile(r"^(\d{1,4})(m|h|d)$")
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def duration_text(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


SpecKind = Literal["above", "below", "percent", "move", "volume"]


@dataclass(frozen=True, slots=True)
class AlertSpec:
    """A parsed /alert command before it is checked against the market."""

    kind: SpecKind
    value: float
    window: int = 0
    repeat: bool = False
    cooldown: int = DEFAULT_COOLDOWN
    expires_in: int = 0


class ParseError(ValueError):
    """The /alert text is malformed; the message says how to write it."""


USAGE = (
    "Examples: /alert LINK above 9.5 · /alert ADA below 0.8 · /alert AVAX +40% · "
    f"/alert BCH move 5% 1h (windows {WINDOW_LIST}) · /alert HBAR volume 3x. "
    "Options: repeat, cooldown 15m, for 7d."
)


def parse_duration(text: str, *, low: int, high: int, what: str) -> int:
    match = _DURATION.match(text.lower())
    if not match:
        raise ParseError(f"{what} must look like 15m, 4h or 7d.")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not low <= seconds <= high:
        raise ParseError(f"{what} must be between {duration_text(low)} and {duration_text(high)}.")
    return seconds


def _number(text: str, what: str, *, suffix: str = "") -> float:
    raw = text.lower().removesuffix(suffix).replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        raise ParseError(f"{what} must be a number, not {text[:20]!r}.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ParseError(f"{what} must be a finite number.")
    return value


def parse_alert_args(args: list[str]) -> AlertSpec:
    """Parse everything after the symbol: condition first, then options."""
    if not args:
        raise ParseError("What should the alert watch for?")
    if len(args) > MAX_TEXT_ARGS:
        raise ParseError("That alert has too many words.")
    words = [a.lower() for a in args]
    head = words[0]
    if head in ("above", ">", "over", "below", "<", "under"):
        if len(words) < 2:
            raise ParseError(f"{head} what price?")
        price = _number(words[1], "The price")
        if not 0 < price < 1e12:
            raise ParseError("The price must be above zero.")
        kind: SpecKind = "above" if head in ("above", ">", "over") else "below"
        spec, rest = AlertSpec(kind, price), words[2:]
    elif head[:1] in "+-" and head.endswith("%"):
        pct = _number(head, "The percentage", suffix="%")
        if pct == 0 or pct <= -100 or pct > 10_000:
            raise ParseError("The percentage must be like +40% or -20% (above -100%).")
        spec, rest = AlertSpec("percent", pct), words[1:]
    elif head == "move":
        if len(words) < 3:
            raise ParseError("A move alert needs a size and a window, e.g. move 5% 1h.")
        pct = _number(words[1], "The move size", suffix="%")
        if not 0.1 <= pct <= 100:
            raise ParseError("The move size must be between 0.1% and 100%.")
        match = _DURATION.match(words[2])
        window = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
        if window not in WINDOWS:
            raise ParseError(f"The window must be one of {WINDOW_LIST}.")
        spec, rest = AlertSpec("move", pct, window=window), words[3:]
    elif head == "volume":
        if len(words) < 2:
            raise ParseError("A volume alert needs a multiple, e.g. volume 3x.")
        multiple = _number(words[1], "The volume multiple", suffix="x")
        if not 1 < multiple <= 100:
            raise ParseError("The volume multiple must be above 1 and at most 100, e.g. 3x.")
        spec, rest = AlertSpec("volume", multiple), words[2:]
    else:
        raise ParseError(f"I don't understand {args[0][:20]!r}.")
    return _options(spec, rest)


def _options(spec: AlertSpec, words: list[str]) -> AlertSpec:
    i = 0
    repeat, cooldown, expires = False, DEFAULT_COOLDOWN, 0
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
        else:
            raise ParseError(f"Unknown option {word[:20]!r}: use repeat, cooldown 15m or for 7d.")
        i += 1
    return replace(spec, repeat=repeat, cooldown=cooldown, expires_in=expires)
