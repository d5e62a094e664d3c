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
import math
import os
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from alerts.domain.alert import Alert
from alerts.domain.errors import ChatUnreachable
from alerts.domain.telemetry import NO_TELEMETRY, Telemetry
from alerts.storage.keys import OUTBOX_GROUP, SENT_MARK_TTL_SECONDS, Keys

log = logging.getLogger(__name__)
LAST_SENT_KEEP = 4096  # chats whose last send time is remembered before pruning


@dataclass(frozen=True, slots=True)
class Job:
    """One delivery job as read from the stream."""

    job_id: str
    kind: str  # fire | expired | signal | digest
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


@dataclass(frozen=True, slots=True)
class Coalesce:
    """Per-transport batching, so a burst reaches a phone as one message, not a flood.

    A chat's message waits `linger` seconds for the rest of its poll's jobs, and two
    messages to one chat are at least `gap` seconds apart; jobs that arrive meanwhile
    join the next message.
    """

    linger: float = 0.0
    gap: float = 0.0


NO_COALESCE = Coalesce()


@dataclass(slots=True)
class _Part:
    """Jobs of one chat from one read, and the future their reader awaits."""

    jobs: list[Job]
    done: asyncio.Future[int]


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
        telemetry: Telemetry = NO_TELEMETRY,
        clock: Callable[[], float] = time.time,
        coalesce: dict[str, Coalesce] | None = None,
        max_inflight: int | None = None,
    ) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.

        self.redis: Any = redis
        self.keys = keys
        self.deliver = deliver
        self.consumer = consumer or consumer_name()
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.telemetry = telemetry
        self.clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._paused_logged: set[str] = set()
        self._stopping = asyncio.Event()
        self.delivered = 0
        # chat-key prefix ("tg") -> batching policy; transports without one send at once
        self.coalesce: dict[str, Coalesce] = dict(coalesce or {})
        # read-ahead bound: jobs wait at most ~max_inflight/rate s, well under claim_idle_ms
        self.max_inflight = max_inflight or 2 * batch
        self._lanes: dict[str, list[_Part]] = {}
        self._lane_tasks: dict[str, asyncio.Task[None]] = {}
        self._last_sent: dict[str, float] = {}
        self._inflight: set[str] = set()
        self._room = asyncio.Condition()
        self._background: set[asyncio.Task[int]] = set()

    def request_stop(self) -> None:
        """Finish the batch in flight, then leave `run` (graceful shutdown)."""
        self._stopping.set()

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.keys.outbox, OUTBOX_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, block_ms: int | None) -> list[tuple[str, dict[str, str]]]:
        answer = await self.redis.xreadgroup(
            OUTBOX_GROUP, self.consumer, {self.keys.outbox: ">"}, count=self.batch, block=block_ms
        )
        return [entry for _, stream_entries in answer or [] for entry in stream_entries]

    async def run_once(self, block_ms: int | None = 1000) -> int:
        """Read new jobs once and deliver them; returns how many were delivered."""
        return await self._process(await self._read(block_ms))

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
        # a reclaim must never take back jobs this worker is still delivering
        entries = [entry for entry in entries if entry[0] not in self._inflight]
        if not entries:
            return 0
        ids = [job_id for job_id, _ in entries]
        self._inflight.update(ids)
        try:
            return await self._settle(entries)
        finally:
            self._inflight.difference_update(ids)
            async with self._room:
                self._room.notify_all()

    async def _settle(self, entries: list[tuple[str, dict[str, str]]]) -> int:
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
        results = await asyncio.gather(*(self._enqueue(c, j) for c, j in by_chat.items()))
        return sum(results)

    async def _enqueue(self, chat: str, jobs: list[Job]) -> int:
        """Queue jobs on the chat's lane; returns how many were delivered once settled."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._lanes.setdefault(chat, []).append(_Part(jobs, done))
        if chat not in self._lane_tasks:
            self._lane_tasks[chat] = asyncio.create_task(self._lane(chat), name=f"lane {chat}")
        return await done

    async def _lane(self, chat: str) -> None:
        """Send a chat's queued jobs in as few messages as its coalescing policy allows."""
        policy = self.coalesce.get(chat.split(":", 1)[0], NO_COALESCE)
        parts: list[_Part] = []
        try:
            while self._lanes.get(chat):
                now = time.monotonic()
                ready = max(now + policy.linger, self._last_sent.get(chat, -math.inf) + policy.gap)
                if ready > now:
                    await asyncio.sleep(ready - now)  # jobs arriving meanwhile join this message
                parts = self._lanes.pop(chat)
                try:
                    delivered = await self._deliver_chat(chat, [j for p in parts for j in p.jobs])
                except Exception as exc:  # e.g. Redis down while acking: jobs stay pending
                    for part in parts:
                        if not part.done.done():
                            part.done.set_exception(exc)
                    parts = []
                    continue
                self._last_sent[chat] = time.monotonic()
                for part in parts:
                    if not part.done.done():
                        part.done.set_result(len(part.jobs) if delivered else 0)
                parts = []
        finally:
            self._lane_tasks.pop(chat, None)
            for part in parts + self._lanes.pop(chat, []):
                part.done.cancel()
            if len(self._last_sent) > LAST_SENT_KEEP:
                gap = max((c.gap for c in self.coalesce.values()), default=0.0)
                horizon = time.monotonic() - gap
                self._last_sent = {c: t for c, t in self._last_sent.items() if t > horizon}

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
            # Still inside the slot: at most `concurrency` Redis connections in use at once.
            pipe = self.redis.pipeline(transaction=False)
            for job_id in ids:
                pipe.set(self.keys.sent(job_id), "1", ex=SENT_MARK_TTL_SECONDS)
            pipe.xack(self.keys.outbox, OUTBOX_GROUP, *ids)
            await pipe.execute()
        now = self.clock()
        for job in jobs:
            self.telemetry.delivered(now - job.tick if job.tick else None)
        self.delivered += len(jobs)
        return len(jobs)

    async def run(self, reclaim_every: float = 10.0) -> None:
        """Deliver until cancelled or asked to stop; reclaim stuck jobs periodically.

        Reading runs ahead of sending (up to `max_inflight` jobs), so a chat waiting for
        its coalescing gap or its flood limit never holds up the other chats.
        """
        await self.ensure_group()
        # its own task: the loop below may wait a long time for room in the read-ahead
        keeper = asyncio.create_task(self._keep_claimed_loop(self.claim_idle_ms / 3000))
        last_reclaim = 0.0
        try:
            while not self._stopping.is_set():
                try:
                    if time.monotonic() - last_reclaim >= reclaim_every:
                        last_reclaim = time.monotonic()
                        await self.reclaim_once()
                        await self.trim()
                    async with self._room:
                        await self._room.wait_for(lambda: len(self._inflight) < self.max_inflight)
                    entries = await self._read(block_ms=500)
                    if entries:
                        task = asyncio.create_task(self._process(entries))
                        self._background.add(task)
                        task.add_done_callback(self._settled)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("delivery worker error; retrying in 1s")
                    await asyncio.sleep(1.0)
            if self._background:  # graceful stop: finish the jobs in flight
                await asyncio.gather(*self._background, return_exceptions=True)
        finally:
            for pending in (keeper, *self._background, *self._lane_tasks.values()):
                pending.cancel()

    async def _keep_claimed_loop(self, every: float) -> None:
        """Reset the idle time of the jobs this worker still holds (read, not yet sent).

        With one send budget per token shared by all replicas, a job may wait in this
        worker longer than `claim_idle_ms` for its slot; without this heartbeat another
        worker would take it over and send it a second time.
        """
        while True:
            await asyncio.sleep(every)
            ids = list(self._inflight)
            try:
                for start in range(0, len(ids), self.batch):
                    await self.redis.xclaim(
                        self.keys.outbox, OUTBOX_GROUP, self.consumer, 0,
                        ids[start : start + self.batch], justid=True,
                    )  # fmt: skip
            except RedisError as exc:
                log.warning("could not keep the claims in flight fresh: %s", exc)

    def _settled(self, task: asyncio.Task[int]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("delivery batch failed (%s); its jobs stay pending", task.exception())

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
