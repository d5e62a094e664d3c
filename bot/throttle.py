"""A job run on request in its own task, at most once per `spacing` seconds.

Why: poller listeners run inline, under the realtime feed's ingest lock, after every
batch (a websocket flush every 100 ms). A job that re-reads daily candles there (the
signal detector, ~13 ms) slowed every tick. Listeners now only `request()` it; this
runner coalesces the requests and runs the job between batches. An `urgent` request
(an index poll: rare, and what most signals depend on) skips the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable

from bot.feeds.poller import reraise_swallowed_cancel

log = logging.getLogger(__name__)


class SpacedRunner:
    """Runs `job` after requests, never twice within `spacing` seconds (unless urgent)."""

    def __init__(
        self,
        job: Callable[[], Awaitable[object]],
        spacing: float,
        *,
        name: str,
        on_run: Callable[[], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.job = job
        self.spacing = spacing
        self.name = name
        self.on_run = on_run
        self.mono = monotonic
        self._wanted = asyncio.Event()
        self._urgent = asyncio.Event()
        self._last = -math.inf

    def request(self, *, urgent: bool = False) -> None:
        """Ask for a run: at once when the last one is `spacing` old (or `urgent`), else then."""
        self._wanted.set()
        if urgent:
            self._urgent.set()

    async def run(self) -> None:
        """Serve requests until cancelled; a failing job is logged and served again later."""
        while True:
            await self._wanted.wait()
            wait = self._last + self.spacing - self.mono()
            if wait > 0 and not self._urgent.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), wait)
            self._wanted.clear()
            self._urgent.clear()
            self._last = self.mono()
            if self.on_run is not None:
                self.on_run()
            try:
                await self.job()
            except Exception:  # e.g. Redis away for a moment: the next request tries again
                log.exception("%s failed", self.name)
            reraise_swallowed_cancel()
