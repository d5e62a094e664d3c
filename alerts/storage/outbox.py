"""The delivery outbox: Redis Streams, one per priority class, read by a consumer group.

Personal jobs (fired and expired alerts) go before digests before broadcast signals
(alerts/storage/outbox_jobs.py). Each stream has the same consumer group; a worker
reads each stream in its own loop, holding at most `read_ahead` jobs of a class, and a
per-transport `PriorityGate` picks who sends next, so a personal alert never waits
behind the thousands of jobs of a broadcast. A chat's jobs go through its lane:
the first message at once, later ones merged and `gap` seconds apart.

Workers send, mark each job sent (idempotency key) and acknowledge. Jobs a crashed
worker left pending are reclaimed with XAUTOCLAIM; a reclaimed job already marked sent
is acknowledged without sending again. Failed sends are settled by `ChatDelivery`
(dead letter, pause, migration, or a bounded retry that `retry_once` picks up).

The remaining at-least-once window: a worker that dies after the chat API accepted a
message but before the sent-mark is written will have that job re-sent by another
worker (README, "Delivery guarantees").
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from alerts.domain.jobs import CLASSES, Job, OutboxClass
from alerts.domain.telemetry import NO_TELEMETRY, Telemetry
from alerts.storage.dead_letters import Burial
from alerts.storage.delivery_outcomes import MAX_ATTEMPTS, RETRY_CONSUMER, ChatDelivery
from alerts.storage.keys import OUTBOX_GROUP, Keys
from alerts.storage.outbox_jobs import NO_COALESCE, Coalesce, Deliver, stream_of
from alerts.storage.outbox_streams import stream_depth, trim_stream
from alerts.storage.send_gate import PriorityGate

log = logging.getLogger(__name__)
LAST_SENT_KEEP = 4096  # chats whose last send time is remembered before pruning
RETRY_BACKOFF = (5.0, 30.0)  # seconds after the 1st and 2nd failed attempt
SEND_PERMITS = 8  # sends inside one transport at once: a personal alert waits behind <= 8
Entries = list[tuple[str, dict[str, str]]]


@dataclass(slots=True)
class _Part:
    """Jobs of one chat from one read, and the future their reader awaits."""

    jobs: list[Job]
    done: asyncio.Future[int]
    rank: int


@dataclass(slots=True)
class _Stream:
    cls: OutboxClass
    key: str
    inflight: set[str] = field(default_factory=set)

    @property
    def room(self) -> int:
        return self.cls.read_ahead - len(self.inflight)


def consumer_name() -> str:
    """Unique per process, so a restarted process never inherits a dead one's name."""
    return f"{socket.gethostname()}-{os.getpid()}-{int(time.time() * 1000) % 100000}"


