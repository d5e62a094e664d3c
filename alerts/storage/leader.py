"""A Redis lease lock electing the one replica that polls and evaluates.

`SET key token NX PX ttl` takes the lease; the holder renews it every ttl/3
with a compare-and-extend script and releases it on shutdown with a
compare-and-delete, so only the holder can extend or drop it. If the holder
dies, the lease expires and another replica takes over within `ttl`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

Duty = Callable[[], Coroutine[Any, Any, None]]


class LeaderLease:
    """Holds the lease while possible and runs the leader's duties only while it does."""

    def __init__(self, redis: Redis, key: str, *, ttl_ms: int = 6000) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.
        self.redis: Any = redis
        self.key = key
        self.ttl_ms = ttl_ms
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._extend = redis.register_script(EXTEND)
        self._release = redis.register_script(RELEASE)
        self.is_leader = False

    async def try_acquire(self) -> bool:
        """Take the lease if free, or extend it if ours."""
        try:
            if await self.redis.set(self.key, self.token, nx=True, px=self.ttl_ms):
                return True
            return bool(await self._extend(keys=[self.key], args=[self.token, self.ttl_ms]))
        except RedisError as exc:
            log.warning("leader lease: redis error (%s); assuming not leader", exc)
            return False

    async def holder(self) -> str | None:
        value: str | None = await self.redis.get(self.key)
        return value

    async def release(self) -> None:
        with contextlib.suppress(RedisError):
            await self._release(keys=[self.key], args=[self.token])
        self.is_leader = False

    async def run(self, duties: Duty) -> None:
        """Loop until cancelled: while leader, `duties()` runs as a task; it is cancelled
        as soon as the lease cannot be renewed, so two replicas never run it at once."""
        interval = self.ttl_ms / 3000
        task: asyncio.Task[None] | None = None
        try:
            while True:
                leader = await self.try_acquire()
                if leader and task is None:
                    log.info("leader lease taken (%s)", self.token)
                    self.is_leader = True
                    task = asyncio.create_task(duties(), name="leader-duties")
                elif not leader and task is not None:
                    log.warning("leader lease lost; stopping leader duties")
                    self.is_leader = False
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                    task = None
                if task is not None and task.done():
                    exc = None if task.cancelled() else task.exception()
                    log.error("leader duties ended (%r); restarting them", exc)
                    task = asyncio.create_task(duties(), name="leader-duties")
                await asyncio.sleep(interval)
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.release()
