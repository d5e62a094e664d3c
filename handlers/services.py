"""What command handlers act on, built by the composition root (`bot/app.py`)."""

from __future__ import annotations

import asyncio
import difflib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.backtest import History, run_backtest
from bot.config import Settings
from bot.history import stored_history
from bot.market import DailyClose
from bot.regime import Regime, classify, index_stats
from bot.store import MarketStore, Snapshot
from handlers.reply import UserError

if TYPE_CHECKING:
    from alerts.digests import Digests
    from alerts.service import AlertService
    from alerts.subscriptions import Subscriptions
    from alerts.watchlists import Watchlists
    from bot.stats import BotStats

MAX_SYMBOL_CHARS = 15


def no_symbols() -> Iterable[str]:
    """Default `listed_symbols` when no exchange list is wired (suggestions are skipped)."""
    return ()


@dataclass
class Services:
    """Shared state of the handlers; no transport details in here."""

    settings: Settings
    store: MarketStore
    is_listed: Callable[[str], bool]
    clock: Callable[[], float] = time.time
    alerts: AlertService | None = None
    subscriptions: Subscriptions | None = None
    notes: list[str] = field(default_factory=list)
    listed_symbols: Callable[[], Iterable[str]] = no_symbols
    watchlists: Watchlists | None = None
    digests: Digests | None = None
    stats: Callable[[], Awaitable[BotStats]] | None = None  # admin /stats; set by the app
    # a chat got a new id (group → supergroup): moves its state, returns alerts moved
    migrate_chat: Callable[[str, str], Awaitable[int]] | None = None

    def parse_symbol(self, raw: str | None, *, any_listed: bool = False) -> str:
        """`link`, `LINK`, `LINK/USDT`, `linkusdt` → `LINK/USDT`; anything else: UserError.

        Only the default symbols pass unless `any_listed` (then any market the
        exchange lists against the quote currency, e.g. for /watch add).
        """
        watch = ", ".join(self.settings.tracked_bases)
        if not raw:
            raise UserError("Which coin?", f"For example /coin LINK. Watched: {watch}.")
        quote = self.settings.quote
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
        if base in self.settings.tracked_bases:
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
        suffix = f"/{self.settings.quote}"
        bases = {s[: -len(suffix)] for s in self.listed_symbols() if s.endswith(suffix)}
        return difflib.get_close_matches(base, sorted(bases), n=n, cutoff=0.6)

    async def tracked_symbol(self, raw: str | None) -> str:
        """A default symbol, or a watched one already polled; the rest get a clear error."""
        if self.watchlists is None:
            return self.parse_symbol(raw)
        symbol = self.parse_symbol(raw, any_listed=True)
        base = symbol.split("/")[0]
        if base in self.settings.tracked_bases:
            return symbol
        if not await self.watchlists.is_tracked(symbol):
            raise UserError(
                f"{symbol} is listed but not tracked.",
                f"Add it with /watch add {base}; tracking starts with the next poll.",
            )
        if await self.store.snapshot(symbol) is None:
            raise UserError(
                f"{symbol}: tracking starts with the next poll.", "Try again in a few seconds."
            )
        return symbol

    def index_stale(self, age: float | None) -> bool:
        """R2K data older than three index polls (or never fetched) is stale."""
        return age is None or age > 3 * self.settings.index_poll_interval_seconds

    async def fresh_snapshot(self, symbol: str) -> tuple[Snapshot | None, bool]:
        """The snapshot and whether it is stale."""
        snap = await self.store.snapshot(symbol)
        if snap is None:
            return None, True
        return snap, self.store.is_stale(snap.fetched_at, self.clock())

    async def regime(self) -> tuple[Regime, float | None]:
        """The current regime and the age in seconds of the R2K data behind it."""
        rows, fetched_at = await self.store.index()
        age = None if fetched_at is None else self.clock() - fetched_at
        return await self.regime_of(rows), age

    async def regime_of(self, rows: Sequence[DailyClose]) -> Regime:
        """The regime for these R2K rows and the stored coin and BTC history."""
        coins: dict[str, list[float]] = {}
        for base in self.settings.coins:
            candles = await self.store.daily(f"{base}/{self.settings.quote}")
            coins[base] = [c.close for c in candles]
        btc = [c.close for c in await self.store.daily(f"BTC/{self.settings.quote}")]
        return classify(index_stats(rows), coins, btc)

    async def history(self) -> History:
        """The longest daily history the store holds for the backtest (no network)."""
        quote = self.settings.quote
        symbols = [f"{base}/{quote}" for base in self.settings.coins]
        return await stored_history(self.store, symbols, btc=f"BTC/{quote}")

    async def evidence_line(self) -> str:
        """One line of what history says about the thesis, computed off the event loop."""
        result = await asyncio.to_thread(run_backtest, await self.history())
        return result.evidence_line()
