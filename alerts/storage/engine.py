"""The alert engine: crossing detection over per-symbol sorted-set indexes.

A tick from p0 to p1 asks Redis only for the alerts whose level lies between
the two (`ZRANGEBYSCORE`), so a tick where nothing fires costs O(log N) and
never touches the other alerts. Claiming is one Lua script per series: it
records the evaluated value, removes the crossed alerts, updates them and
appends their delivery jobs to the outbox stream in one atomic step, so two
engines evaluating the same tick can never both claim an alert.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from redis.asyncio import Redis

from alerts.domain.alert import HYSTERESIS, Alert, AlertKind, Direction, Series
from alerts.storage.keys import HISTORY_TTL_SECONDS, Keys

log = logging.getLogger(__name__)

TickHistory = Callable[[str, float], Awaitable[list[tuple[float, float]]]]


def load_lua(name: str, *, with_common: bool = False) -> str:
    """Script text from alerts/lua; claim scripts share common.lua's helpers."""
    folder = resources.files("alerts.storage") / "lua"
    text = (folder / f"{name}.lua").read_text(encoding="utf-8")
    if with_common:
        text = (folder / "common.lua").read_text(encoding="utf-8") + "\n" + text
    return text


class Scripts:
    """The registered Lua scripts of one Redis client (EVALSHA with EVAL fallback)."""

    def __init__(self, redis: Redis) -> None:
        self.claim = redis.register_script(load_lua("claim", with_common=True))
        self.claim_group = redis.register_script(load_lua("claim_group", with_common=True))
        self.create = redis.register_script(load_lua("create"))
        self.remove = redis.register_script(load_lua("remove"))
        self.snooze = redis.register_script(load_lua("snooze", with_common=True))


def move_happened(ticks: list[tuple[float, float]], price: float, pct: float) -> bool:
    """True when `price` is at least `pct`% away from the low or high of the window."""
    if not ticks:
        return False
    low = min(p for _, p in ticks)
    high = max(p for _, p in ticks)
    return (low > 0 and (price / low - 1) * 100 >= pct) or (
        high > 0 and (1 - price / high) * 100 >= pct
    )


