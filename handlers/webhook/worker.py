"""The webhook worker: reads `P:outbox:webhook`, signs and POSTs each job, settles it.

Its own budget: at most `read_ahead` jobs in flight, one request in flight per URL.
A failure is retried after `backoff` (10 s, 20 s, 40 s … about ten minutes in all,
parked in Redis: alerts/storage/webhook_queue.py), then dead-lettered; every failure
counts towards the webhook's failures in a row, and the `failure_limit`-th disables it
and tells the chat once. Jobs of a removed or disabled webhook are dead-lettered
unsent. The alert's condition is worded by `describe`, as in the chat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from alerts.domain.grammar import conditions_of
from alerts.domain.jobs import WEBHOOK, Job, JobField, JobKind, Notice
from alerts.domain.webhooks import EventType, WebhookEvent, mask, signed_headers
from alerts.storage.webhook_queue import Entry, WebhookQueue
from alerts.storage.webhooks import Webhook, Webhooks
from handlers.chat.commands.alerts import describe
from handlers.webhook.sender import WebhookSender

log = logging.getLogger(__name__)
BACKOFF = (10.0, 20.0, 40.0, 80.0, 160.0, 300.0)  # 610 s: seven attempts over ~10 minutes
FAILURE_LIMIT = 50  # failures in a row that disable a webhook
READ_AHEAD = WEBHOOK.read_ahead
LOCKS_KEPT = 4096  # per-URL locks remembered before idle ones are dropped
URL_BUSY_RETRY_SECONDS = 1.0  # another replica is posting to the URL: try again after this


def event_of(job: Job, exchange: str, now: float) -> WebhookEvent:
    """The payload of a webhook job (its type, alert and value come from the job)."""
    fields = job.payload
    kind = EventType(fields.get(JobField.HOOK_TYPE, EventType.ALERT))
    alert = job.alert if job.kind is JobKind.FIRE else None
    bar: float | None = None
    if alert is not None:
        condition, symbol, alert_id = describe(alert), alert.symbol, alert.id
        conditions = conditions_of(alert.cond) if alert.cond else ()
        bars = [c.bar_series for c in conditions if c.bar_series is not None]
        if bars and not bars[0].intrabar and job.tick_ts:  # on close: the tick is the close
            bar = job.tick_ts
    else:
        notice = job.notice
        condition = " — ".join([notice.title, *notice.lines[:3]])
        symbol, alert_id = None, None
    return WebhookEvent(
        event_id=fields[JobField.HOOK_EVENT], type=kind, alert_id=alert_id, symbol=symbol,
        condition=condition, value=job.value if alert is not None else None,
        bar_time=bar, exchange=exchange, sent_at=now,
    )  # fmt: skip


def disabled_notice(hook: Webhook, why: str) -> Notice:
    return Notice(
        f"Webhook #{hook.number} disabled",
        [
            f"{mask(hook.url)} failed {FAILURE_LIMIT} times in a row (last: {why}).",
            "Nothing more is sent to it. Fix the receiver, then /webhook remove "
            f"{hook.number} and /webhook add it again.",
        ],
    )


class WebhookWorker:
    """Delivers webhook jobs until stopped; every replica may run one."""

    def __init__(
        self,
        queue: WebhookQueue,
        webhooks: Webhooks,
        sender: WebhookSender,
        *,
        exchange: str,
        backoff: tuple[float, ...] = BACKOFF,
        failure_limit: int = FAILURE_LIMIT,
        read_ahead: int = READ_AHEAD,
        claim_idle_ms: int = 30_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.webhooks = webhooks
        self.sender = sender
        self.exchange = exchange
        self.backoff = backoff
        self.failure_limit = failure_limit
        self.read_ahead = read_ahead
        self.claim_idle_ms = claim_idle_ms
        self.clock = clock
        self.inflight: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Condition()

    # ---- one job ------------------------------------------------------------------------
    async def process(self, entry: Entry) -> None:
        """Send one job once, and settle it: sent, retried later or dead-lettered."""
        entry_id, fields = entry
        try:
            job = Job.from_fields(entry_id, fields, WEBHOOK)
            event_id, hook_id = fields[JobField.HOOK_EVENT], int(fields[JobField.HOOK])
        except (KeyError, ValueError, IndexError):
            await self.queue.bury(entry_id, fields, "malformed webhook job")
            return
        if await self.queue.is_sent(event_id):  # read again after a crash: never twice
            await self.queue.ack(entry_id)
            return
        url = fields.get(JobField.HOOK_URL, "")  # the webhook's URL when the job was written
        async with self._locks.setdefault(url, asyncio.Lock()):  # one request per URL here
            # read after the wait: the jobs ahead may have disabled or removed it
            hook = await self.webhooks.get(job.chat, hook_id)
            if hook is None or hook.disabled is not None or hook.url != url:
                why = "webhook disabled" if hook and hook.disabled else "webhook removed"
                await self.queue.bury(entry_id, fields, why)
                return
            token = f"{self.queue.consumer}:{entry_id}"
            if not await self.queue.lease_url(url, token):  # in flight from another replica
                await self.queue.retry(entry_id, fields, self.clock() + URL_BUSY_RETRY_SECONDS)
                return
            try:
                now = self.clock()
                body = event_of(job, self.exchange, now).body()
                headers = signed_headers(hook.secret, body, now)
                failure = await self.sender.post(url, body, headers)
            finally:
                await self.queue.release_url(url, token)
        if len(self._locks) > LOCKS_KEPT:
            self._locks = {u: lk for u, lk in self._locks.items() if lk.locked()}
        if failure is None:
            await self.queue.sent(entry_id, event_id)
            if hook.failures:
                await self.webhooks.succeeded(job.chat, hook.id)
            return
        await self._failed(entry_id, fields, job.chat, hook, failure)

    async def _failed(
        self, entry_id: str, fields: dict[str, str], chat: str, hook: Webhook, why: str
    ) -> None:
        now = self.clock()
        notice = disabled_notice(hook, why)
        count, disabled = await self.webhooks.failed(chat, hook.id, self.failure_limit, notice, now)
        attempt = int(fields.get(JobField.ATTEMPT, "1") or 1)
        log.info("webhook %s of %s failed (%s), attempt %d", hook.id, chat, why, attempt)
        if disabled or count >= self.failure_limit or attempt > len(self.backoff):
            await self.queue.bury(entry_id, fields, f"webhook failed: {why}")
            return
        retry = {**fields, JobField.ATTEMPT.value: str(attempt + 1)}
        await self.queue.retry(entry_id, retry, now + self.backoff[attempt - 1])

    # ---- the loop -----------------------------------------------------------------------
    def _spawn(self, entry: Entry) -> None:
        self.inflight.add(entry[0])
        task = asyncio.create_task(self._guarded(entry))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, entry: Entry) -> None:
        try:
            await self.process(entry)
        except Exception:  # Redis away: the job stays pending and is reclaimed
            log.exception("webhook job %s failed; it stays pending", entry[0])
        finally:
            self.inflight.discard(entry[0])
            async with self._room:
                self._room.notify_all()

    async def run_once(self, block_ms: int | None = 500) -> int:
        """Release due retries, read what fits, start sending; returns how many started."""
        await self.queue.release_due(self.clock())
        room = self.read_ahead - len(self.inflight)
        if room <= 0:
            async with self._room:
                await self._room.wait_for(lambda: len(self.inflight) < self.read_ahead)
            return 0
        entries = await self.queue.read(room, block_ms)
        for entry in entries:
            self._spawn(entry)
        return len(entries)

    async def reclaim_once(self, idle_ms: int | None = None) -> int:
        """Take over jobs a crashed worker left pending (not those in flight here)."""
        idle = self.claim_idle_ms if idle_ms is None else idle_ms
        entries = [e for e in await self.queue.reclaim(idle, self.read_ahead)
                   if e[0] not in self.inflight]  # fmt: skip
        for entry in entries:
            self._spawn(entry)
        return len(entries)

    async def drain(self) -> None:
        """Wait for the jobs in flight (tests, graceful stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def run(self) -> None:
        await self.queue.ensure_group()
        upkeep = asyncio.create_task(self._upkeep(), name="webhook upkeep")
        try:
            while True:
                try:
                    await self.run_once()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("webhook reader error; retrying in 1s")
                    await asyncio.sleep(1.0)
        finally:
            upkeep.cancel()
            for task in list(self._tasks):
                task.cancel()
            await self.sender.close()

    async def _upkeep(self) -> None:
        """Renew jobs in flight, reclaim abandoned ones, trim the stream."""
        every = max(1.0, self.claim_idle_ms / 3000)
        while True:
            await asyncio.sleep(every)
            try:
                await self.queue.renew(list(self.inflight), int(every * 1000))
                await self.reclaim_once()
                await self.queue.trim()
            except Exception as exc:
                log.debug("webhook upkeep failed: %s", exc)