class DeliveryWorker:
    """Reads the outbox streams in a consumer group and delivers jobs grouped per chat."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        deliver: Deliver,
        *,
        consumer: str | None = None,
        batch: int = 200,
        claim_idle_ms: int = 30_000,
        concurrency: int = SEND_PERMITS,
        telemetry: Telemetry = NO_TELEMETRY,
        clock: Callable[[], float] = time.time,
        coalesce: dict[str, Coalesce] | None = None,
        retry_backoff: tuple[float, ...] = RETRY_BACKOFF,
        fanout: Callable[[list[Job]], Awaitable[int]] | None = None,
    ) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.
        self.redis: Any = redis
        self.keys = keys
        self.consumer = consumer or consumer_name()
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.telemetry = telemetry
        self.clock = clock
        self.concurrency = concurrency
        self.retry_backoff = retry_backoff
        # webhook fan-out of every job read (idempotent per job: alerts/storage/webhooks.py)
        self.fanout = fanout
        self.streams = [_Stream(cls, stream_of(keys, cls)) for cls in CLASSES]
        self.outcomes = ChatDelivery(self.redis, keys, deliver, telemetry, clock)
        self.dead = self.outcomes.dead
        self._gates: dict[str, PriorityGate] = {}
        self._stopping = asyncio.Event()
        # chat-key prefix ("tg") -> batching policy; transports without one send at once
        self.coalesce: dict[str, Coalesce] = dict(coalesce or {})
        self._lanes: dict[str, list[_Part]] = {}
        self._lane_tasks: dict[str, asyncio.Task[None]] = {}
        self._last_sent: dict[str, float] = {}
        self._room = asyncio.Condition()
        self._background: set[asyncio.Task[int]] = set()

    def request_stop(self) -> None:
        """Finish the batches in flight, then leave `run` (graceful shutdown)."""
        self._stopping.set()

    async def ensure_group(self) -> None:
        for stream in self.streams:
            try:
                await self.redis.xgroup_create(stream.key, OUTBOX_GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # ---- reading ---------------------------------------------------------------------------
    async def run_once(self, block_ms: int | None = 1000) -> int:
        """Read new jobs of every class once and deliver them; returns how many were sent."""
        open_ = [s for s in self.streams if s.room > 0]
        answer = await self.redis.xreadgroup(
            OUTBOX_GROUP, self.consumer, {s.key: ">" for s in open_}, count=self.batch,
            block=block_ms,
        )  # fmt: skip
        read = {str(key): entries for key, entries in answer or []}
        done = await asyncio.gather(*(self._process(s, read.get(s.key, [])) for s in open_))
        return sum(done)

    async def _reader(self, stream: _Stream) -> None:
        """Keep up to `read_ahead` jobs of one class in flight (blocking reads, 0.5 s)."""
        while not self._stopping.is_set():
            try:
                async with self._room:
                    await self._room.wait_for(lambda: stream.room > 0)
                answer = await self.redis.xreadgroup(
                    OUTBOX_GROUP, self.consumer, {stream.key: ">"},
                    count=min(self.batch, stream.room), block=500,
                )  # fmt: skip
                entries = [e for _, got in answer or [] for e in got]
                if entries:
                    self._spawn(self._process(stream, entries))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox reader (%s) error; retrying in 1s", stream.cls.name)
                await asyncio.sleep(1.0)

    def _spawn(self, work: Coroutine[Any, Any, int]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[int]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("delivery batch failed (%s); its jobs stay pending", task.exception())

    async def _process(
        self, stream: _Stream, entries: Entries, tries: dict[str, int] | None = None
    ) -> int:
        # a reclaim must never take back jobs this worker is still delivering
        entries = [e for e in entries if e[0] not in stream.inflight and e[1]]
        if not entries:
            return 0
        ids = [job_id for job_id, _ in entries]
        stream.inflight.update(ids)
        try:
            return await self._settle(stream, entries, tries or {})
        finally:
            stream.inflight.difference_update(ids)
            async with self._room:
                self._room.notify_all()

    async def _settle(self, stream: _Stream, entries: Entries, tries: dict[str, int]) -> int:
        jobs: list[Job] = []
        for job_id, fields in entries:
            try:
                jobs.append(Job.from_fields(job_id, fields, stream.cls, tries.get(job_id, 1)))
            except (KeyError, ValueError, IndexError):
                log.error("dead-lettering malformed outbox job %s", job_id)
                await self.outcomes.bury_entries(
                    [Burial(stream.key, job_id, fields, 0)], "malformed job"
                )
        if not jobs:
            return 0
        if self.fanout is not None:  # before the chat send: a failed send changes nothing
            await self.fanout(jobs)
        marks = await self.redis.mget([self.keys.sent(job.mark_id) for job in jobs])
        done = [job.job_id for job, mark in zip(jobs, marks, strict=True) if mark]
        if done:  # sent before a crash, acked by nobody: ack now, never send twice
            await self.redis.xack(stream.key, OUTBOX_GROUP, *done)
        by_chat: dict[str, list[Job]] = defaultdict(list)
        worn: list[Job] = []
        for job, mark in zip(jobs, marks, strict=True):
            if not mark:
                (worn if job.tries > MAX_ATTEMPTS else by_chat[job.chat]).append(job)
        if worn:  # reclaimed again and again (e.g. it crashed its workers): stop here
            await self.outcomes.bury(worn, "too many attempts", attempted=False)
        results = await asyncio.gather(*(self._enqueue(c, j) for c, j in by_chat.items()))
        return sum(results)

    # ---- lanes: one per chat, leading-edge coalescing ------------------------------------
    async def _enqueue(self, chat: str, jobs: list[Job]) -> int:
        """Queue jobs on the chat's lane; returns how many were delivered once settled."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        part = _Part(jobs, done, min(job.cls.rank for job in jobs))
        self._lanes.setdefault(chat, []).append(part)
        if chat not in self._lane_tasks:
            self._lane_tasks[chat] = asyncio.create_task(self._lane(chat), name=f"lane {chat}")
        return await done

    def _rank(self, chat: str) -> int:
        return min((p.rank for p in self._lanes.get(chat, ())), default=len(CLASSES))

    def _gate(self, chat: str) -> PriorityGate:
        transport = chat.split(":", 1)[0]
        gate = self._gates.get(transport)
        if gate is None:
            gate = self._gates[transport] = PriorityGate(self.concurrency)
        return gate

    async def _lane(self, chat: str) -> None:
        """Send a chat's jobs: the first at once, later ones merged and `gap` apart."""
        policy = self.coalesce.get(chat.split(":", 1)[0], NO_COALESCE)
        parts: list[_Part] = []
        try:
            while self._lanes.get(chat):
                wait = self._last_sent.get(chat, -math.inf) + policy.gap - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)  # jobs arriving meanwhile join this message
                async with self._gate(chat).slot(lambda: self._rank(chat)):
                    parts = self._lanes.pop(chat, [])  # what queued up while we waited
                    jobs = [job for part in parts for job in part.jobs]
                    try:
                        delivered = await self.outcomes.deliver(chat, jobs)
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

    # ---- the loop, retries, reclaim, trimming -------------------------------------------
    async def run(self, reclaim_every: float = 10.0) -> None:
        """Deliver until cancelled or asked to stop; retry, reclaim and trim periodically.

        One reader per class runs ahead of sending (up to the class's `read_ahead`), so a
        chat waiting for its coalescing gap or its flood limit never holds up the others.
        """
        await self.ensure_group()
        readers = [asyncio.create_task(self._reader(s), name=f"outbox {s.cls.name}")
                   for s in self.streams]  # fmt: skip
        upkeep = asyncio.create_task(self._upkeep(reclaim_every), name="outbox upkeep")
        renew = asyncio.create_task(self._renew(), name="outbox renew")
        try:
            await self._stopping.wait()
            upkeep.cancel()
            await asyncio.wait(readers, timeout=1.0)  # a blocked read returns within 0.5 s
            if self._background:  # graceful stop: finish the jobs in flight
                await asyncio.gather(*self._background, return_exceptions=True)
        finally:
            lanes = self._lane_tasks.values()
            for pending in (*readers, upkeep, renew, *self._background, *lanes):
                pending.cancel()

    async def _upkeep(self, reclaim_every: float) -> None:
        last_reclaim = -math.inf
        while True:
            try:
                await self.retry_once()
                if time.monotonic() - last_reclaim >= reclaim_every:
                    last_reclaim = time.monotonic()
                    await self.reclaim_once()
                    await self.trim()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox upkeep error; retrying")
            await asyncio.sleep(min(1.0, self.retry_backoff[0]))

    def _backoff_ms(self, tries: int) -> int:
        return int(self.retry_backoff[min(tries, len(self.retry_backoff)) - 1] * 1000)

    async def retry_once(self) -> int:
        """Claim parked jobs whose backoff is over (XCLAIM with min-idle: one worker wins)."""
        total = 0
        for stream in self.streams:
            if stream.room <= 0:
                continue
            rows = await self.redis.xpending_range(
                stream.key, OUTBOX_GROUP, "-", "+", min(self.batch, stream.room),
                consumername=RETRY_CONSUMER, idle=self._backoff_ms(1),
            )  # fmt: skip
            due: dict[int, list[str]] = defaultdict(list)
            for row in rows:
                tries = int(row["times_delivered"])
                if int(row["time_since_delivered"]) >= self._backoff_ms(tries):
                    due[tries].append(str(row["message_id"]))
            for tries, ids in due.items():
                claimed = await self.redis.xclaim(
                    stream.key, OUTBOX_GROUP, self.consumer, self._backoff_ms(tries), ids
                )
                total += len(claimed)
                self._spawn(self._process(stream, claimed, {i: tries + 1 for i in ids}))
        return total

    async def _renew(self) -> None:
        """Reset the idle time of jobs still in flight here, so no live job is reclaimed.

        A job waiting its turn (gap, gate, a budget shared by replicas) may be held longer
        than `claim_idle_ms`; XCLAIM JUSTID to ourselves restarts its idle clock without
        counting a delivery. Only jobs idle a whole round are renewed: one just parked for
        a retry (idle 0) is never pulled back from the retry consumer.
        """
        every = max(1.0, self.claim_idle_ms / 3000)
        while True:
            await asyncio.sleep(every)
            for stream in self.streams:
                if stream.inflight:
                    try:
                        await self.redis.xclaim(
                            stream.key, OUTBOX_GROUP, self.consumer, int(every * 1000),
                            list(stream.inflight), justid=True,
                        )  # fmt: skip
                    except Exception as exc:  # Redis away: the next round tries again
                        log.debug("renewing in-flight jobs failed: %s", exc)

    async def reclaim_once(self) -> int:
        """Take over jobs another (crashed) worker left pending for too long."""
        total = 0
        for stream in self.streams:
            start = "0-0"
            while True:
                next_start, entries, *_ = await self.redis.xautoclaim(
                    stream.key, OUTBOX_GROUP, self.consumer, self.claim_idle_ms,
                    start_id=start, count=self.batch,
                )  # fmt: skip
                entries = [e for e in entries if e and e[1]]
                tries = await self._tries(stream.key, [job_id for job_id, _ in entries])
                total += await self._process(stream, entries, tries)
                if next_start in ("0-0", b"0-0") or not entries:
                    break
                start = next_start
        return total

    async def _tries(self, stream: str, ids: list[str]) -> dict[str, int]:
        """Delivery counts (the claim just made included) of pending jobs."""
        if not ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.xpending_range(stream, OUTBOX_GROUP, job_id, job_id, 1)
        rows = [row for found in await pipe.execute() for row in found]
        return {str(r["message_id"]): int(r["times_delivered"]) for r in rows}

    async def trim(self) -> int:
        """Drop acknowledged jobs of every stream, and dead letters older than 7 days."""
        total = sum([await trim_stream(self.redis, stream.key) for stream in self.streams])
        await self.dead.trim()
        return total

    async def depth(self) -> tuple[int, int]:
        """(jobs in the streams, jobs read but not acknowledged), all classes together."""
        depths = [await stream_depth(self.redis, stream.key) for stream in self.streams]
        return sum(d[0] for d in depths), sum(d[1] for d in depths)