class Engine:
    """Evaluates ticks against the indexes; emits delivery jobs into the outbox."""

    def __init__(self, redis: Redis, keys: Keys, tick_history: TickHistory) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.

        self.redis: Any = redis
        self.keys = keys
        self.scripts = Scripts(redis)
        self.tick_history = tick_history
        self.fired_total = 0
        self.evaluations = 0

    def _common_argv(self) -> list[str]:
        k = self.keys
        return [
            k.bucket_prefix,
            k.chat_prefix,
            k.history_prefix,
            k.paused(""),
            str(HISTORY_TTL_SECONDS),
        ]

    async def evaluate(self, symbol: str, series: str, value: float, tick: float, now: int) -> int:
        """Evaluate one value of one series; returns the number of alerts fired."""
        k = self.keys
        keys = [
            k.last(symbol),
            k.index(symbol, series, Direction.UP),
            k.index(symbol, series, Direction.DOWN),
            k.rearm(symbol, series, Direction.UP),
            k.rearm(symbol, series, Direction.DOWN),
            k.outbox,
            k.expiry,
        ]
        argv: list[Any] = [
            series,
            repr(value),
            repr(tick),
            str(now),
            *self._common_argv(),
            repr(HYSTERESIS),
        ]
        status, fired = await self.scripts.claim(keys=keys, args=argv)
        self.evaluations += status == 1
        self.fired_total += int(fired)
        return int(fired)

    async def evaluate_moves(self, symbol: str, price: float, tick: float, now: int) -> int:
        """Move alerts are grouped by (window, size): one check per group, not per alert."""
        groups = await self.redis.smembers(self.keys.move_groups(symbol))
        fired = 0
        for group in groups:
            window_s, pct_s = group.split(":")
            window, pct = int(window_s), float(pct_s)
            group_key = self.keys.move_group(symbol, window, pct)
            ticks = await self.tick_history(symbol, tick - window)
            if not move_happened(ticks, price, pct):
                continue
            keys = [group_key, self.keys.outbox, self.keys.expiry, self.keys.last(symbol)]
            argv = [repr(price), repr(tick), str(now), *self._common_argv(), f"move:{group}:ts"]
            _, n = await self.scripts.claim_group(keys=keys, args=argv)
            fired += int(n)
            if not await self.redis.exists(group_key):
                await self.redis.srem(self.keys.move_groups(symbol), group)
        self.fired_total += fired
        return fired

    async def on_tick(
        self, symbol: str, price: float, tick: float, now: int, volume_ratio: float | None
    ) -> int:
        """Every alert kind for one accepted tick of one symbol."""
        fired = await self.evaluate(symbol, Series.PRICE, price, tick, now)
        if volume_ratio is not None:
            fired += await self.evaluate(symbol, Series.VOLUME, volume_ratio, tick, now)
        fired += await self.evaluate_moves(symbol, price, tick, now)
        return fired

    def create_call(self, alert: Alert, quota: int) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of the create script (bulk loaders pipeline the same call)."""
        k = self.keys
        if alert.kind is AlertKind.MOVE:
            group = f"{alert.window}:{alert.level:g}"
            target = k.move_group(alert.symbol, alert.window, alert.level)
        else:
            group = ""
            target = k.index(alert.symbol, alert.series, alert.direction)
        keys = [
            k.chat(alert.chat),
            k.bucket(alert.id),
            target,
            k.move_groups(alert.symbol),
            k.expiry,
        ]
        argv = [alert.id, alert.pack(), repr(alert.level), quota, alert.expires, group]
        return keys, argv

    async def create(self, alert: Alert, quota: int) -> bool:
        """Store an armed alert; False when the chat's quota is reached."""
        keys, argv = self.create_call(alert, quota)
        return bool(await self.scripts.create(keys=keys, args=argv))

    def remove_keys(self, alert: Alert) -> list[str]:
        k, s = self.keys, alert.symbol
        is_move = alert.kind is AlertKind.MOVE
        group = k.move_group(s, alert.window, alert.level) if is_move else k.move_groups(s)
        return [
            k.bucket(alert.id),
            k.chat(alert.chat),
            k.index(s, alert.series, Direction.UP),
            k.index(s, alert.series, Direction.DOWN),
            k.rearm(s, alert.series, Direction.UP),
            k.rearm(s, alert.series, Direction.DOWN),
            group,
            k.expiry,
            k.outbox,
        ]

    async def remove(self, alert: Alert, *, owner: str, reason: str, now: int) -> bool:
        keys = self.remove_keys(alert)
        return bool(await self.scripts.remove(keys=keys, args=[alert.id, owner, reason, now]))

    async def expire_due(self, now: int, batch: int = 500) -> int:
        """Remove expired alerts (their owners are told once, via the outbox)."""
        ids = await self.redis.zrangebyscore(self.keys.expiry, "-inf", now, start=0, num=batch)
        removed = 0
        for raw in ids:
            alert = await self.get(int(raw))
            if alert is None:
                await self.redis.zrem(self.keys.expiry, raw)
                continue
            removed += await self.remove(alert, owner="", reason="expire", now=now)
        return removed

    async def get(self, alert_id: int) -> Alert | None:
        packed = await self.redis.hget(self.keys.bucket(alert_id), str(alert_id))
        return None if packed is None else Alert.unpack(alert_id, packed)

    async def count_active(self) -> int:
        """Armed alerts in all price/volume indexes and move groups (for metrics)."""
        total = 0
        async for key in self.redis.scan_iter(match=f"{self.keys.prefix}:ix:*", count=500):
            total += int(await self.redis.zcard(key))
        async for key in self.redis.scan_iter(match=f"{self.keys.prefix}:mv:*", count=500):
            total += int(await self.redis.scard(key))
        return total

    async def snooze(self, alert_id: int, owner: str, until: int) -> int:
        """Keep a repeat alert quiet until `until`: 1 done, 0 gone / not owner's, -1 not repeat."""
        keys = [self.keys.bucket(alert_id)]
        return int(await self.scripts.snooze(keys=keys, args=[alert_id, owner, until]))

    async def next_id(self) -> int:
        return int(await self.redis.incr(self.keys.seq))
