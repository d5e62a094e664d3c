"""Scheduled digests: schedules and next-run times in Redis, claimed atomically.

A sorted set holds each chat's next run (unix seconds); a hash holds its schedule.
Every replica may run the scheduler: a due digest is claimed by a compare-and-set
script that also reschedules it and appends the outbox job, so a restart neither
skips nor repeats one and two replicas never both send it. A digest missed while
the bot was down is sent late once if it is less than `LATE_GRACE_SECONDS` late;
older ones are skipped. Next runs are computed in the chat's timezone (zoneinfo),
so 08:30 stays 08:30 local across daylight-saving changes.
"""

from __future__ import annotations

import asyncio
import logging
import time as _time
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from redis.asyncio import Redis

from alerts.domain.jobs import JobKind, Notice, notice_fields
from alerts.domain.schedule import Schedule
from alerts.storage.keys import Keys
from alerts.storage.scripts import load_lua

log = logging.getLogger(__name__)

LATE_GRACE_SECONDS = 3600
LOOP_MAX_SLEEP_SECONDS = 20.0
DUE_BATCH = 200


class Digests:
    """A chat's digest schedule: set, read, switch off."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis: Any = redis
        self.keys = keys

    async def set(self, chat: str, schedule: Schedule, now: float) -> int:
        """Store the schedule and its next run (replacing any earlier one)."""
        next_run = schedule.next_run(now)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.digest_config, chat, schedule.pack())
        pipe.zadd(self.keys.digest_due, {chat: next_run})
        await pipe.execute()
        return next_run

    async def off(self, chat: str) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hdel(self.keys.digest_config, chat)
        pipe.zrem(self.keys.digest_due, chat)
        removed, _ = await pipe.execute()
        return bool(removed)

    async def get(self, chat: str) -> tuple[Schedule, int | None] | None:
        """The schedule and its next run, or None when the chat has no digest."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.hget(self.keys.digest_config, chat)
        pipe.zscore(self.keys.digest_due, chat)
        packed, score = await pipe.execute()
        if packed is None:
            return None
        return Schedule.unpack(packed), None if score is None else int(score)


Build = Callable[[str, Schedule], Awaitable[Notice]]


class DigestScheduler:
    """Sends due digests through the outbox; safe to run on every replica at once."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        build: Build,
        *,
        clock: Callable[[], float] = _time.time,
        grace: float = LATE_GRACE_SECONDS,
    ) -> None:
        self.redis: Any = redis
        self.keys = keys
        self.build = build
        self.clock = clock
        self.grace = grace
        self.digests = Digests(redis, keys)
        self._claim = redis.register_script(load_lua("digest_claim"))
        self.sent = 0
        self.skipped = 0

    async def _claim_one(
        self, chat: str, due: int, packed: str, next_run: int, fields: dict[str, str] | None
    ) -> int:
        """1 claimed (and queued), 2 claimed but the chat is paused, 0 taken by another."""
        args: list[Any] = [chat, due, packed, next_run, "1" if fields else "0"]
        for name, value in (fields or {}).items():
            args.extend([name, value])
        keys = [
            self.keys.digest_due, self.keys.digest_config, self.keys.outbox_digest,
            self.keys.paused(chat),
        ]  # fmt: skip
        return int(await self._claim(keys=keys, args=args))

    async def run_once(self) -> int:
        """Handle every digest due now; returns how many were queued for delivery."""
        now = self.clock()
        due = await self.redis.zrangebyscore(
            self.keys.digest_due, "-inf", now, start=0, num=DUE_BATCH, withscores=True
        )
        if not due:
            return 0
        packs = await self.redis.hmget(self.keys.digest_config, [chat for chat, _ in due])
        queued = 0
        for (chat, score), packed in zip(due, packs, strict=True):
            queued += await self._handle(chat, int(score), packed, now)
        return queued

    async def _handle(self, chat: str, due: int, packed: str | None, now: float) -> int:
        try:
            schedule = Schedule.unpack(packed or "")
            next_run = schedule.next_run(now)
        except (ValueError, ZoneInfoNotFoundError):
            log.error("dropping the unreadable digest schedule of %s: %r", chat, packed)
            await self.digests.off(chat)
            return 0
        if now - due > self.grace:
            if await self._claim_one(chat, due, packed or "", next_run, None):
                self.skipped += 1
                log.info(
                    "digest of %s missed by %.0fs: skipped, next at %d", chat, now - due, next_run
                )
            return 0
        try:
            notice = await self.build(chat, schedule)
        except Exception:
            log.exception("building the digest of %s failed; retrying next round", chat)
            return 0
        fields = notice_fields(JobKind.DIGEST, chat, notice, now, float(due), due=str(due))
        claimed = await self._claim_one(chat, due, packed or "", next_run, fields)
        if claimed != 1:  # another replica (or an earlier run) claimed it, or chat paused
            return 0
        self.sent += 1
        return 1

    async def seconds_to_next(self) -> float:
        first = await self.redis.zrange(self.keys.digest_due, 0, 0, withscores=True)
        if not first:
            return LOOP_MAX_SLEEP_SECONDS
        return max(0.0, float(first[0][1]) - self.clock())

    async def run(self) -> None:
        """Loop until cancelled; wakes at the next due time (at most every 20 s)."""
        while True:
            try:
                await self.run_once()
                delay = min(LOOP_MAX_SLEEP_SECONDS, await self.seconds_to_next())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("digest scheduler error; retrying")
                delay = LOOP_MAX_SLEEP_SECONDS
            await asyncio.sleep(max(0.5, delay))
