"""Outbox streams of the priority classes, and the delivery policy types of the worker.

Three classes, three streams: personal jobs (fired and expired alerts) keep `P:outbox`,
which the engine's claim scripts append to; digests and broadcast signals have their
own streams. A class's rank decides who sends first when the budget is short; its
`read_ahead` bounds how many of its jobs one worker holds in memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from alerts.domain.jobs import DIGEST, PERSONAL, WEBHOOK, Job, OutboxClass
from alerts.storage.keys import Keys


def stream_of(keys: Keys, cls: OutboxClass) -> str:
    """The stream of a class; personal keeps `P:outbox`, which the Lua scripts write."""
    named = {PERSONAL: keys.outbox, DIGEST: keys.outbox_digest, WEBHOOK: keys.outbox_webhook}
    return named.get(cls, keys.outbox_broadcast)


@dataclass(frozen=True, slots=True)
class Coalesce:
    """Per-transport batching, so a burst reaches a phone as one message, not a flood.

    Leading edge: a chat's first message goes out at once; two messages to one chat are
    at least `gap` seconds apart, and jobs that arrive meanwhile join the next message.
    """

    gap: float = 0.0


NO_COALESCE = Coalesce()


Deliver = Callable[[str, list[Job]], Awaitable[None]]
