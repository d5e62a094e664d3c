"""Next-word suggestions for the condition language (Discord's /alert autocomplete).

Suggestions follow the grammar of `alerts/domain/conditions.py` word by word, so a user
who only taps suggestions writes a condition the parser accepts; the parser still
checks the final text (this module never decides what is valid).
"""

from __future__ import annotations

from alerts.domain.conditions import ParseError
from alerts.domain.grammar import parse_alert_args
from alerts.domain.indicators import Timeframe

FRAMES = [t.value for t in Timeframe]
STARTERS = ["rsi14", "ema9", "sma50", "price", "macd", "bb20", "mcap", "above", "below", "volume"]
AFTER = ["and", "intrabar", "repeat", "for"]
CROSS_TARGETS = ["ema21", "ema50", "sma50", "sma200"]
EXAMPLES = [
    "rsi14 1h above 70",
    "rsi14 4h below 30",
    "ema9 1h crosses above ema21",
    "sma50 1d crosses below sma200",
    "price 4h crosses above sma200",
    "macd 4h crosses above signal",
    "bb20 1h breaks upper",
    "mcap above 10B",
    "above 15 and rsi14 1h below 70",
]
MAX_SUGGESTIONS = 25


def _indicator_next(words: list[str]) -> list[str]:
    head, n = words[0], len(words)
    if n == 1:
        return FRAMES
    if n == 2:
        if head.startswith("bb"):
            return ["breaks"]
        if head.startswith("rsi"):
            return ["above", "below"]
        return ["crosses", "above", "below"]
    verb = words[2]
    if n == 3:
        if verb == "breaks":
            return ["upper", "lower"]
        if verb == "crosses":
            return ["above", "below"]
        return ["70", "30"] if head.startswith("rsi") else []
    if n == 4 and verb == "crosses":
        return ["signal"] if head.startswith("macd") else CROSS_TARGETS
    return AFTER


def next_words(words: list[str]) -> list[str]:
    """Words that may follow `words` (the complete words of one condition so far)."""
    if not words:
        return STARTERS
    head, n = words[0], len(words)
    if head in ("above", "below"):
        return [] if n == 1 else AFTER
    if head == "volume":
        return ["2x", "3x", "5x"] if n == 1 else AFTER
    if head == "mcap":
        return ["above", "below"] if n == 1 else (["1B", "10B", "100B"] if n == 2 else AFTER)
    return _indicator_next(words)


def suggestions(typed: str) -> list[str]:
    """Whole-text completions of what was typed: the text itself when it parses, then
    each next word (or the examples, when nothing is typed yet)."""
    text = " ".join(typed.lower().split())
    if not text:
        return EXAMPLES
    words = text.split()
    partial = "" if typed.endswith(" ") else words.pop()
    condition = words[len(words) - words[::-1].index("and") :] if "and" in words else words
    out = []
    try:
        parse_alert_args(text.split())
        out.append(text)
    except ParseError:
        pass
    for word in next_words(condition):
        if word.startswith(partial) and word != partial:
            out.append(" ".join([*words, word]))
    return out[:MAX_SUGGESTIONS]
