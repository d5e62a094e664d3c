"""The poller: one batched ticker request per poll, the R2K feed, history refresh.

Each feed has a `run_*_once()` that tests call directly; `run()` loops them as
asyncio tasks with backoff. Accepted ticks go to the store and then to the
listeners (the alert engine, the signal detector); each index poll notifies the
`index_listeners` (the signal detector). A tick that is zero/negative is dropped;
one that jumps more than 50% from the last accepted price is held until the next
poll confirms it, so a single wild print can never fire an alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from alerts.domain.market import (
    DailyClose,
    IndexSource,
    MarketError,
    RateLimited,
    TickBatch,
    Ticker,
    TickerSource,
    UnknownSymbol,
)
from alerts.domain.telemetry import NO_TELEMETRY, Telemetry
from alerts.storage.market_store import MarketStore

log = logging.getLogger(__name__)

WILD_JUMP = 0.50  # a move larger than this between two polls is held
CONFIRM_BAND = 0.05  # the next poll confirms a held tick if it is within 5% of it
HISTORY_DAYS = 400
MAX_BACKOFF_SECONDS = 300.0
HISTORY_REFRESH_SECONDS = 3600.0
DEFAULT_MAX_SYMBOLS = 200



TickListener = Callable[[TickBatch], Awaitable[None]]
IndexListener = Callable[[list[DailyClose]], Awaitable[None]]
ExtraSymbols = Callable[[], Awaitable[Sequence[str]]]


def reraise_swallowed_cancel() -> None:
    """A cancellation can get lost under us (redis-py 8.x async mid-command, Python 3.11's
    `wait_for` when the awaited result lands at the same moment); a loop that kept going
    would hang `App.stop()`, so loops honour a pending one here."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Poller:
    """Owns the feeds' polling loops; stateless apart from the wild-tick guard."""

    def __init__(
        self,
        exchange: TickerSource,
        index: IndexSource,
        store: MarketStore,
        symbols: Sequence[str],
        *,
        poll_interval: float,
        index_interval: float,
        clock: Callable[[], float] = time.time,
        telemetry: Telemetry = NO_TELEMETRY,
        extra_symbols: ExtraSymbols | None = None,
        max_symbols: int = DEFAULT_MAX_SYMBOLS,
        on_batch: Sequence[TickListener] = (),
        on_index: Sequence[IndexListener] = (),
    ) -> None:
        self.exchange = exchange
        self.index = index
        self.store = store
        self.base_symbols = list(symbols)
        self.symbols = list(symbols)
        self.extra_symbols = extra_symbols
        self.max_symbols = max_symbols
        self._cap_warned = False
        self._history_wanted = asyncio.Event()
        self.poll_interval = poll_interval
        self.index_interval = index_interval
        self.clock = clock
        self.telemetry = telemetry
        self.listeners = list(on_batch)  # public: observers (tests, benchmarks) may add theirs
        self.index_listeners = list(on_index)
        self.unlisted: list[str] = []
        self._accepted: dict[str, float] = {}
        self._held: dict[str, float] = {}
        self._volume_mean: dict[str, float] = {}
        self._markets_loaded = False
        self._index_loaded = False
        self._exchange_failures = 0
        self._index_failures = 0
        self.polls = 0

    async def _ensure_markets(self) -> None:
        if self._markets_loaded:
            return
        self.unlisted = await self.exchange.load(self.symbols)
        self._markets_loaded = True
        for symbol in self.unlisted:
            log.warning("%s does not list %s; it will not be tracked", self.exchange.name, symbol)
        for symbol in self.symbols:
            snap = await self.store.snapshot(symbol)
            if snap is not None:
                self._accepted[symbol] = snap.price

    def _guard(self, ticker: Ticker) -> bool:
        """True when the tick may be used; updates the held state."""
        if ticker.price <= 0:
            return False
        prev = self._accepted.get(ticker.symbol)
        held = self._held.pop(ticker.symbol, None)
        if prev is None or abs(ticker.price / prev - 1.0) <= WILD_JUMP:
            return True
        if held is not None and abs(ticker.price / held - 1.0) <= CONFIRM_BAND:
            log.info("%s: jump to %s confirmed by a second poll", ticker.symbol, ticker.price)
            return True
        self._held[ticker.symbol] = ticker.price
        return False

    async def refresh_symbols(self) -> list[str]:
        """Defaults plus the extra symbols (watchlists, alerts) within the cap; returns new ones.

        A failed read keeps the previous list, so the defaults are always polled.
        """
        if self.extra_symbols is None:
            return []
        try:
            extra = [s for s in await self.extra_symbols() if s not in self.base_symbols]
        except Exception as exc:
            log.warning("could not read the tracked symbols (%s); keeping the last list", exc)
            return []
        room = max(0, self.max_symbols - len(self.base_symbols))
        if len(extra) > room and not self._cap_warned:
            log.warning(
                "tracking cap of %d symbols reached: %d not polled (MAX_TRACKED_SYMBOLS)",
                self.max_symbols,
                len(extra) - room,
            )
        self._cap_warned = len(extra) > room
        wanted = [*self.base_symbols, *extra[:room]]
        added = [s for s in wanted if s not in self.symbols]
        self.symbols = wanted
        if added:
            log.info("now tracking %s", ", ".join(added))
            self._history_wanted.set()
            for symbol in added if self._markets_loaded else ():
                snap = await self.store.snapshot(symbol)
                if snap is not None:
                    self._accepted[symbol] = snap.price
        return added

    async def run_exchange_once(self) -> TickBatch | None:
        """One poll: one batched request, guard, store, notify listeners."""
        tickers, now = await self.fetch_exchange()
        return await self.ingest(tickers, now, source="exchange")

    async def fetch_exchange(self) -> tuple[list[Ticker], float]:
        """The request half of a poll (failures recorded, then raised), and when it started.

        The realtime feed ingests the answer itself, ordered against websocket ticks.
        """
        now = self.clock()
        await self.refresh_symbols()
        try:
            await self._ensure_markets()
            wanted = [s for s in self.symbols if s not in self.unlisted]
            tickers = await self.exchange.fetch_tickers(wanted)
        except MarketError as exc:
            self._exchange_failures += 1
            self.telemetry.poll_failed("exchange", type(exc).__name__)
            if isinstance(exc, RateLimited):
                self.telemetry.was_rate_limited("exchange")
            await self.store.feed_error("exchange", str(exc), now)
            log.warning("exchange poll failed (%s): %s", type(exc).__name__, exc)
            raise
        self._exchange_failures = 0
        return list(tickers.values()), now

    async def ingest(self, tickers: list[Ticker], now: float, *, source: str) -> TickBatch:
        """The one path every tick takes (REST poll or websocket): guard, store, listeners."""
        accepted: list[Ticker] = []
        for ticker in tickers:
            if self._guard(ticker):
                accepted.append(ticker)
                self._accepted[ticker.symbol] = ticker.price
            elif ticker.symbol in self._held:
                await self.store.mark_held(ticker.symbol, ticker.price)
                log.warning("%s: held a suspicious tick %s", ticker.symbol, ticker.price)
        await self.store.save_tickers(accepted, now)
        await self.store.feed_ok("exchange", now)
        self.polls += 1
        self.telemetry.poll_ok(source)
        batch = TickBatch(accepted, now, self._ratios(accepted))
        for listener in self.listeners:
            await listener(batch)
        return batch

    def _ratios(self, tickers: list[Ticker]) -> dict[str, float]:
        out = {}
        for t in tickers:
            mean = self._volume_mean.get(t.symbol)
            if mean and t.quote_volume is not None:
                out[t.symbol] = t.quote_volume / mean
        return out

    async def refresh_history(self) -> None:
        """Daily candles for the regime and volume alerts (cached in Redis by the store)."""
        await self._ensure_markets()
        for symbol in list(self.symbols):
            if symbol in self.unlisted or not self.exchange.lists(symbol):
                continue
            candles = await self.store.daily(symbol)
            if not candles:
                try:
                    candles = await self.exchange.fetch_daily(symbol, HISTORY_DAYS)
                except UnknownSymbol:
                    continue  # delisted since it was watched
                await self.store.save_daily(symbol, candles)
            last30 = [c.quote_volume for c in candles[-31:-1]]
            if last30:
                self._volume_mean[symbol] = sum(last30) / len(last30)

    async def run_index_once(self) -> list[DailyClose]:
        """Full history on the first call, recent days after that, merged by day."""
        now = self.clock()
        try:
            rows = await self.index.fetch_daily(full=not self._index_loaded)
        except MarketError as exc:
            self._index_failures += 1
            self.telemetry.poll_failed("index", type(exc).__name__)
            await self.store.feed_error("index", str(exc), now)
            log.warning("index poll failed (%s): %s", type(exc).__name__, exc)
            raise
        self._index_failures = 0
        if self._index_loaded:
            old, _ = await self.store.index()
            merged = {r.ts: r for r in old}
            merged.update({r.ts: r for r in rows})
            rows = [merged[ts] for ts in sorted(merged)]
        self._index_loaded = True
        await self.store.save_index(rows, now)
        await self.store.feed_ok("index", now)
        self.telemetry.poll_ok("index")
        for listener in self.index_listeners:
            await listener(rows)
        return rows

    async def run_once(self) -> None:
        """Both feeds once; errors are recorded, not raised (tests inspect the store)."""
        for step in (self.run_index_once, self.refresh_history, self.run_exchange_once):
            try:
                await step()
            except MarketError:
                continue

    @staticmethod
    def backoff(interval: float, failures: int, retry_after: float | None) -> float:
        """Next delay: doubled per consecutive failure up to 30 intervals (at most 5 min),
        and never shorter than the server's Retry-After."""
        cap = max(interval, min(MAX_BACKOFF_SECONDS, interval * 30))
        delay = min(interval * (2 ** min(failures, 10)), cap) if failures else interval
        return max(delay, retry_after or 0.0)

    async def _loop(
        self, step: Callable[[], Awaitable[object]], interval: float, kind: str
    ) -> None:
        while True:
            retry_after = None
            started = time.monotonic()
            try:
                await step()
            except MarketError as exc:
                retry_after = exc.retry_after
            except Exception:
                log.exception("%s poll crashed; continuing", kind)
            reraise_swallowed_cancel()
            failures = self._exchange_failures if kind == "exchange" else self._index_failures
            delay = self.backoff(interval, failures, retry_after)
            if not failures and retry_after is None:  # keep the schedule: polls start every
                delay -= time.monotonic() - started  # interval, however long this one took
            await asyncio.sleep(max(0.0, delay))

    async def _history_loop(self) -> None:
        """Hourly, and as soon as new symbols are tracked (their volume means need it)."""
        while True:
            self._history_wanted.clear()
            try:
                await self.refresh_history()
            except MarketError as exc:
                log.warning("history refresh failed: %s", exc)
            reraise_swallowed_cancel()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._history_wanted.wait(), HISTORY_REFRESH_SECONDS)

    async def run(self, *, exchange: bool = True) -> None:
        """Run every feed until cancelled; `exchange=False` when bot/realtime owns the ticks."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._loop(self.run_index_once, self.index_interval, "index"))
            group.create_task(self._history_loop())
            if exchange:
                group.create_task(
                    self._loop(self.run_exchange_once, self.poll_interval, "exchange")
                )
