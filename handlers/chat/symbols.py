"""Coin symbols as users type them: `link`, `LINK/USDT`, `linkusdt` → `LINK/USDT`.

Chat input, not market logic: the parser knows the watched coins, whether the
exchange lists a market, and suggests close spellings of listed ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from alerts.domain.errors import UserError
from alerts.domain.market import Universe

MAX_SYMBOL_CHARS = 15


def no_symbols() -> Iterable[str]:
    """No exchange list to suggest from (suggestions are skipped)."""
    return ()


@dataclass(frozen=True)
class SymbolParser:
    """Turns user text into a market symbol, or a `UserError` that says what is wrong."""

    universe: Universe
    is_listed: Callable[[str], bool]
    listed_symbols: Callable[[], Iterable[str]] = no_symbols

    def parse(self, raw: str | None, *, any_listed: bool = False) -> str:
        """`link`, `LINK`, `LINK/USDT`, `linkusdt` → `LINK/USDT`; anything else: UserError.

        Only the default symbols pass unless `any_listed` (then any market the
        exchange lists against the quote currency, e.g. for /watch add).
        """
        watch = ", ".join(self.universe.tracked_bases)
        if not raw:
            raise UserError("Which coin?", f"For example /coin LINK. Watched: {watch}.")
        quote = self.universe.quote
        text = raw.strip().upper()
        if len(text) > MAX_SYMBOL_CHARS + len(quote) + 1 or not text.isascii():
            raise UserError("That does not look like a coin symbol.", f"Watched: {watch}.")
        if "/" in text:
            base, _, q = text.partition("/")
            if q != quote:
                raise UserError(f"Only {quote} markets are tracked.", f"Try /coin {base}")
        elif text.endswith(quote) and len(text) > len(quote):
            base = text[: -len(quote)]
        else:
            base = text
        if not base.isalnum():
            raise UserError("That does not look like a coin symbol.", f"Watched: {watch}.")
        symbol = f"{base}/{quote}"
        if base in self.universe.tracked_bases:
            return symbol
        if self.is_listed(symbol):
            if any_listed:
                return symbol
            raise UserError(
                f"{symbol} is listed but not tracked.",
                f"Watched: {watch}. Add it with /watch add {base}.",
            )
        close = self.close_matches(base)
        maybe = f"Did you mean {', '.join(close)}? " if close else ""
        raise UserError(f"{symbol} is not a market I know.", f"{maybe}Watched: {watch}.")

    def close_matches(self, base: str, n: int = 3) -> list[str]:
        """Listed coins (against the quote currency) spelled like `base`."""
        suffix = f"/{self.universe.quote}"
        bases = {s[: -len(suffix)] for s in self.listed_symbols() if s.endswith(suffix)}
        return difflib.get_close_matches(base, sorted(bases), n=n, cutoff=0.6)
