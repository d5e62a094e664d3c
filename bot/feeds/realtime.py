"""Realtime ticks: the exchange's websocket first, REST polling whenever it is down.

Why: a 10 s poll makes an alert up to 10 s late, while the socket pushes each market's
ticker about once a second. Every websocket tick takes the same path as a REST poll,
`Poller.ingest` (wild-tick guard, store, listeners → the alert engine); only the leader
runs this feed (`App.leader_duties`).

- socket live: REST polling pauses, except a slow safety net every
  `SAFETY_NET_INTERVALS` poll intervals that only takes markets the socket has been quiet
  on for a poll interval (their snapshots would go stale otherwise). The tracked symbols
  (watchlists) are re-read every poll interval; a change re-subscribes.
- socket down (or not live yet): REST polls at the configured interval. The first poll
  after a live socket drops happens at once, bridging the gap so no crossing is missed;
  the socket is retried with backoff (1 s doubling to 60 s). When it is live again (first
  tick), one more REST snapshot covers the time between the last poll and that tick.

Ordering: ticks of both kinds are ingested under one lock; a REST answer never overrides a
market the socket spoke about after that request left, and websocket ticks received
before it are dropped once it is ingested, so the price never steps back in time.

Coalescing: websocket ticks are kept per market (latest wins) and flushed as one batch at
most every `FLUSH_SECONDS`, so a burst costs at most one evaluation per market per 100 ms;
the first tick after a quiet spell is flushed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

from alerts.domain.market import FeedUnavailable, MarketError, Ticker
from alerts.domain.telemetry import Telemetry
from bot.feeds.poller import Poller, reraise_swallowed_cancel

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.1
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
STABLE_SECONDS = 60.0  # a session that was live this long resets the backoff
SAFETY_NET_INTERVALS = 2  # < the store's 3-interval staleness, so quiet markets stay fresh
UNSUPPORTED_RECHECK = 300.0

OnTicks = Callable[[list[Ticker]], None]
State = Literal["rest", "socket"]


class TickStream(Protocol):
    """A push source of tickers (bot/exchange_ws.py: ccxt.pro)."""

    @property
    def name(self) -> str:
        """The exchange streamed."""

    def supported(self) -> bool:
        """Whether the exchange has a ticker websocket at all."""

    async def run(self, symbols: Sequence[str], on_ticks: OnTicks) -> None:
        """Stream until the socket fails (raises a `MarketError`) or cancellation."""


def reconnect_delay(failures: int) -> float:
    """1 s, 2 s, 4 s ... up to 60 s between attempts to get the socket back."""
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2.0 ** max(0, failures - 1))


class RealtimeFeed:
    """Owns exchange ticks while it runs (the poller's own exchange loop stays off)."""

    def __init__(
        self,
        poller: Poller,
        stream: TickStream,
        *,
        telemetry: Telemetry | None = None,
        flush_seconds: float = FLUSH_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.poller = poller
        self.stream = stream
        self.telemetry = telemetry or poller.telemetry
        self.flush_seconds = flush_seconds
        self.mono = monotonic
        self.state: State = "rest"
        self.ws_ticks = 0  # websocket tickers received (before coalescing)
        self.flushes = 0
        self.sessions = 0
        self.rest_polls = 0
        self._lock = asyncio.Lock()
        self._pending: dict[str, tuple[Ticker, float]] = {}
        self._wake = asyncio.Event()
        self._live = asyncio.Event()
        self._ws_seen: dict[str, float] = {}  # market -> when the socket last spoke about it
        self._last_flush = -math.inf
        self._last_rest = -math.inf
        self._next_rest = -math.inf
        self._rest_failures = 0
        self._changed = asyncio.Event()

    @property
    def interval(self) -> float:
        return self.poller.poll_interval

    def _set_state(self, state: State) -> None:
        if state != self.state:
            log.info("realtime: %s ticks now come from %s", self.stream.name, state)
            self.state = state
            self._changed.set()
        self.telemetry.stream_state(state == "socket")

    async def wait_state(self, state: State, within: float) -> bool:
        """Block until the feed is in `state` (tests, the benchmark); False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.state != state:
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    def _wanted(self) -> list[str]:
        """Tracked markets the exchange lists (empty until its markets are loaded)."""
        listed = self.poller.exchange.lists
        return [s for s in self.poller.symbols if s not in self.poller.unlisted and listed(s)]

    # ---- websocket ticks -------------------------------------------------------------------
    def on_ticks(self, tickers: list[Ticker]) -> None:
        """Called by the stream for every update; keeps the latest per market."""
        now = self.mono()
        for ticker in tickers:
            self._pending[ticker.symbol] = (ticker, now)
            self._ws_seen[ticker.symbol] = now
        self.ws_ticks += len(tickers)
        self._wake.set()
        self._live.set()

    async def _flusher(self) -> None:
        while True:
            await self._wake.wait()
            wait = self._last_flush + self.flush_seconds - self.mono()
            if wait > 0:
                await asyncio.sleep(wait)  # updates arriving meanwhile replace older ones
            self._wake.clear()
            self._last_flush = self.mono()
            try:
                await self._flush()
            except Exception:
                log.exception("realtime: ingesting websocket ticks failed")

    async def _flush(self) -> None:
        async with self._lock:
            batch, self._pending = self._pending, {}
            if not batch:
                return
            self.flushes += 1
            tickers = [ticker for ticker, _ in batch.values()]
            await self.poller.ingest(tickers, self.poller.clock(), source="ws")
        reraise_swallowed_cancel()

    # ---- REST ------------------------------------------------------------------------------
    async def _rest_poll(self, *, quiet_only: bool = False) -> None:
        """One REST snapshot, ordered against the socket (see the module docstring)."""
        started = self._last_rest = self.mono()
        self.rest_polls += 1
        try:
            tickers, _ = await self.poller.fetch_exchange()
        except MarketError as exc:
            self._rest_failures += 1
            delay = Poller.backoff(self.interval, self._rest_failures, exc.retry_after)
            self._next_rest = started + delay
            return
        self._rest_failures = 0
        self._next_rest = started + self.interval
        cutoff = started - self.interval if quiet_only else started
        async with self._lock:
            keep = [t for t in tickers if self._ws_seen.get(t.symbol, -math.inf) < cutoff]
            for ticker in keep:
                pending = self._pending.get(ticker.symbol)
                if pending is not None and pending[1] < started:
                    del self._pending[ticker.symbol]  # this answer is newer
            if keep or not quiet_only:
                await self.poller.ingest(keep, self.poller.clock(), source="exchange")
        reraise_swallowed_cancel()

    async def _rest_until(self, deadline: float, *, bridge: bool) -> None:
        """Poll REST at its interval (with its backoff) until `deadline` (monotonic)."""
        self._set_state("rest")
        if bridge:
            await self._rest_poll()
        while True:
            wake = min(self._next_rest, deadline)
            await asyncio.sleep(max(0.0, wake - self.mono()))
            if self.mono() >= deadline:
                return
            await self._rest_poll()

    # ---- sessions --------------------------------------------------------------------------
    async def run(self) -> None:
        """Run until cancelled: the socket when it works, REST when it does not."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._flusher(), name="realtime-flush")
            group.create_task(self._supervise(), name="realtime")

    async def _supervise(self) -> None:
        failures = 0
        warned = False
        while True:
            reraise_swallowed_cancel()
            wanted = self._wanted()
            if not wanted:  # REST loads the markets first (and keeps polling if it cannot)
                self._set_state("rest")
                await asyncio.sleep(max(0.0, self._next_rest - self.mono()))
                await self._rest_poll()
                continue
            if not self.stream.supported():
                if not warned:
                    log.warning("realtime: %s has no ticker websocket; polling", self.stream.name)
                    warned = True
                await self._rest_until(self.mono() + UNSUPPORTED_RECHECK, bridge=False)
                continue
            live_at: list[float] = []
            try:
                await self._session(wanted, live_at)
                continue  # the tracked symbols changed: subscribe the new set at once
            except MarketError as exc:
                reason, reason_type = str(exc), type(exc).__name__
            except Exception as exc:  # a bug must not stop the prices: fall back, log it
                log.exception("realtime: the stream crashed")
                reason = reason_type = type(exc).__name__
            lived = self.mono() - live_at[0] if live_at else 0.0
            failures = 1 if lived >= STABLE_SECONDS else failures + 1
            delay = reconnect_delay(failures)
            self.telemetry.poll_failed("ws", reason_type)
            log.warning(
                "realtime: %s socket down (%s); polling REST, retrying in %.0fs",
                self.stream.name,
                reason,
                delay,
            )
            await self._rest_until(self.mono() + delay, bridge=bool(live_at))

    async def _session(self, wanted: list[str], live_at: list[float]) -> None:
        """One subscription of `wanted`; returns when the symbol set changes, raises when
        the socket fails. REST keeps its pace until the first tick proves the socket live."""
        self.sessions += 1
        self._live.clear()
        task = asyncio.create_task(self.stream.run(wanted, self.on_ticks), name="ws-stream")
        try:
            while not self._live.is_set():
                live = asyncio.ensure_future(self._live.wait())
                timeout = max(0.0, self._next_rest - self.mono())
                await asyncio.wait(
                    {task, live}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                live.cancel()
                self._raise_if_ended(task)
                if not self._live.is_set():
                    await self._rest_poll()
            live_at.append(self.mono())
            await self._rest_poll()  # covers the time between the last poll and the socket
            self._set_state("socket")
            while True:
                await asyncio.wait({task}, timeout=self.interval)
                self._raise_if_ended(task)
                await self.poller.refresh_symbols()
                reraise_swallowed_cancel()
                if set(self._wanted()) != set(wanted):
                    log.info("realtime: tracked symbols changed; re-subscribing")
                    return
                if self.mono() >= self._last_rest + SAFETY_NET_INTERVALS * self.interval:
                    await self._rest_poll(quiet_only=True)
        finally:
            task.cancel()
            await asyncio.wait({task})  # unlike `await task`, never swallows our own cancel
            if not task.cancelled():
                task.exception()  # retrieved: it was reported through _raise_if_ended
            self._set_state("rest")  # until the next session's first tick

    @staticmethod
    def _raise_if_ended(task: asyncio.Task[None]) -> None:
        if not task.done():
            return
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            raise exc
        raise FeedUnavailable("the exchange stream ended")
