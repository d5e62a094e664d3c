"""What command handlers act on: typed use cases, built by the composition root.

Every part is required: a handler never has to ask whether alerts or watchlists are
"available".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from alerts.domain.chat import BadChatKey, ChatAddress, Transport
from alerts.domain.errors import UserError
from alerts.domain.freshness import Freshness
from alerts.domain.market import TickerSource, Universe
from alerts.storage.chart_cache import ChartCache
from alerts.storage.digests import Digests
from alerts.storage.market_store import MarketStore
from alerts.storage.subscriptions import Subscriptions
from alerts.storage.watchlists import Watchlists
from alerts.usecases.alerts import AlertService
from alerts.usecases.market import MarketView
from alerts.usecases.stats import BotStats
from alerts.usecases.webhooks import WebhookService
from handlers.chat.reply import Request
from handlers.chat.symbols import SymbolParser


@dataclass(frozen=True)
class Services:
    """The use cases and settings the command handlers need; no transport details."""

    universe: Universe
    freshness: Freshness
    store: MarketStore
    market: MarketView
    alerts: AlertService
    subscriptions: Subscriptions
    watchlists: Watchlists
    digests: Digests
    stats: Callable[[], Awaitable[BotStats]]
    symbols: SymbolParser
    bars: TickerSource  # `fetch_bars` for /chart SYMBOL 1h (the exchange, or the replay)
    clock: Callable[[], float]
    charts: ChartCache
    webhooks: WebhookService
    # a chat got a new id (group → supergroup): moves its state, returns alerts moved
    migrate_chat: Callable[[str, str], Awaitable[int]]
    admin_ids: frozenset[int] = frozenset()

    def is_operator(self, req: Request) -> bool:
        """The local console, or the chat or user (`tg:42`, `dc:u:7` → 42, 7) is in
        ADMIN_CHAT_IDS."""
        for key in (req.chat, req.user):
            try:
                address = ChatAddress.parse(key)
            except BadChatKey:
                continue
            if address.transport is Transport.CONSOLE or address.numeric_id in self.admin_ids:
                return True
        return False

    async def tracked_symbol(self, raw: str | None) -> str:
        """A default symbol, or a watched one already polled; the rest get a clear error."""
        symbol = self.symbols.parse(raw, any_listed=True)
        base = symbol.split("/")[0]
        if base in self.universe.tracked_bases:
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
