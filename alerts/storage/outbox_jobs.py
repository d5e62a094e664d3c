"""Outbox jobs and their priority classes: what a delivery worker reads from the streams.

Three classes, three streams: personal jobs (fired and expired alerts) keep `P:outbox`,
which the engine's claim scripts append to; digests and broadcast signals have their
own streams. A class's rank decides who sends first when the budget is short; its
`read_ahead` bounds how many of its jobs one worker holds in memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from alerts.domain.alert import Alert
from alerts.storage.keys import Keys


@dataclass(frozen=True, slots=True)
class OutboxClass:
    """A priority class: its rank (0 goes first) and how many of its jobs a worker holds."""

    name: str
    rank: int
    read_ahead: int


PERSONAL = OutboxClass("personal", 0, 400)
DIGEST = OutboxClass("digest", 1, 100)
# ~1 s of Telegram's budget: enough to keep it busy, never thousands ahead in memory
BROADCAST = OutboxClass("broadcast", 2, 32)
CLASSES = (PERSONAL, DIGEST, BROADCAST)


def stream_of(keys: Keys, cls: OutboxClass) -> str:
    """The stream of a class; personal keeps `P:outbox`, which the Lua scripts write."""
    return {PERSONAL: keys.outbox, DIGEST: keys.outbox_digest}.get(cls, keys.outbox_broadcast)


@dataclass(frozen=True, slots=True)
class Job:
    """One delivery job as read from a stream; `payload` holds its raw fields."""

    job_id: str
    kind: str  # fire | expired | signal | digest
    chat: str
    alert: Alert | None = None
    value: float | None = None
    at: float = 0.0
    tick: float = 0.0
    payload: dict[str, str] = field(default_factory=dict)
    cls: OutboxClass = PERSONAL
    tries: int = 1  # this read included: XPENDING's delivery count

    @classmethod
    def from_fields(
        cls, job_id: str, fields: dict[str, str], klass: OutboxClass = PERSONAL, tries: int = 1
    ) -> Job:
        kind = fields.get("t", "")
        if kind in ("fire", "expired"):
            alert = Alert.unpack(int(fields["id"]), fields["rec"])
            value = float(fields["v"]) if fields.get("v") else None
            at, tick = float(fields["at"]), float(fields["tick"])
            return cls(job_id, kind, alert.chat, alert, value, at, tick, fields, klass, tries)
        at = float(fields.get("at", 0))
        return cls(job_id, kind, fields.get("chat", ""), at=at, payload=fields, cls=klass,
                   tries=tries)  # fmt: skip

    @property
    def mark_id(self) -> str:
        """Sent-mark name: stream ids repeat across streams, so other classes are qualified."""
        return self.job_id if self.cls is PERSONAL else f"{self.cls.name}:{self.job_id}"


@dataclass(frozen=True, slots=True)
class Coalesce:
    """Per-transport batching, so a burst reaches a phone as one message, not a flood.

    Leading edge: a chat's first message goes out at once; two messages to one chat are
    at least `gap` seconds apart, and jobs that arrive meanwhile join the next message.
    """

    gap: float = 0.0


NO_COALESCE = Coalesce()


Deliver = Callable[[str, list[Job]], Awaitable[None]]
