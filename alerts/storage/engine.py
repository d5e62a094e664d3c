"""The alert engine: crossing detection over per-symbol sorted-set indexes.

A tick from p0 to p1 asks Redis only for the alerts whose level lies between
the two (`ZRANGEBYSCORE`), so a tick where nothing fires costs O(log N) and
never touches the other alerts. Claiming is one Lua script per series: it
records the evaluated value, removes the crossed alerts, updates them and
appends their delivery jobs to the outbox stream in one atomic step, so two
engines evaluating the same tick can never both claim an alert. Move alerts
work the same way on the move of each window (`alerts/storage/move_claims.py`).

Scripts check every key type and record before their first write; what they
skip is reported through `BadRecords` (logged once, counted).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from alerts.domain.alert import HYSTERESIS, Alert, AlertKind, Direction, Series
from alerts.domain.grammar import conditions_of
from alerts.storage.keys import HISTORY_TTL_SECONDS, RECORDS_PER_BUCKET, Keys
from alerts.storage.move_claims import MoveClaims
from alerts.storage.scripts import BadRecords, load_lua
from alerts.storage.tick_history import TickHistory

log = logging.getLogger(__name__)

# Answers of the create script.
CREATED, QUOTA_REACHED, SYMBOL_CAP_REACHED = 1, 0, -1
DEFAULT_SYMBOLS_PER_CHAT = 20


class Scripts:
    """The registered Lua scripts of one Redis client (EVALSHA with EVAL fallback)."""

    def __init__(self, redis: Redis) -> None:
        self.claim = redis.register_script(load_lua("claim"))
        self.create = redis.register_script(load_lua("create"))
        self.remove = redis.register_script(load_lua("remove"))
        self.snooze = redis.register_script(load_lua("snooze"))


def context_argv(keys: Keys) -> list[Any]:
    """ARGV[1..7] of the claim scripts: where records, chats and history live."""
    return [
        keys.bucket_prefix,
        RECORDS_PER_BUCKET,
        keys.chat_prefix,
        keys.history_prefix,
        keys.paused(""),
        HISTORY_TTL_SECONDS,
        keys.chat_symbols_prefix,
    ]


def series_of(alert: Alert) -> str:
    """The series a one-series alert is indexed on (a condition alert names it in `cond`)."""
    if alert.kind in (AlertKind.CONDITION_UP, AlertKind.CONDITION_DOWN):
        return conditions_of(alert.cond)[0].series
    return alert.series


class Engine:
    """Evaluates ticks against the indexes; emits delivery jobs into the outbox."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        history: TickHistory | None = None,
        *,
        bad: BadRecords | None = None,
        symbols_per_chat: int = DEFAULT_SYMBOLS_PER_CHAT,
        free_symbols: Sequence[str] = (),
    ) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.
        self.redis: Any = redis
        self.keys = keys
        self.bad = bad or BadRecords()
        self.history = history or TickHistory(redis, keys, self.bad)
        self.scripts = Scripts(redis)
        self.moves = MoveClaims(redis, keys, self.history, self.bad, self._context)
        self.symbols_per_chat = symbols_per_chat
        self.free_symbols = list(free_symbols)  # the defaults: never count toward the cap
        self.fired_total = 0
        self.evaluations = 0

    def _context(self) -> list[Any]:
        return context_argv(self.keys)

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
            k.active,
            k.legs(symbol, series),
        ]
        argv = [
            *self._context(), series, repr(value), repr(tick), str(now), repr(HYSTERESIS),
            k.leg_state_prefix,
        ]  # fmt: skip
        try:
            status, fired, bad = await self.scripts.claim(keys=keys, args=argv)
        except ResponseError as exc:
            self.bad.check(f"claim {symbol} {series}", exc)
            return 0
        self.bad.report(f"claim {symbol} {series}", "record", bad)
        self.evaluations += status == 1
        self.fired_total += int(fired)
        return int(fired)

    async def evaluate_moves(self, symbol: str, price: float, tick: float, now: int) -> int:
        """Every window's move alerts of one symbol for one tick (one script call)."""
        fired = await self.moves.evaluate(symbol, price, tick, now)
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

    def _sets(self, alert: Alert) -> list[str]:
        """The index and wait sets this alert can be in (a multi-condition alert: none,
        its legs are dropped with it by the scripts)."""
        k, s = self.keys, alert.symbol
        if alert.kind is AlertKind.MOVE:
            return [k.move_index(s, alert.window), k.move_rearm(s, alert.window)]
        if alert.kind is AlertKind.CONDITIONS:
            return []
        series = series_of(alert)
        return [
            k.index(s, series, Direction.UP),
            k.index(s, series, Direction.DOWN),
            k.rearm(s, series, Direction.UP),
            k.rearm(s, series, Direction.DOWN),
        ]

    def create_call(self, alert: Alert, quota: int) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of the create script (bulk loaders pipeline the same call)."""
        k = self.keys
        legs: list[Any] = []
        if alert.kind is AlertKind.MOVE:
            target = k.move_index(alert.symbol, alert.window)
        elif alert.kind is AlertKind.CONDITIONS:
            target = k.leg_state(alert.id)
            for c in conditions_of(alert.cond):
                way = "u" if c.direction is Direction.UP else "d"
                legs += [k.legs(alert.symbol, c.series), c.series, way, repr(c.level)]
        else:
            target = k.index(alert.symbol, series_of(alert), alert.direction)
        keys = [
            k.chat(alert.chat),
            k.bucket(alert.id),
            target,
            k.expiry,
            k.active,
            k.chat_symbols(alert.chat),
            k.watchlist(alert.chat),
            k.last(alert.symbol),
        ]
        argv = [
            alert.id, alert.pack(), repr(alert.level), quota, alert.expires, alert.symbol,
            self.symbols_per_chat, len(legs) // 4, *legs, *self.free_symbols,
        ]  # fmt: skip
        return keys, argv

    async def create(self, alert: Alert, quota: int) -> int:
        """Store an armed alert: CREATED, QUOTA_REACHED or SYMBOL_CAP_REACHED."""
        keys, argv = self.create_call(alert, quota)
        try:
            return int(await self.scripts.create(keys=keys, args=argv))
        except ResponseError as exc:
            self.bad.check("create", exc)  # reported; nothing was written
            raise

    def remove_keys(self, alert: Alert) -> list[str]:
        k = self.keys
        return [
            k.bucket(alert.id),
            k.chat(alert.chat),
            k.expiry,
            k.outbox,
            k.active,
            k.chat_symbols(alert.chat),
            *self._sets(alert),
        ]

    async def remove(self, alert: Alert, *, owner: str, reason: str, now: int) -> bool:
        keys = self.remove_keys(alert)
        argv: list[int | str] = [alert.id, owner, reason, now, self.keys.leg_state_prefix]
        status = int(await self.scripts.remove(keys=keys, args=argv))
        if status == -1:
            self.bad.report("remove", "record", [alert.id])
        return status == 1

    async def expire_due(self, now: int, batch: int = 500) -> int:
        """Remove expired alerts (their owners are told once, via the outbox)."""
        ids = await self.redis.zrangebyscore(self.keys.expiry, "-inf", now, start=0, num=batch)
        removed = 0
        for raw in ids:
            alert = await self.get(int(raw))
            if alert is None:
                if not await self.redis.hexists(self.keys.bucket(int(raw)), raw):
                    await self.redis.zrem(self.keys.expiry, raw)  # a bad record stays listed
                continue
            removed += await self.remove(alert, owner="", reason="expire", now=now)
        return removed

    async def get(self, alert_id: int) -> Alert | None:
        """The stored alert; None when it is gone, or when its record is bad (reported)."""
        packed = await self.redis.hget(self.keys.bucket(alert_id), str(alert_id))
        if packed is None:
            return None
        try:
            return Alert.unpack(alert_id, packed)
        except (ValueError, IndexError):
            self.bad.report("read", "record", [alert_id])
            return None

    async def count_active(self) -> int:
        """Stored alerts, from the counter the scripts keep (O(1), no scan)."""
        return max(0, int(await self.redis.get(self.keys.active) or 0))

    async def snooze(self, alert_id: int, owner: str, until: int) -> int:
        """Keep a repeat alert quiet until `until`: 1 done, 0 gone / not owner's, -1 not repeat."""
        keys = [self.keys.bucket(alert_id)]
        status = int(await self.scripts.snooze(keys=keys, args=[alert_id, owner, until]))
        if status == -2:
            self.bad.report("snooze", "record", [alert_id])
            return 0
        return status

    async def next_id(self) -> int:
        return int(await self.redis.incr(self.keys.seq))
