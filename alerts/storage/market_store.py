"""Market snapshots, feed health and history caches in Redis.

Readers (chat replies, health, the regime) only go through here; whether what
they read is stale is the one rule of `alerts.domain.freshness`.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from alerts.domain.market import Candle, DailyClose, Ticker
from alerts.storage.keys import (
    BACKTEST_HISTORY_SECONDS,
    CHART_CACHE_SECONDS,
    DAILY_CACHE_SECONDS,
    Keys,
)
from alerts.storage.scripts import BadRecords
from alerts.storage.tick_history import TickHistory


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The latest accepted ticker of a market, as stored."""

    symbol: str
    price: float
    change_pct: float | None
    quote_volume: float | None
    fetched_at: float
    held_price: float | None = None

    def age(self, now: float) -> float:
        return max(0.0, now - self.fetched_at)


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """Health of one feed: when it last worked and what failed since."""

    last_ok: float | None
    last_error: str | None
    last_error_at: float | None
    consecutive_errors: int


def _opt(value: str | None) -> float | None:
    return None if value is None or value == "" else float(value)


class MarketStore:
    """Reads and writes market state under one key prefix."""

    def __init__(self, redis: Redis, keys: Keys, bad: BadRecords | None = None) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.
        self.redis: Any = redis
        self.keys = keys
        self.history = TickHistory(redis, keys, bad or BadRecords())

    async def save_tickers(self, tickers: list[Ticker], fetched_at: float) -> None:
        """Store accepted tickers and fold them into the price history, in one round trip."""
        pipe = self.redis.pipeline(transaction=False)
        for t in tickers:
            fields = {
                "price": repr(t.price),
                "change_pct": "" if t.change_pct is None else repr(t.change_pct),
                "quote_volume": "" if t.quote_volume is None else repr(t.quote_volume),
                "fetched_at": repr(fetched_at),
                "held_price": "",
            }
            pipe.hset(self.keys.snapshot(t.symbol), mapping=fields)
            await self.history.queue(pipe, t.symbol, fetched_at, t.price)
        replies = await pipe.execute(raise_on_error=False)
        for t, stored, folded in zip(tickers, replies[0::2], replies[1::2], strict=True):
            if isinstance(stored, Exception):
                raise stored
            self.history.check(t.symbol, fetched_at, folded)

    async def mark_held(self, symbol: str, price: float) -> None:
        """Remember a suspicious tick so replies can mention it; the price is not used."""
        await self.redis.hset(self.keys.snapshot(symbol), "held_price", repr(price))

    async def snapshot(self, symbol: str) -> Snapshot | None:
        raw = await self.redis.hgetall(self.keys.snapshot(symbol))
        if not raw or not raw.get("price"):
            return None
        return Snapshot(
            symbol=symbol,
            price=float(raw["price"]),
            change_pct=_opt(raw.get("change_pct")),
            quote_volume=_opt(raw.get("quote_volume")),
            fetched_at=float(raw["fetched_at"]),
            held_price=_opt(raw.get("held_price")),
        )

    async def feed_ok(self, name: str, now: float) -> None:
        await self.redis.hset(
            self.keys.feed(name), mapping={"last_ok": repr(now), "consecutive_errors": "0"}
        )

    async def feed_error(self, name: str, error: str, now: float) -> None:
        key = self.keys.feed(name)
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, mapping={"last_error": error, "last_error_at": repr(now)})
        pipe.hincrby(key, "consecutive_errors", 1)
        await pipe.execute()

    async def feed_status(self, name: str) -> FeedStatus:
        raw = await self.redis.hgetall(self.keys.feed(name))
        return FeedStatus(
            last_ok=_opt(raw.get("last_ok")),
            last_error=raw.get("last_error") or None,
            last_error_at=_opt(raw.get("last_error_at")),
            consecutive_errors=int(raw.get("consecutive_errors") or 0),
        )

    async def save_daily(self, symbol: str, candles: list[Candle]) -> None:
        rows = [[c.ts, c.open, c.high, c.low, c.close, c.volume] for c in candles]
        await self.redis.set(self.keys.daily(symbol), json.dumps(rows), ex=DAILY_CACHE_SECONDS)

    async def daily(self, symbol: str) -> list[Candle]:
        raw = await self.redis.get(self.keys.daily(symbol))
        if not raw:
            return []
        return [Candle(int(r[0]), *map(float, r[1:6])) for r in json.loads(raw)]

    async def save_index(self, rows: list[DailyClose], fetched_at: float) -> None:
        payload = json.dumps({"fetched_at": fetched_at, "rows": [[r.ts, r.close] for r in rows]})
        await self.redis.set(self.keys.r2k, payload)

    async def index(self) -> tuple[list[DailyClose], float | None]:
        """The stored R2K history and when it was fetched."""
        raw = await self.redis.get(self.keys.r2k)
        if not raw:
            return [], None
        data = json.loads(raw)
        return [DailyClose(int(t), float(c)) for t, c in data["rows"]], float(data["fetched_at"])

    async def save_closes(self, name: str, rows: list[DailyClose], span: int) -> None:
        """Long history for the backtest, kept a day so reruns do not refetch years of data."""
        payload = json.dumps({"span": span, "rows": [[r.ts, r.close] for r in rows]})
        await self.redis.set(self.keys.closes(name), payload, ex=BACKTEST_HISTORY_SECONDS)

    async def closes(self, name: str, span: int = 0) -> list[DailyClose] | None:
        """Cached closes fetched for at least `span` days; None when absent or shorter."""
        raw = await self.redis.get(self.keys.closes(name))
        if not raw:
            return None
        data = json.loads(raw)
        if int(data["span"]) < span:
            return None
        return [DailyClose(int(t), float(c)) for t, c in data["rows"]]

    async def save_chart(self, name: str, png: bytes) -> None:
        """Cache a chart briefly so repeated taps do not re-render (base64: text client)."""
        encoded = base64.b64encode(png).decode()
        await self.redis.set(self.keys.chart(name), encoded, ex=CHART_CACHE_SECONDS)

    async def chart(self, name: str) -> bytes | None:
        raw = await self.redis.get(self.keys.chart(name))
        return base64.b64decode(raw) if raw else None
