"""Per-chat watchlists and the shared set of extra symbols the poller tracks.

A chat's watchlist is a set; a hash counts how many chats watch each symbol; the
`tracked` set holds every extra symbol that is watched or still has alerts. All
replicas read `tracked` each poll, so they agree on what to fetch. Adding checks
the per-chat symbol cap (watchlist and alert symbols together, so alerts cannot
keep more symbols tracked than the cap) and the global cap in one script; a
symbol leaves `tracked` only through the prune script, which checks watchers and
alert indexes atomically.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

from redis.asyncio import Redis

from alerts.storage.engine import DEFAULT_SYMBOLS_PER_CHAT
from alerts.storage.keys import Keys
from alerts.storage.scripts import load_lua

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 60.0
AddResult = Literal["added", "already", "chat_full", "cap"]
_ADD_RESULTS: dict[int, AddResult] = {1: "added", 0: "already", -1: "chat_full", -2: "cap"}


class Watchlists:
    """Watchlist use cases plus the poller's view of the extra tracked symbols."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        defaults: Sequence[str],
        cap: int,
        per_chat: int = DEFAULT_SYMBOLS_PER_CHAT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.
        self.redis: Any = redis
        self.keys = keys
        self.defaults = list(defaults)
        self.cap = cap
        self.per_chat = per_chat  # symbols per chat: watchlist and alerts together
        self.clock = clock
        self._add = redis.register_script(load_lua("watch_add"))
        self._remove = redis.register_script(load_lua("watch_remove"))
        self._prune = redis.register_script(load_lua("watch_prune"))
        self._pruned_at = float("-inf")

    @property
    def extra_cap(self) -> int:
        """How many symbols may be tracked beyond the defaults."""
        return max(0, self.cap - len(self.defaults))

    async def of(self, chat: str) -> list[str]:
        return sorted(await self.redis.smembers(self.keys.watchlist(chat)))

    async def add(self, chat: str, symbol: str) -> AddResult:
        k = self.keys
        keys = [k.watchlist(chat), k.watchers, k.tracked, k.chat_symbols(chat)]
        args: list[str | int] = [symbol, self.per_chat, self.extra_cap, *self.defaults]
        status = await self._add(keys=keys, args=args)
        return _ADD_RESULTS[int(status)]

    async def remove(self, chat: str, symbol: str) -> bool:
        """Unwatch; the symbol stays tracked while another chat or an alert uses it."""
        keys = [self.keys.watchlist(chat), self.keys.watchers]
        removed = bool(await self._remove(keys=keys, args=[symbol]))
        if removed:
            await self.prune([symbol])
        return removed

    async def is_tracked(self, symbol: str) -> bool:
        if symbol in self.defaults:
            return True
        return bool(await self.redis.sismember(self.keys.tracked, symbol))

    async def keep_tracked(self, symbol: str) -> None:
        """Re-pin a symbol an alert was just created on (closes a race with `prune`)."""
        if symbol not in self.defaults:
            await self.redis.sadd(self.keys.tracked, symbol)

    async def count(self) -> int:
        """All tracked symbols: defaults plus extras."""
        return len(self.defaults) + int(await self.redis.scard(self.keys.tracked))

    async def tracked(self) -> list[str]:
        """The extra symbols for this poll (sorted); prunes unused ones once a minute."""
        now = self.clock()
        if now - self._pruned_at >= PRUNE_EVERY_SECONDS:
            self._pruned_at = now
            await self.prune()
        return sorted(await self.redis.smembers(self.keys.tracked))

    async def prune(self, symbols: Iterable[str] | None = None) -> list[str]:
        """Drop tracked symbols nobody watches and no alert uses; returns those dropped."""
        if symbols is None:
            members = set(await self.redis.smembers(self.keys.tracked))
            watched = set(await self.redis.hkeys(self.keys.watchers))
            symbols = members - watched
        candidates = sorted(set(symbols))
        if not candidates:
            return []
        keys = [self.keys.tracked, self.keys.watchers]
        for symbol in candidates:
            keys.extend(self.keys.alert_zsets(symbol))
        args = [len(self.keys.alert_zsets("")), *candidates]
        removed = [str(s) for s in await self._prune(keys=keys, args=args)]
        if removed:
            log.info("no longer tracking %s (unwatched, no alerts)", ", ".join(removed))
        return removed
