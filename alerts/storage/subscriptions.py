"""Signal subscriptions per chat, and the once-per-event fan-out of a signal.

Two sets mirror each other: a chat's subscriptions (`/subscriptions` reads it)
and a signal's subscribers (the fan-out reads it). A signal is claimed with
`SET mark NX` before any job is written, so a second detector (another replica,
or the same one after a restart) that sees the same event writes nothing.

The remaining at-most-once window: a process that dies after the claim but
before its fan-out pipeline ran loses that signal (nobody repeats it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from redis.asyncio import Redis

from alerts.domain.jobs import JobKind, Notice, notice_fields
from alerts.storage.keys import SIGNAL_DEDUP_TTL_SECONDS, Keys

SIGNALS: dict[str, str] = {
    "r2k": "Russell 2000 record closes, and the index coming within 1% of its record",
    "regime": "the regime label (/regime) changing",
    "altseason": "75% of the watched coins beating BTC over 90 days, or only 25%",
    "targets": "a watched coin reaching +40% / +100% / +150% from its reference price",
}
FANOUT_CHUNK = 500


class Claimable(Protocol):
    """Anything with an event id (a `Signal`, or a signal event before it is worded)."""

    @property
    def event(self) -> str: ...


E = TypeVar("E", bound=Claimable)


@dataclass(frozen=True, slots=True)
class Signal:
    """One event worth pushing: `event` is claimed once; `also` are marked with it."""

    name: str
    event: str
    title: str
    lines: list[str]
    also: tuple[str, ...] = field(default=())


class Subscriptions:
    """Reads and writes subscriptions; publishes signals to the outbox."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        # redis-py types replies for both decode modes; decode_responses=True gives str.
        self.redis: Any = redis
        self.keys = keys

    async def of(self, chat: str) -> list[str]:
        """The chat's subscriptions, in catalogue order."""
        names = await self.redis.smembers(self.keys.subscriptions(chat))
        return [name for name in SIGNALS if name in names]

    async def subscribe(self, chat: str, names: Sequence[str]) -> list[str]:
        """Subscribe; returns the names that were not subscribed before."""
        before = set(await self.of(chat))
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(self.keys.subscriptions(chat), *names)
        for name in names:
            pipe.sadd(self.keys.subscribers(name), chat)
        await pipe.execute()
        return [name for name in names if name not in before]

    async def unsubscribe(self, chat: str, names: Sequence[str] | None = None) -> list[str]:
        """Unsubscribe from `names` (None: all); returns the names actually removed."""
        current = await self.of(chat)
        removed = [n for n in current if names is None or n in names]
        if not removed:
            return []
        pipe = self.redis.pipeline(transaction=True)
        pipe.srem(self.keys.subscriptions(chat), *removed)
        for name in removed:
            pipe.srem(self.keys.subscribers(name), chat)
        await pipe.execute()
        return removed

    async def subscribers(self, name: str) -> list[str]:
        return sorted(str(c) for c in await self.redis.smembers(self.keys.subscribers(name)))

    async def unclaimed(self, signals: Iterable[E]) -> list[E]:
        """The signals whose event was not published yet (a cheap pre-check, not the claim)."""
        pending = list(signals)
        if not pending:
            return []
        marks = await self.redis.mget([self.keys.signal_mark(s.event) for s in pending])
        return [s for s, mark in zip(pending, marks, strict=True) if mark is None]

    async def publish(self, signal: Signal, now: float) -> int | None:
        """Claim the event and append one job per unpaused subscriber.

        Returns the number of jobs written, or None when the event was already
        claimed (by this process earlier, another replica, or before a restart).
        """
        mark = self.keys.signal_mark(signal.event)
        if not await self.redis.set(mark, repr(now), nx=True, ex=SIGNAL_DEDUP_TTL_SECONDS):
            return None
        if signal.also:
            pipe = self.redis.pipeline(transaction=False)
            for event in signal.also:
                pipe.set(self.keys.signal_mark(event), repr(now), ex=SIGNAL_DEDUP_TTL_SECONDS)
            await pipe.execute()
        chats = await self.subscribers(signal.name)
        notice = Notice(signal.title, signal.lines)
        written = 0
        for start in range(0, len(chats), FANOUT_CHUNK):
            chunk = chats[start : start + FANOUT_CHUNK]
            paused = await self.redis.mget([self.keys.paused(chat) for chat in chunk])
            pipe = self.redis.pipeline(transaction=False)
            for chat, is_paused in zip(chunk, paused, strict=True):
                if is_paused is not None:
                    continue
                fields = notice_fields(
                    JobKind.SIGNAL, chat, notice, now, now, name=signal.name, event=signal.event
                )
                pipe.xadd(self.keys.outbox_broadcast, fields)  # after personal alerts
                written += 1
            await pipe.execute()
        return written
