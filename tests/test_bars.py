"""The bar feed end to end: fake Binance klines -> real ccxt -> closed bars -> TA-Lib.

Values are checked against TA-Lib run directly on the closes the fake served; the
forming bar never counts as closed; the cursor in Redis replays missed closes once
after a restart and does not move on errors; intrabar values are throttled.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
import talib
from redis.asyncio import Redis

from alerts.domain.indicators import BarSeries, Timeframe
from alerts.domain.market import BarValues, FeedUnavailable, RateLimited, TickBatch, Ticker
from alerts.storage.engine import Engine
from alerts.storage.keys import Keys
from alerts.storage.market_store import MarketStore
from alerts.usecases.evaluation import Evaluation
from bot.feeds.bars import FEED_NAME, SETTLE_SECONDS, BarFeed
from bot.feeds.exchange import CcxtExchange
from fakes.binance import FakeBinance
from tests.replay import replay_app
from tests.series_alerts import watch_series

SYM = "LINK/USDT"
HOUR = 3600
T0 = 1_764_000_000 - 1_764_000_000 % 86400 + 10 * HOUR  # a bar boundary
KEYS = [
    "rsi14@1h",
    "ema9-ema21@1h",
    "ema21-ema50@1h",
    "price-sma200@1h",
    "macd(12,26,9)-macd(12,26,9).signal@1h",
    "price-bb(20,2).upper@1h",
    "price-bb(20,2.5).lower@1h",
    "ema9@1h",
    "sma50@1h",
]


def walk(n: int, seed: int, start: float = 9.0) -> list[float]:
    rng = random.Random(seed)
    out = [start]
    for _ in range(n - 1):
        out.append(round(out[-1] * (1 + rng.gauss(0, 0.01)), 4))
    return out


def oracle(key: str, closes: list[float]) -> float:
    """TA-Lib straight on the closes, each indicator over its documented warm-up."""
    series = BarSeries.from_key(key)
    parts = []
    for op in series.operands:
        ind = op.indicator
        c = np.array(closes[-ind.bars_needed :], dtype=float)
        p = ind.params
        name = ind.name.value
        if name == "price":
            v = c
        elif name == "rsi":
            v = talib.RSI(c, int(p[0]))
        elif name in ("ema", "sma"):
            v = getattr(talib, name.upper())(c, int(p[0]))
        elif name == "macd":
            macd, signal, _ = talib.MACD(c, int(p[0]), int(p[1]), int(p[2]))
            v = signal if op.line == "signal" else macd
        else:
            up, mid, low = talib.BBANDS(c, int(p[0]), p[1], p[1], 0)
            v = {"upper": up, "lower": low}.get(op.line, mid)
        parts.append(float(v[-1]))
    return parts[0] - parts[1] if len(parts) == 2 else parts[0]


@pytest.fixture
async def binance() -> AsyncIterator[FakeBinance]:
    fake = FakeBinance(hang_seconds=2)
    await fake.start()
    fake.freeze_at(T0 + 30)
    yield fake
    await fake.stop()


@pytest.fixture
async def exchange(binance: FakeBinance) -> AsyncIterator[CcxtExchange]:
    ex = CcxtExchange("binance", api_url=binance.url, rate_limit=False, attempts=1)
    await ex.load([SYM])
    yield ex
    await ex.close()


class Run:
    """A bar feed on the fake, collecting what it emits."""

    def __init__(self, exchange: CcxtExchange, redis: Redis, keys: Keys) -> None:
        self.exchange, self.store = exchange, MarketStore(redis, keys)
        self.redis, self.keys = redis, keys
        self.seen: list[BarValues] = []
        self.feed = self.new_feed()

    def new_feed(self) -> BarFeed:
        """A new instance: what a restart (or another replica taking over) builds."""
        evaluation = Evaluation(Engine(self.redis, self.keys), self.redis, self.keys, time.time)
        self.feed = BarFeed(self.exchange, self.store, lambda: [SYM],
                            on_values=[self.collect, evaluation.on_bar_values],
                            intrabar_seconds=10)  # fmt: skip
        return self.feed

    async def collect(self, values: BarValues) -> None:
        self.seen.append(values)

    async def use(self, *keys: str) -> None:
        await watch_series(self.redis, self.keys, SYM, list(keys))

    async def at(self, ts: float) -> list[BarValues]:
        before = len(self.seen)
        await self.feed.run_once(ts)
        return self.seen[before:]


@pytest.fixture
async def run(exchange: CcxtExchange, redis: Redis, keys: Keys) -> Run:
    return Run(exchange, redis, keys)


async def test_values_agree_with_talib_on_the_served_closes(
    binance: FakeBinance, run: Run
) -> None:
    closes = walk(600, seed=3)
    binance.set_bars(SYM, "1h", closes)  # the last one is forming at T0 + 30
    await run.use(*KEYS, "rsi14@4h")  # no 4h bars served: nothing made up for it
    (got,) = await run.at(T0 + 30)
    assert got.symbol == SYM and not got.intrabar
    assert got.bar_close_ts == T0  # the bar that closed at T0, not the forming one
    assert set(got.values) == set(KEYS)
    for key in KEYS:
        assert got.values[key] == pytest.approx(oracle(key, closes[:-1]), rel=1e-9, abs=1e-12)
    status = await run.store.feed_status(FEED_NAME)
    assert status.last_ok == T0 + 30


async def test_one_request_per_symbol_and_timeframe_and_forming_bar_never_closed(
    binance: FakeBinance, run: Run
) -> None:
    binance.set_bars(SYM, "1h", walk(400, seed=4))
    binance.set_bars(SYM, "4h", walk(400, seed=5))
    await run.use("rsi14@1h", "ema9-ema21@1h", "sma50@1h", "rsi14@4h", "rsi14@1h~")
    binance.clear_log()
    first = await run.at(T0 + 30)
    assert len(binance.requests_to("klines")) == 2  # one per timeframe, not per series
    assert {v.bar_close_ts for v in first} == {T0, T0 - T0 % (4 * HOUR)}
    assert all("rsi14@1h~" not in v.values for v in first)  # intrabar keys: on ticks only
    binance.set_forming(SYM, "1h", 30.0, high=40.0)  # a huge wick on the forming bar
    assert await run.at(T0 + 1800) == []  # same bar still forming: nothing due, no request
    assert len(binance.requests_to("klines")) == 2
    binance.append_bar(SYM, "1h", 30.5)
    binance.freeze_at(T0 + HOUR + 5)
    (closed,) = await run.at(T0 + HOUR + 5)  # the 4h bar is still forming: only 1h
    assert closed.bar_close_ts == T0 + HOUR
    assert closed.values["rsi14@1h"] > 70  # the bar closed at 30: RSI pushed over 70


async def test_rsi_push_fires_on_close_not_on_the_intrabar_wick(
    binance: FakeBinance, run: Run
) -> None:
    closes = walk(300, seed=6)
    binance.set_bars(SYM, "1h", closes)
    await run.use("rsi14@1h")
    (before,) = await run.at(T0 + 30)
    assert before.values["rsi14@1h"] < 70
    binance.set_forming(SYM, "1h", closes[-1], high=closes[-1] * 1.5)  # wick, close unchanged
    binance.append_bar(SYM, "1h", closes[-1])
    binance.freeze_at(T0 + HOUR + 5)
    (after,) = await run.at(T0 + HOUR + SETTLE_SECONDS)
    assert after.values["rsi14@1h"] == pytest.approx(oracle("rsi14@1h", closes))
    assert after.values["rsi14@1h"] < 70  # the wick never counts at close


async def test_missed_closes_replayed_once_after_restart(binance: FakeBinance, run: Run) -> None:
    closes = walk(320, seed=7)
    binance.set_bars(SYM, "1h", closes[:300])
    await run.use("ema9-ema21@1h")
    assert [v.bar_close_ts for v in await run.at(T0 + 30)] == [T0]
    for close in closes[300:]:
        binance.append_bar(SYM, "1h", close)
    binance.freeze_at(T0 + 5 * HOUR + 30)  # down for five bar closes
    run.new_feed()
    replayed = await run.at(T0 + 5 * HOUR + 30)
    assert [v.bar_close_ts for v in replayed] == [T0 + k * HOUR for k in range(1, 6)]
    for k, values in enumerate(replayed, start=1):
        served = closes[: 299 + k]
        assert values.values["ema9-ema21@1h"] == pytest.approx(oracle("ema9-ema21@1h", served))
    run.new_feed()
    assert await run.at(T0 + 5 * HOUR + 40) == []  # nothing twice


@pytest.mark.parametrize(("status", "error"), [(429, RateLimited), (500, FeedUnavailable)])
async def test_exchange_errors_keep_the_cursor_and_retry(
    binance: FakeBinance, run: Run, status: int, error: type
) -> None:
    binance.set_bars(SYM, "1h", walk(300, seed=8))
    await run.use("rsi14@1h")
    await run.at(T0 + 30)
    binance.append_bar(SYM, "1h", 9.5)
    binance.freeze_at(T0 + HOUR + 30)
    binance.set_outage(status, paths="klines")
    assert await run.at(T0 + HOUR + 30) == []
    status_now = await run.store.feed_status(FEED_NAME)
    assert status_now.last_error and "exchange" in status_now.last_error
    with pytest.raises(error):
        await run.exchange.fetch_bars(SYM, BarSeries.from_key("rsi14@1h").timeframe, 10)
    assert await run.redis.hget(run.keys.bar_cursor(SYM), "1h") == str(T0)
    binance.clear_faults()
    (later,) = await run.at(T0 + HOUR + 120)  # after the retry pause
    assert later.bar_close_ts == T0 + HOUR
    assert await run.redis.hget(run.keys.bar_cursor(SYM), "1h") == str(T0 + HOUR)


@pytest.mark.parametrize("broken", ["gap", "nan", "zero"])
async def test_broken_bars_emit_nothing(binance: FakeBinance, run: Run, broken: str) -> None:
    binance.set_bars(SYM, "1h", walk(300, seed=9))
    rows = binance.klines[("LINKUSDT", "1h")]
    if broken == "gap":
        del rows[-20]
    elif broken == "nan":
        rows[-20][4] = float("nan")
    else:
        rows[-20][4] = 0.0
    await run.use("rsi14@1h", "price-sma200@1h")
    assert await run.at(T0 + 30) == []
    assert await run.redis.hget(run.keys.bar_cursor(SYM), "1h") == str(T0)  # handled, once


async def test_warm_up_incomplete_emits_nothing(binance: FakeBinance, run: Run) -> None:
    binance.set_bars(SYM, "1h", walk(200, seed=10))
    await run.use("rsi14@1h", "price-sma200@1h")  # 264 and 450 bars needed
    assert await run.at(T0 + 30) == []


def batch(price: float, ts: float) -> TickBatch:
    return TickBatch([Ticker(SYM, price, None, None, ts)], fetched_at=ts)


async def test_intrabar_values_use_the_tick_and_are_throttled(
    binance: FakeBinance, run: Run
) -> None:
    closes = walk(300, seed=11)
    binance.set_bars(SYM, "1h", closes)
    await run.use("rsi14@1h~", "price-bb(20,2).upper@1h~")
    assert await run.at(T0 + 30) == []  # intrabar series never emit on close
    await run.feed.on_batch(batch(12.0, T0 + 40))
    (first,) = run.seen
    assert first.intrabar and first.bar_close_ts == T0 + 40
    with_tick = [*closes[:-1], 12.0]
    assert first.values["rsi14@1h~"] == pytest.approx(oracle("rsi14@1h", with_tick))
    assert first.values["price-bb(20,2).upper@1h~"] == pytest.approx(
        oracle("price-bb(20,2).upper@1h", with_tick)
    )
    await run.feed.on_batch(batch(12.5, T0 + 45))  # within the interval: dropped
    await run.feed.on_batch(batch(12.6, T0 + 52))
    assert [v.bar_close_ts for v in run.seen] == [T0 + 40, T0 + 52]
    await run.feed.on_batch(batch(13.0, T0 + HOUR + 20))  # bars not fetched past it: stale
    assert len(run.seen) == 2


async def test_more_bars_than_one_page_are_paginated(
    binance: FakeBinance, exchange: CcxtExchange
) -> None:
    closes = walk(1500, seed=12)
    binance.set_bars(SYM, "5m", closes)
    binance.clear_log()
    bars = await exchange.fetch_bars(SYM, BarSeries.from_key("rsi14@5m").timeframe, 1200)
    assert len(binance.requests_to("klines")) == 2
    assert [b.close for b in bars] == closes[-1200:]  # the last one is the forming bar
    assert all(b.ts - a.ts == 300 for a, b in itertools.pairwise(bars))


async def test_the_app_runs_the_feed_over_the_demo_replay(redis: Redis, prefix: str) -> None:
    """`make demo`: the replay serves bars of every timeframe, so indicator series get
    values there too (the App's BarFeed, its registry and cursor in the real Redis)."""
    app = replay_app(redis, prefix)
    seen: list[BarValues] = []

    async def collect(values: BarValues) -> None:
        seen.append(values)

    app.bars.listeners.append(collect)
    keys = [f"rsi14@{tf.value}" for tf in Timeframe] + ["ema9-ema21@1h", "rsi14@1h~"]
    await watch_series(redis, app.keys, "LINK/USDT", keys)
    try:
        app.exchange.advance(30)  # type: ignore[attr-defined]  # (starts on a bar boundary)
        await app.poller.run_once()
        await app.bars.run_once()
        assert sorted(k for v in seen for k in v.values) == sorted(keys[:-1])
        assert all(0 < v.values.get(k, 50) < 100 for v in seen for k in keys[:5])
        app.exchange.advance(30)  # type: ignore[attr-defined]
        await app.poller.run_once()  # a new accepted tick: the intrabar series
        assert seen[-1].intrabar and set(seen[-1].values) == {"rsi14@1h~"}
        _, details = await app.health_check()
        assert details["bars_last_error"] is None  # shown in /healthz, informative only
    finally:
        await app.stop()


async def test_a_series_added_mid_bar_gets_its_baseline_at_once(
    binance: FakeBinance, run: Run
) -> None:
    binance.set_bars(SYM, "1h", walk(300, seed=9))
    await run.use("rsi14@1h")
    assert [set(v.values) for v in await run.at(T0 + 30)] == [{"rsi14@1h"}]
    await run.use("ema9-ema21@1h")  # a new alert, half way through the next bar
    (baseline,) = await run.at(T0 + 1800)
    assert baseline.bar_close_ts == T0 and set(baseline.values) == {"ema9-ema21@1h"}
    assert await run.at(T0 + 1900) == []  # once: the engine has its value now
