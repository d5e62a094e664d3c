"""Price history in fixed buckets: memory per symbol bounded whatever the tick rate.

Each accepted tick is folded into its 10 s bucket (`open high low close`) by a
script; a chunk hash holds one hour of buckets (listpack-encoded, compact) and
expires 25 h after the hour ends. So a symbol never holds more than
HISTORY_CHUNKS x CHUNK_BUCKETS buckets (see alerts/keys.py), at 1 tick/s or 100.
Move alerts read their window extremes from here (creation check, and the
engine's deques after a restart), so both see exactly the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from alerts.domain.moves import window_move
from alerts.storage.keys import BUCKET_SECONDS, CHUNK_BUCKETS, TICK_HISTORY_SECONDS, Keys
from alerts.storage.scripts import BadRecords, load_lua

Row = tuple[int, float, float]  # (bucket index, low, high)


def bucket_of(ts: float) -> int:
    return int(ts // BUCKET_SECONDS)


class TickHistory:
    """Writes ticks into buckets and reads (bucket, low, high) rows back."""

    def __init__(self, redis: Redis, keys: Keys, bad: BadRecords) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.
        self.redis: Any = redis
        self.keys = keys
        self.bad = bad
        self._fold = redis.register_script(load_lua("tick_bucket"))

    def _where(self, symbol: str, bucket: int) -> tuple[str, int, int]:
        """(chunk key, field, the tick time at which the chunk may go) of a bucket."""
        chunk, slot = divmod(bucket, CHUNK_BUCKETS)
        end = (chunk + 1) * CHUNK_BUCKETS * BUCKET_SECONDS
        return self.keys.tick_chunk(symbol, chunk), slot, end + TICK_HISTORY_SECONDS

    async def queue(self, pipe: Any, symbol: str, ts: float, price: float) -> None:
        """Add the fold of one tick to a pipeline (the caller executes it)."""
        key, slot, gone_at = self._where(symbol, bucket_of(ts))
        ttl = math.ceil(gone_at - ts)  # <= 0 (older than 25 h): the chunk goes at once
        await self._fold(keys=[key], args=[slot, repr(price), ttl], client=pipe)

    def check(self, symbol: str, ts: float, result: object) -> None:
        """Report what a queued fold answered (-1: the bucket was unreadable)."""
        if isinstance(result, ResponseError):
            self.bad.check("tick history", result)
        elif result == -1:
            key, slot, _ = self._where(symbol, bucket_of(ts))
            self.bad.report("tick history", "record", [f"{key} field {slot}"])

    async def rows(self, symbol: str, since: float, until: float) -> list[Row]:
        """(bucket, low, high) of every stored bucket from `since` to `until`, oldest first."""
        first, last = bucket_of(since), bucket_of(until)
        chunks = range(first // CHUNK_BUCKETS, last // CHUNK_BUCKETS + 1)
        pipe = self.redis.pipeline(transaction=False)
        for chunk in chunks:
            pipe.hgetall(self.keys.tick_chunk(symbol, chunk))
        replies = await pipe.execute(raise_on_error=False)
        out: list[Row] = []
        for chunk, reply in zip(chunks, replies, strict=True):
            key = self.keys.tick_chunk(symbol, chunk)
            if isinstance(reply, ResponseError):
                self.bad.report("tick history", "key", [key])
                continue
            for slot, value in reply.items():
                parts = value.split(" ")
                try:
                    index = chunk * CHUNK_BUCKETS + int(slot)
                    row = (index, float(parts[2]), float(parts[1]))
                except (ValueError, IndexError):
                    self.bad.report("tick history", "record", [f"{key} field {slot}"])
                    continue
                if first <= index <= last:
                    out.append(row)
        out.sort()
        return out

    async def move(self, symbol: str, window: int, at: float, price: float) -> float:
        """The move (%) of `price` at `at` over `window` seconds, as the engine computes it."""
        rows = await self.rows(symbol, at - window, at)
        return window_move(rows, window // BUCKET_SECONDS, bucket_of(at), price)
