"""The numbers behind the admin-only /stats command, gathered from Redis on demand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerts.storage.engine import Engine
from alerts.storage.keys import Keys
from alerts.storage.market_store import MarketStore
from alerts.storage.outbox import DeliveryWorker


@dataclass(frozen=True, slots=True)
class BotStats:
    """A snapshot for operators: how big the bot is and whether it keeps up."""

    users: int
    active_alerts: int
    fired_today: int
    queue_length: int
    queue_pending: int
    dead_letters: int
    last_poll_age: float | None


def fired_today_field(now: float) -> str:
    """The `P:stats` hash field counting alerts fired on `now`'s UTC day."""
    return "fired:" + datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


class StatsSource:
    """Callable that reads a fresh `BotStats` (wired by the composition root)."""

    def __init__(
        self,
        redis: Any,
        keys: Keys,
        engine: Engine,
        store: MarketStore,
        worker: DeliveryWorker,
        clock: Callable[[], float],
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.engine = engine
        self.store = store
        self.worker = worker
        self.clock = clock

    async def __call__(self) -> BotStats:
        now = self.clock()
        users = int(await self.redis.scard(self.keys.users))
        fired = await self.redis.hget(self.keys.stats, fired_today_field(now))
        length, pending = await self.worker.depth()
        feed = await self.store.feed_status("exchange")
        return BotStats(
            users=users,
            active_alerts=await self.engine.count_active(),
            fired_today=int(fired or 0),
            queue_length=length,
            queue_pending=pending,
            dead_letters=await self.worker.dead.count(),
            last_poll_age=None if feed.last_ok is None else max(0.0, now - feed.last_ok),
        )
