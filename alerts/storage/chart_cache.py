"""Rendered charts shared by every chat, and the per-chat chart budget.

A render costs ~0.45 s of the one render process, so a chart is rendered once per
name (symbol, range and data version; nothing chat-specific) and shared: one render
in flight per name in this process (everyone asking meanwhile awaits it), and the
PNG in Redis for `CHART_CACHE_SECONDS` for every replica. A chat's own alert levels
are drawn over the shared image afterwards (bot/charts.py `draw_levels`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from alerts.storage.keys import CHART_RATE_WINDOW_SECONDS
from alerts.storage.market_store import MarketStore

CHARTS_PER_MINUTE = 6

Render = Callable[[], Awaitable[bytes]]


class ChartCache:
    """Single-flight renders over the Redis chart cache; `on_render` counts real renders."""

    def __init__(
        self,
        store: MarketStore,
        *,
        per_minute: int = CHARTS_PER_MINUTE,
        on_render: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.
        self.redis: Any = store.redis
        self.per_minute = per_minute
        self.on_render = on_render
        self._inflight: dict[str, asyncio.Task[bytes]] = {}

    async def png(self, name: str, render: Render) -> bytes:
        """The chart `name`: from Redis, from a render in flight, or rendered now."""
        task = self._inflight.get(name)
        if task is None:
            task = asyncio.ensure_future(self._cached_or_render(name, render))
            self._inflight[name] = task
            task.add_done_callback(lambda _: self._inflight.pop(name, None))
        # shielded: a caller that gives up (e.g. its chat timed out) never cancels the others'
        return await asyncio.shield(task)

    async def _cached_or_render(self, name: str, render: Render) -> bytes:
        cached = await self.store.chart(name)
        if cached is not None:
            return cached
        png = await render()
        if self.on_render is not None:
            self.on_render()
        await self.store.save_chart(name, png)  # saved before the task ends: no gap to re-render
        return png

    async def wait_seconds(self, chat: str) -> int:
        """0 when the chat may have another chart now, else the seconds until it may."""
        key = self.store.keys.chart_rate(chat)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, CHART_RATE_WINDOW_SECONDS, nx=True)
        pipe.ttl(key)
        count, _, ttl = await pipe.execute()
        return 0 if int(count) <= self.per_minute else max(1, int(ttl))
