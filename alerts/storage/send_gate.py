"""A priority gate in front of a transport: who may send next when the budget is short.

The transport's flood limiter serves whoever is waiting in it. If thousands of broadcast
sends waited there, a personal alert would queue behind all of them. The gate keeps only
`permits` sends inside the transport at a time and hands the next permit to the waiter
with the best (lowest) rank, so a personal alert waits behind at most `permits` sends.

Strict priority with a reserved share: every `fair_every`-th permit goes to the
longest waiter whatever its rank, so broadcasts keep moving under a personal flood
(at least 1/`fair_every` of the sends) and get everything personal jobs leave over.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass


@dataclass(slots=True, eq=False)
class _Waiter:
    seq: int
    rank: Callable[[], int]  # read when a permit frees: a waiter's rank may improve meanwhile
    granted: asyncio.Future[None]


class PriorityGate:
    """At most `permits` holders; waiters by rank (0 first), oldest first within a rank."""

    def __init__(self, permits: int, *, fair_every: int = 10) -> None:
        if permits < 1 or fair_every < 1:
            raise ValueError("permits and fair_every must be at least 1")
        self._free = permits
        self._fair_every = fair_every
        self._waiters: list[_Waiter] = []  # in arrival order
        self._seq = itertools.count()
        self._grants = 0

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @asynccontextmanager
    async def slot(self, rank: Callable[[], int]) -> AsyncIterator[None]:
        """Hold one permit for the body; `rank` is re-read each time a permit frees."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
        else:
            waiter = _Waiter(next(self._seq), rank, asyncio.get_running_loop().create_future())
            self._waiters.append(waiter)
            try:
                await waiter.granted
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif waiter.granted.done() and not waiter.granted.cancelled():
                    self._release()  # granted, then cancelled before it ran: pass it on
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        self._free += 1
        while self._free > 0 and self._waiters:
            waiter = self._pick()
            self._waiters.remove(waiter)
            if waiter.granted.done():  # cancelled while queued
                continue
            self._free -= 1
            waiter.granted.set_result(None)

    def _pick(self) -> _Waiter:
        self._grants += 1
        if self._grants % self._fair_every == 0:
            return self._waiters[0]
        return min(self._waiters, key=lambda w: (w.rank(), w.seq))
