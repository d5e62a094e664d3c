"""What command handlers act on, built by the composition root (`bot/app.py`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.regime import Regime, classify, index_stats
from bot.store import MarketStore, Snapshot
from handlers.reply import UserError

if TYPE_CHECKING:
    from alerts.service import AlertService

MAX_SYMBOL_CHARS = 15


@dataclass
class Services:
    """Shared state of the handlers; no transport details in here."""

    settings: Settings
    store: MarketStore
    is_listed: Callable[[str], bool]
    clock: Callable[[], float] = time.time
    alerts: AlertService | None = None
    notes: list[str] = field(default_factory=list)

    def parse_symbol(self, raw: str | None) -> str:
        """`link`, `LINK`, `LINK/USDT`, `linkusdt` → `LINK/USDT`; anything else: UserError."""
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
        if base not in self.settings.tracked_bases:
            listed = self.is_listed(symbol)
            hint = f"Watched: {watch}."
            what = "is listed but not tracked" if listed else "is not a market I know"
            raise UserError(f"{symbol} {what}.", hint)
        return symbol

    async def fresh_snapshot(self, symbol: str) -> tuple[Snapshot | None, bool]:
        """The snapshot and whether it is stale."""
        snap = await self.store.snapshot(symbol)
        if snap is None:
            return None, True
        return snap, self.store.is_stale(snap.fetched_at, self.clock())

    async def regime(self) -> tuple[Regime, float | None]:
        """The current regime and the age in seconds of the R2K data behind it."""
        rows, fetched_at = await self.store.index()
        coins: dict[str, list[float]] = {}
        for base in self.settings.coins:
            candles = await self.store.daily(f"{base}/{self.settings.quote}")
            coins[base] = [c.close for c in candles]
        btc = [c.close for c in await self.store.daily(f"BTC/{self.settings.quote}")]
        age = None if fetched_at is None else self.clock() - fetched_at
        return classify(index_stats(rows), coins, btc), age
