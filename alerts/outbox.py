"""The delivery outbox: a Redis Stream read by a consumer group of delivery workers.

The engine appends jobs inside its claim script; workers read them, send them
through a transport, mark them sent (idempotency key) and acknowledge. Jobs a
crashed worker left pending are reclaimed with XAUTOCLAIM; a reclaimed job that
was already marked sent is acknowledged without sending again.

The remaining at-least-once window: a worker that dies after the chat API
accepted a message but before the sent-mark is written will have that job
re-sent by another worker (README, "Delivery guarantees").
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from alerts.keys import OUTBOX_GROUP, SENT_MARK_TTL_SECONDS, Keys
from alerts.model import Alert
from bot.metrics import Metrics
from handlers.reply import ChatUnreachable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    """One delivery job as read from the stream."""

    job_id: str
    kind: str  # fire | expired | signal
    chat: str
    alert: Alert | None = None
    value: float | None = None
    at: float = 0.0
    tick: float = 0.0
    payload: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, job_id: str, fields: dict[str, str]) -> Job:
        kind = fields.get("t", "")
        if kind in ("fire", "expired"):
            alert = Alert.unpack(int(fields["id"]), fields["rec"])
            value = float(fields["v"]) if fields.get("v") else None
            return cls(
                job_id, kind, alert.chat, alert, value, float(fields["at"]), float(fields["tick"])
            )
        return cls(
            job_id, kind, fields.get("chat", ""), at=float(fields.get("at", 0)), payload=fields
        )


Deliver = Callable[[str, list[Job]], Awaitable[None]]


def consumer_name() -> str:
    """Unique per process, so a restarted process never inherits a dead one's name."""
    return f"{socket.gethostname()}-{os.getpid()}-{int(time.time() * 1000) % 100000}"


class DeliveryWorker:
    """Reads the outbox in a consumer group and delivers jobs grouped per chat."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        deliver: Deliver,
        *,
        consumer: str | None = None,
        batch: int = 200,
        claim_idle_ms: int = 30_000,
        concurrency: int = 64,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.

        self.redis: Any = redis
        self.keys = keys
        self.deliver = deliver
        self.consumer = consumer or consumer_name()
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.metrics = metrics or Metrics()
        self.clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._paused_logged: set[str] = set()
        self.delivered = 0

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.keys.outbox, OUTBOX_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run_once(self, block_ms: int | None = 1000) -> int:
        """Read new jobs once and deliver them; returns how many were delivered."""
        answer = await self.redis.xreadgroup(
            OUTBOX_GROUP, self.consumer, {self.keys.outbox: ">"}, count=self.batch, block=block_ms
        )
        entries = [entry for _, stream_entries in answer or [] for entry in stream_entries]
        return await self._process(entries)

    async def reclaim_once(self) -> int:
        """Take over jobs another (crashed) worker left pending for too long."""
        total, start = 0, "0-0"
        while True:
            next_start, entries, *_ = await self.redis.xautoclaim(
                self.keys.outbox, OUTBOX_GROUP, self.consumer, self.claim_idle_ms,
                start_id=start, count=self.batch,
            )  # fmt: skip
            total += await self._process([e for e in entries if e and e[1]])
            if next_start in ("0-0", b"0-0") or not entries:
                return total
            start = next_start

    async def _process(self, entries: list[tuple[str, dict[str, str]]]) -> int:
        if not entries:
            return 0
        marks = await self.redis.mget([self.keys.sent(job_id) for job_id, _ in entries])
        done = [job_id for (job_id, _), mark in zip(entries, marks, strict=True) if mark]
        if done:  # sent before a crash, acked by nobody: ack now, never send twice
            await self.redis.xack(self.keys.outbox, OUTBOX_GROUP, *done)
        by_chat: dict[str, list[Job]] = defaultdict(list)
        for (job_id, fields), mark in zip(entries, marks, strict=True):
            if mark:
                continue
            try:
                job = Job.from_fields(job_id, fields)
            except (KeyError, ValueError, IndexError):
                log.error("dropping malformed outbox job %s", job_id)
                await self.redis.xack(self.keys.outbox, OUTBOX_GROUP, job_id)
                continue
            by_chat[job.chat].append(job)
        results = await asyncio.gather(*(self._deliver_chat(c, j) for c, j in by_chat.items()))
        return sum(results)

    async def _deliver_chat(self, chat: str, jobs: list[Job]) -> int:
        ids = [job.job_id for job in jobs]
        async with self._slots:
            if await self.redis.exists(self.keys.paused(chat)):
                await self.redis.xack(self.keys.outbox, OUTBOX_GROUP, *ids)
                return 0
            try:
                await self.deliver(chat, jobs)
            except ChatUnreachable as exc:
                await self.redis.set(self.keys.paused(chat), str(int(self.clock())))
                await self.redis.xack(self.keys.outbox, OUTBOX_GROUP, *ids)
                if chat not in self._paused_logged:
                    self._paused_logged.add(chat)
                    log.warning("chat %s unreachable (%s): its alerts are paused", chat, exc)
                return 0
            except Exception as exc:
                log.warning("delivery to %s deferred (%s); will retry", chat, exc)
                return 0
        pipe = self.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.set(self.keys.sent(job_id), "1", ex=SENT_MARK_TTL_SECONDS)
        pipe.xack(self.keys.outbox, OUTBOX_GROUP, *ids)
        await pipe.execute()
        now = self.clock()
        for job in jobs:
            if job.tick:
                self.metrics.delivery_latency.observe(max(0.0, now - job.tick))
        self.delivered += len(jobs)
        return len(jobs)

    async def run(self, reclaim_every: float = 10.0) -> None:
        """Deliver until cancelled; reclaim stuck jobs periodically."""
        await self.ensure_group()
        last_reclaim = 0.0
        while True:
            try:
                if time.monotonic() - last_reclaim >= reclaim_every:
                    last_reclaim = time.monotonic()
                    await self.reclaim_once()
                    await self.trim()
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery worker error; retrying in 1s")
                await asyncio.sleep(1.0)

    async def trim(self) -> int:
        """Drop acknowledged jobs: everything older than the oldest job still pending."""
        pending = await self.redis.xpending(self.keys.outbox, OUTBOX_GROUP)
        if pending["pending"]:
            floor = pending["min"]
        else:
            groups = await self.redis.xinfo_groups(self.keys.outbox)
            group = next((g for g in groups if g["name"] == OUTBOX_GROUP), None)
            if group is None:
                return 0
            ms, seq = str(group["last-delivered-id"]).split("-")
            floor = f"{ms}-{int(seq) + 1}"
        return int(await self.redis.xtrim(self.keys.outbox, minid=floor, approximate=False))

    async def depth(self) -> tuple[int, int]:
        """(jobs in the stream, jobs read but not acknowledged)."""
        length = await self.redis.xlen(self.keys.outbox)
        try:
            pending = await self.redis.xpending(self.keys.outbox, OUTBOX_GROUP)
        except ResponseError:
            return int(length), 0
        return int(length), int(pending["pending"])
