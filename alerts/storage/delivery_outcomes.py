"""What happens after one chat's send: sent, moved, unreachable, or retried later.

The transport classifies its error once, at its edge: `ChatUnreachable` is permanent
(the chat is paused with the reason, `/start` resumes it, the jobs are dead-lettered),
`ChatMoved` means the chat has a new id (its state moves, the jobs are resent there
once), anything else is transient: the jobs are parked under the `retry` consumer and
claimed again after a backoff; XPENDING's delivery count is the attempt count, and the
`MAX_ATTEMPTS`-th failure dead-letters them. Nothing is retried forever.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from alerts.domain.errors import ChatMoved, ChatUnreachable
from alerts.domain.jobs import Job
from alerts.domain.telemetry import Telemetry
from alerts.storage.chat_migration import ChatMigration
from alerts.storage.dead_letters import Burial, DeadLetters
from alerts.storage.keys import OUTBOX_GROUP, SENT_MARK_TTL_SECONDS, Keys
from alerts.storage.outbox_jobs import Deliver, stream_of

log = logging.getLogger("alerts.storage.outbox")
MAX_ATTEMPTS = 3  # sends of one job before it is dead-lettered
RETRY_CONSUMER = "retry"  # failed jobs wait here (pending, idle = time since the failure)


class ChatDelivery:
    """Sends one chat's jobs and settles them in Redis whatever the outcome."""

    def __init__(
        self, redis: Any, keys: Keys, deliver: Deliver, telemetry: Telemetry,
        clock: Callable[[], float],
    ) -> None:  # fmt: skip
        self.redis = redis
        self.keys = keys
        self.deliver_fn = deliver
        self.telemetry = telemetry
        self.clock = clock
        self.dead = DeadLetters(redis, keys, clock)
        self.migration = ChatMigration(redis, keys)
        self._paused_logged: set[str] = set()

    async def deliver(self, chat: str, jobs: list[Job]) -> int:
        """Send the jobs as one message; returns how many were delivered."""
        paused = await self.redis.get(self.keys.paused(chat))
        if paused is not None:  # queued before the chat was paused
            await self.bury(jobs, f"chat paused: {paused}", attempted=False)
            return 0
        try:
            await self.deliver_fn(chat, jobs)
        except ChatMoved as moved:
            return await self._moved(chat, moved.new_chat, jobs)
        except ChatUnreachable as exc:
            await self._unreachable(chat, jobs, str(exc))
            return 0
        except Exception as exc:
            await self._retry_later(chat, jobs, str(exc) or type(exc).__name__)
            return 0
        return await self._sent(jobs)

    async def _sent(self, jobs: list[Job]) -> int:
        pipe = self.redis.pipeline(transaction=False)
        for job in jobs:
            pipe.set(self.keys.sent(job.mark_id), "1", ex=SENT_MARK_TTL_SECONDS)
        for stream, ids in self._ids_by_stream(jobs).items():
            pipe.xack(stream, OUTBOX_GROUP, *ids)
        await pipe.execute()
        now = self.clock()
        for job in jobs:
            if job.tick_ts:
                self.telemetry.delivered(now - job.tick_ts)
        return len(jobs)

    async def _moved(self, chat: str, new_chat: str, jobs: list[Job]) -> int:
        """Move the chat's state to its new id, then resend there once."""
        moved = await self.migration.move(chat, new_chat)
        log.warning("chat %s moved to %s (%d alerts moved with it)", chat, new_chat, moved)
        try:
            await self.deliver_fn(new_chat, jobs)
        except ChatUnreachable as exc:
            await self._unreachable(new_chat, jobs, str(exc))
            return 0
        except Exception as exc:  # ChatMoved again included: retried like any transient error
            await self._retry_later(new_chat, jobs, str(exc) or type(exc).__name__)
            return 0
        return await self._sent(jobs)

    async def _unreachable(self, chat: str, jobs: list[Job], reason: str) -> None:
        """Permanent: pause the chat with the reason (/start resumes) and dead-letter."""
        await self.redis.set(self.keys.paused(chat), reason)
        await self.bury(jobs, f"unreachable: {reason}", attempted=True)
        if chat not in self._paused_logged:
            self._paused_logged.add(chat)
            log.warning("chat %s unreachable (%s): its alerts are paused", chat, reason)

    async def _retry_later(self, chat: str, jobs: list[Job], reason: str) -> None:
        """Transient: park the jobs for a retry after backoff, or dead-letter the worn ones."""
        worn = [job for job in jobs if job.tries >= MAX_ATTEMPTS]
        await self.bury(worn, reason, attempted=True)
        retry = [job for job in jobs if job.tries < MAX_ATTEMPTS]
        for stream, ids in self._ids_by_stream(retry).items():
            # JUSTID: the delivery count stays the number of attempts made
            await self.redis.xclaim(stream, OUTBOX_GROUP, RETRY_CONSUMER, 0, ids, justid=True)
        log.warning(
            "delivery to %s failed (%s): %d jobs retried later, %d dead-lettered",
            chat, reason, len(retry), len(worn),
        )  # fmt: skip

    async def bury(self, jobs: list[Job], reason: str, *, attempted: bool) -> None:
        """Dead-letter jobs; `attempted`: this read tried to send them."""
        await self.bury_entries(
            [
                Burial(stream_of(self.keys, job.cls), job.job_id, job.payload,
                       job.tries if attempted else job.tries - 1)
                for job in jobs
            ],
            reason,
        )  # fmt: skip

    async def bury_entries(self, burials: list[Burial], reason: str) -> None:
        if burials:
            await self.dead.bury(burials, reason)
            self.telemetry.dead_lettered(len(burials))

    def _ids_by_stream(self, jobs: list[Job]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for job in jobs:
            out[stream_of(self.keys, job.cls)].append(job.job_id)
        return out
