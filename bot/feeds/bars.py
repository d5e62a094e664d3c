"""The bar feed: exchange OHLCV -> bar-series values, once per bar close.

For each symbol it reads the series in use (`BarSeriesRegistry`: registered by alert
creation, forgotten once no alert uses them), groups them by timeframe and, shortly
after each bar boundary, fetches the bars once per (symbol, timeframe). Closed bars
only (bar end at least `settle_seconds` in the past) feed the on-close series; the
forming bar never does. Values go to the `on_values` listeners (the alert engine) as `BarValues`.

Restart safety: a per (symbol, timeframe) cursor in Redis (`P:bc:{SYM}`) holds the
close time of the last bar the listeners saw. Every closed bar after it is
replayed in order (at most `replay_bars` of them: the fetched window) and the
cursor moves only after the listeners returned, so a bar close missed while the
bot was down is evaluated once after restart, and one whose listeners failed is
tried again.

Intrabar series (`~`) are computed on accepted ticks (`on_batch`, a poller
listener) with the forming bar's close replaced by the tick's price, at most once
per `intrabar_seconds` per symbol, and only while the fetched bars reach up to the
forming bar (stale bars: no values, never a false alert).

Cost: per bar close O(distinct indicators × bars_needed) TA-Lib work and one
OHLCV request per (symbol, timeframe), whatever the number of alerts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from alerts.domain.indicators import BarSeries, Timeframe
from alerts.domain.market import BarValues, Candle, MarketError, TickBatch, TickerSource
from alerts.storage.bar_series import BarSeriesRegistry
from alerts.storage.keys import Keys
from alerts.storage.market_store import MarketStore
from bot.feeds.indicators import values_at

log = logging.getLogger(__name__)

FEED_NAME = "bars"
SETTLE_SECONDS = 3.0  # a bar counts as closed this long after its end (exchange latency)
REPLAY_BARS = 100  # missed bar closes replayed after a restart, at most
LOOP_SECONDS = 5.0
RETRY_SECONDS = 15.0

ValuesListener = Callable[[BarValues], Awaitable[None]]
Pair = tuple[str, Timeframe]


class BarFeed:
    """Leader-only, like the poller: its owner runs `run()` while it leads."""

    def __init__(
        self,
        exchange: TickerSource,
        store: MarketStore,
        symbols: Callable[[], Sequence[str]],
        *,
        on_values: Sequence[ValuesListener] = (),
        intrabar_seconds: float,
        clock: Callable[[], float] = time.time,
        settle_seconds: float = SETTLE_SECONDS,
        replay_bars: int = REPLAY_BARS,
        loop_seconds: float = LOOP_SECONDS,
    ) -> None:
        self.exchange = exchange
        self.store = store
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.
        self.redis: Any = store.redis
        self.keys: Keys = store.keys
        self.registry = BarSeriesRegistry(store.redis, store.keys)
        self.symbols = symbols
        self.listeners = list(on_values)
        self.intrabar_seconds = intrabar_seconds
        self.clock = clock
        self.settle = settle_seconds
        self.replay_bars = replay_bars
        self.loop_seconds = loop_seconds
        self._series: dict[str, dict[Timeframe, list[BarSeries]]] = {}
        self._closed: dict[Pair, list[Candle]] = {}  # the last fetched closed bars
        self._done: dict[Pair, int] = {}  # close time of the newest bar handled
        self._retry_at: dict[Pair, float] = {}
        self._intrabar_at: dict[str, float] = {}
        self.fetches = 0

    async def run(self) -> None:
        """Loop until cancelled; each pass only fetches what a bar boundary made due."""
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("bar feed pass failed")
            await asyncio.sleep(self.loop_seconds)

    async def run_once(self, now: float | None = None) -> None:
        """Fetch and evaluate every (symbol, timeframe) whose newest bar close is due."""
        now = self.clock() if now is None else now
        await self._read_series()
        errors: list[str] = []
        fetched = False
        for symbol, by_tf in self._series.items():
            for tf, series in by_tf.items():
                pair = (symbol, tf)
                due = int((now - self.settle) // tf.seconds * tf.seconds)
                if self._done.get(pair, -1) >= due or self._retry_at.get(pair, 0.0) > now:
                    continue
                try:
                    await self._advance(symbol, tf, series, now)
                    fetched = True
                except MarketError as exc:
                    errors.append(f"{symbol} {tf.value}: {exc}")
                    self._retry_at[pair] = now + (exc.retry_after or RETRY_SECONDS)
                except Exception:
                    log.exception("bar listeners failed on %s %s; retried next pass", *pair)
        if errors:
            log.warning("bar fetch failed: %s", "; ".join(errors))
            await self.store.feed_error(FEED_NAME, errors[0], now)
        elif fetched:
            await self.store.feed_ok(FEED_NAME, now)

    async def _read_series(self) -> None:
        """The series in use per symbol and timeframe (one registry script per symbol)."""
        found: dict[str, dict[Timeframe, list[BarSeries]]] = {}
        for symbol in dict.fromkeys(self.symbols()):
            by_tf: dict[Timeframe, list[BarSeries]] = defaultdict(list)
            for key in await self.registry.in_use(symbol):
                try:
                    series = BarSeries.from_key(key)
                    by_tf[series.timeframe].append(series)
                except ValueError:
                    log.warning("ignoring unreadable bar series %r on %s", key, symbol)
            if by_tf:
                found[symbol] = dict(by_tf)
        in_use = {(s, tf) for s, by_tf in found.items() for tf in by_tf}
        for state in (self._closed, self._done, self._retry_at):
            for pair in [p for p in state if p not in in_use]:
                del state[pair]
        for symbol, by_tf in found.items():  # a new series: fetch now for its first value
            for tf, added in by_tf.items():
                if set(added) - set(self._series.get(symbol, {}).get(tf, [])):
                    self._done.pop((symbol, tf), None)
        self._series = found

    async def _advance(
        self, symbol: str, tf: Timeframe, series: list[BarSeries], now: float
    ) -> None:
        span = tf.seconds
        count = max(s.bars_needed for s in series) + self.replay_bars + 1
        bars = await self.exchange.fetch_bars(symbol, tf, count)
        self.fetches += 1
        closed = [c for c in bars if c.ts + span <= now - self.settle]
        self._closed[(symbol, tf)] = closed
        on_close = [s for s in series if not s.intrabar]
        if on_close and closed:
            await self._emit_closes(symbol, tf, on_close, closed)
        self._done[(symbol, tf)] = closed[-1].ts + span if closed else -1

    async def _emit_closes(
        self, symbol: str, tf: Timeframe, series: list[BarSeries], closed: list[Candle]
    ) -> None:
        """Every closed bar after the cursor, oldest first (only the newest on a first run).

        With nothing new, series never evaluated (no last value in the engine's
        `P:last:{SYM}`: just added) get the cursor's bar now, as the baseline a later
        close is compared with, instead of waiting for the next close."""
        span = tf.seconds
        key = self.keys.bar_cursor(symbol)
        raw = await self.redis.hget(key, tf.value)
        cursor = int(raw) if raw is not None else closed[-1].ts  # first run: newest bar only
        start = max(len(closed) - self.replay_bars, 0)
        if closed[start].ts > cursor:
            log.warning(
                "%s %s: bars closed after %d are beyond the replay window; skipped",
                symbol,
                tf.value,
                cursor,
            )
        fresh = [i for i in range(start, len(closed)) if closed[i].ts + span > cursor]
        for i in fresh:
            await self._emit(symbol, series, closed[: i + 1], span)
            await self.redis.hset(key, tf.value, closed[i].ts + span)
        if not fresh and closed[-1].ts + span == cursor:  # the cursor's bar, for new series
            known = await self.redis.hmget(self.keys.last(symbol), [s.key for s in series])
            new = [s for s, value in zip(series, known, strict=True) if value is None]
            if new:
                await self._emit(symbol, new, closed, span)

    async def _emit(
        self, symbol: str, series: list[BarSeries], bars: list[Candle], span: int
    ) -> None:
        """The series' values on the last of `bars` to the listeners (none: nothing)."""
        values = values_at(series, bars, span)
        if values:
            event = BarValues(symbol, bars[-1].ts + span, values)
            for listener in self.listeners:
                await listener(event)

    async def on_batch(self, batch: TickBatch) -> None:
        """Intrabar series on accepted ticks (a `Poller` listener)."""
        for tick in batch.ticks:
            by_tf = self._series.get(tick.symbol)
            last = self._intrabar_at.get(tick.symbol)
            if not by_tf or (last is not None and batch.fetched_at - last < self.intrabar_seconds):
                continue
            values: dict[str, float] = {}
            for tf, series in by_tf.items():
                intrabar = [s for s in series if s.intrabar]
                closed = self._closed.get((tick.symbol, tf))
                if not intrabar or not closed:
                    continue
                forming_ts = closed[-1].ts + tf.seconds
                if not forming_ts <= tick.ts < forming_ts + tf.seconds:
                    continue  # the bars stop before the forming bar: wait for the next fetch
                price = tick.price
                forming = Candle(forming_ts, price, price, price, price)
                values.update(values_at(intrabar, [*closed, forming], tf.seconds))
            if values:
                self._intrabar_at[tick.symbol] = batch.fetched_at
                event = BarValues(tick.symbol, int(tick.ts), values, intrabar=True)
                for listener in self.listeners:
                    await listener(event)
