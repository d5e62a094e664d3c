"""Routing pushed jobs to the transport that owns the chat.

The outbox worker hands over one chat's jobs; this renders them as one `Reply`
(handlers/chat/notify.py) and calls the push of the transport named by the chat
key's prefix (`tg`, `dc`, `console`), saying whether it is a broadcast (paid
broadcasts). Transports attach their push when they start; a chat whose transport
this process does not run is deferred (another replica may).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from alerts.domain.chat import transport_of
from alerts.domain.delivery import SendClass
from alerts.domain.errors import DeliveryDeferred
from alerts.domain.jobs import Job
from handlers.chat.notify import render_jobs
from handlers.chat.reply import Reply

Pusher = Callable[[str, Reply, SendClass], Awaitable[None]]


def no_count(transport: str, jobs: int) -> None:
    """`on_delivered` when nothing counts deliveries."""


class Dispatcher:
    """`deliver(chat, jobs)` for the outbox worker; one pusher per transport prefix."""

    def __init__(self, on_delivered: Callable[[str, int], None] = no_count) -> None:
        self._pushers: dict[str, Pusher] = {}
        self.on_delivered = on_delivered

    def attach(self, transport: str, push: Pusher) -> None:
        """Route chats `transport:…` to `push` (a transport calls this once it started)."""
        self._pushers[transport] = push

    async def deliver(self, chat: str, jobs: list[Job]) -> None:
        """Render a chat's jobs as one message and hand it to that chat's transport."""
        transport = transport_of(chat)
        push = self._pushers.get(transport)
        if push is None:  # e.g. its token was removed: retried a few times, then dead letter
            raise DeliveryDeferred("no transport")
        await push(chat, render_jobs(jobs), SendClass.of(job.kind for job in jobs))
        self.on_delivered(transport, len(jobs))
