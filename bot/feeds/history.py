"""Loading the backtest's daily history from the feeds (cached in Redis for a day).

Kept apart from the statistics in `alerts.domain.backtest`, which are pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence

from alerts.domain.backtest import HISTORY_DAYS, R2K, History, closes_of, history_of
from alerts.domain.market import DailyClose, IndexSource, TickerSource
from alerts.storage.market_store import MarketStore


async def load_history(
    exchange: TickerSource,
    index: IndexSource,
    store: MarketStore,
    symbols: Sequence[str],
    *,
    btc: str = "BTC/USDT",
    days: int = HISTORY_DAYS,
) -> History:
    """Years of daily closes (paginated fetches), cached in Redis for a day.

    A market the exchange does not list is cached as empty too, so a rerun within
    the TTL makes no request at all. Feed errors propagate as `MarketError`s.
    """
    wanted = list(dict.fromkeys([btc, *symbols]))
    closes: dict[str, list[DailyClose]] = {}
    todo = []
    for symbol in wanted:
        cached = await store.closes(symbol, days)
        if cached is None:
            todo.append(symbol)
        else:
            closes[symbol] = cached
    if todo:
        unlisted = set(await exchange.load(todo))
        for symbol in todo:
            rows = [] if symbol in unlisted else closes_of(await exchange.fetch_daily(symbol, days))
            await store.save_closes(symbol, rows, days)
            closes[symbol] = rows
    r2k = await store.closes(R2K)
    if r2k is None:
        r2k = await index.fetch_daily(full=True)
        await store.save_closes(R2K, r2k, 0)
    return history_of(r2k, closes, btc, symbols)
