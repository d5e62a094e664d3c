"""The webhook outbox: a stream with its own consumer group, a retry zset, sent marks.

`P:outbox:webhook` is not one of the chat classes, so the chat delivery worker never
reads it; its group keeps the name `delivery` (group names are per stream), which lets
the dead-letter, trim and depth helpers of the chat outbox serve it unchanged.

A failed job is acknowledged and parked in `P:whretry` in one transaction, its fields
(with the next attempt number) scored by when it is due; `release_due` moves due jobs
back into the stream in one script. A job is therefore always in exactly one place,
and a restart loses no retry. Sent marks are keyed by event id, so whichever copy of
a job is read again after a crash, the receiver gets it once (up to the crash window
between the receiver's answer and the mark, which its event-id check covers).

One request in flight per URL across replicas: a sender holds `P:whurl:HASH` (SET NX
PX, released by compare-and-delete) while it posts; a job whose URL is busy elsewhere
waits a second in the retry zset, without counting as an attempt.
"""

from __future__ import annotations

import json
from typing import Any

from redis.exceptions import ResponseError

from alerts.storage.dead_letters import Burial, DeadLetters
from alerts.storage.keys import OUTBOX_GROUP, SENT_MARK_TTL_SECONDS, WEBHOOK_URL_LEASE_MS, Keys
from alerts.storage.leader import RELEASE
from alerts.storage.outbox_streams import stream_depth, trim_stream
from alerts.storage.scripts import load_lua

Entry = tuple[str, dict[str, str]]


class WebhookQueue:
    """Reads, retries, marks and buries webhook jobs (one consumer name per process)."""

    def __init__(self, redis: Any, keys: Keys, consumer: str, dead: DeadLetters) -> None:
        self.redis = redis
        self.keys = keys
        self.consumer = consumer
        self.dead = dead
        self.stream = keys.outbox_webhook
        self._due = redis.register_script(load_lua("webhook_due"))
        self._release = redis.register_script(RELEASE)

    async def lease_url(self, url: str, token: str) -> bool:
        """Take the URL's one request in flight (False: another sender holds it)."""
        key = self.keys.webhook_url_lease(url)
        return bool(await self.redis.set(key, token, nx=True, px=WEBHOOK_URL_LEASE_MS))

    async def release_url(self, url: str, token: str) -> None:
        await self._release(keys=[self.keys.webhook_url_lease(url)], args=[token])

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, OUTBOX_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, count: int, block_ms: int | None) -> list[Entry]:
        answer = await self.redis.xreadgroup(
            OUTBOX_GROUP, self.consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        return [(str(i), dict(f)) for _, got in answer or [] for i, f in got if f]

    async def reclaim(self, idle_ms: int, count: int) -> list[Entry]:
        """Jobs a crashed worker left pending for `idle_ms` (one page per call)."""
        _, entries, *_ = await self.redis.xautoclaim(
            self.stream, OUTBOX_GROUP, self.consumer, idle_ms, start_id="0-0", count=count
        )
        return [(str(i), dict(f)) for i, f in entries if f]

    async def renew(self, ids: list[str], idle_ms: int) -> None:
        """Restart the idle clock of jobs still in flight here (never reclaimed while alive)."""
        if ids:
            await self.redis.xclaim(
                self.stream, OUTBOX_GROUP, self.consumer, idle_ms, ids, justid=True
            )

    async def is_sent(self, event: str) -> bool:
        return bool(await self.redis.exists(self.keys.sent(f"webhook:{event}")))

    async def ack(self, entry_id: str) -> None:
        await self.redis.xack(self.stream, OUTBOX_GROUP, entry_id)

    async def sent(self, entry_id: str, event: str) -> None:
        """Mark the event delivered, then acknowledge its job."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(self.keys.sent(f"webhook:{event}"), "1", ex=SENT_MARK_TTL_SECONDS)
        pipe.xack(self.stream, OUTBOX_GROUP, entry_id)
        await pipe.execute()

    async def retry(self, entry_id: str, fields: dict[str, str], due: float) -> None:
        """Park the job until `due` and acknowledge this copy, atomically."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(self.keys.webhook_retry, {json.dumps(fields, sort_keys=True): due})
        pipe.xack(self.stream, OUTBOX_GROUP, entry_id)
        await pipe.execute()

    async def release_due(self, now: float, count: int = 200) -> int:
        """Move jobs whose backoff is over back into the stream; returns how many."""
        keys = [self.keys.webhook_retry, self.stream]
        return int(await self._due(keys=keys, args=[repr(now), count]))

    async def bury(self, entry_id: str, fields: dict[str, str], reason: str) -> None:
        tries = int(fields.get("n", "1")) if fields.get("n", "1").isdigit() else 1
        await self.dead.bury([Burial(self.stream, entry_id, fields, tries)], reason)

    async def waiting(self) -> int:
        """Jobs parked for a retry."""
        return int(await self.redis.zcard(self.keys.webhook_retry))

    async def depth(self) -> tuple[int, int]:
        return await stream_depth(self.redis, self.stream)

    async def trim(self) -> int:
        return await trim_stream(self.redis, self.stream)
