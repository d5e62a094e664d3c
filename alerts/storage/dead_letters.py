"""Dead letters: outbox jobs that will never be delivered, kept with their reason.

A job is buried and acknowledged in one transaction, so it is either still in its
outbox stream or in the dead-letter stream, never in both and never in neither. The
stream is bounded (`MAXLEN ~`) and entries older than seven days are trimmed, so a
chat that keeps failing cannot grow Redis without bound. Operators read it with
`XRANGE P:dead - +`; `/stats`, `/healthz` and `altbot_dead_letters` show its length.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from alerts.storage.keys import DEAD_LETTER_MAXLEN, DEAD_LETTER_TTL_SECONDS, OUTBOX_GROUP, Keys


@dataclass(frozen=True, slots=True)
class Burial:
    """One job to bury: where it came from, its fields and how often it was tried."""

    stream: str
    job_id: str
    fields: Mapping[str, str]
    tries: int


class DeadLetters:
    """Writes, counts and trims the dead-letter stream."""

    def __init__(self, redis: Any, keys: Keys, clock: Callable[[], float] = time.time) -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock

    async def bury(self, burials: Iterable[Burial], reason: str) -> int:
        """Move jobs to the dead-letter stream and acknowledge them, atomically."""
        items = list(burials)
        if not items:
            return 0
        now = repr(self.clock())
        pipe = self.redis.pipeline(transaction=True)
        for item in items:
            fields = {
                **item.fields,
                "dead.src": item.stream,
                "dead.job": item.job_id,
                "dead.why": reason,
                "dead.tries": str(item.tries),
                "dead.at": now,
            }
            pipe.xadd(self.keys.dead_letters, fields, maxlen=DEAD_LETTER_MAXLEN, approximate=True)
        by_stream: dict[str, list[str]] = {}
        for item in items:
            by_stream.setdefault(item.stream, []).append(item.job_id)
        for stream, ids in by_stream.items():
            pipe.xack(stream, OUTBOX_GROUP, *ids)
        await pipe.execute()
        return len(items)

    async def count(self) -> int:
        return int(await self.redis.xlen(self.keys.dead_letters))

    async def trim(self) -> int:
        """Drop dead letters older than seven days (stream ids are milliseconds)."""
        floor = int((self.clock() - DEAD_LETTER_TTL_SECONDS) * 1000)
        return int(await self.redis.xtrim(self.keys.dead_letters, minid=floor, approximate=True))

    async def recent(self, count: int = 10) -> list[dict[str, str]]:
        """The newest dead letters, newest first (for operators and tests)."""
        rows = await self.redis.xrevrange(self.keys.dead_letters, count=count)
        return [dict(fields) for _, fields in rows]
