"""Claims that let a state-changing button act once, however often it is pressed.

A double tap, or Telegram redelivering the same callback, reaches us as the same
callback data two or more times, possibly at the same moment on two replicas.
The first press claims a key with `SET NX` (briefly, while it acts), then stores
what it made under the key for the key's lifetime; later presses read that
instead of acting again. A press that fails gives its claim back, so the user can
retry; a process that dies half way leaves a pending claim that expires after
`BUTTON_PENDING_SECONDS`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.asyncio import Redis

from alerts.storage.keys import BUTTON_PENDING_SECONDS

PENDING = ""
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AlreadyDone:
    """An earlier press won: `result` is what it stored ("" while it is still acting)."""

    result: str


class OnceClaims:
    """Runs an action at most once per claim key."""

    def __init__(self, redis: Redis) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.
        self.redis: Any = redis

    async def run(
        self,
        key: str,
        ttl: int,
        act: Callable[[], Awaitable[T]],
        result_of: Callable[[T], str],
    ) -> T | AlreadyDone:
        """`act()` if nobody claimed `key` yet, remembering `result_of(outcome)` for `ttl` s."""
        if not await self.redis.set(key, PENDING, nx=True, ex=BUTTON_PENDING_SECONDS):
            return AlreadyDone(await self.redis.get(key) or PENDING)
        try:
            outcome = await act()
        except BaseException:
            await self.redis.delete(key)
            raise
        await self.redis.set(key, result_of(outcome), ex=ttl)
        return outcome
