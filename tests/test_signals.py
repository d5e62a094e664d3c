"""Signals: detection on hand-built series, once-per-event delivery, subscriptions.

Real Redis under a per-test prefix; data is written through the real store, the
detector and the command core run unmodified.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from alerts.domain import fmt
from alerts.domain.market import Candle, DailyClose, Ticker
from alerts.domain.regime import index_stats
from alerts.domain.signals import near_record, record_high
from alerts.storage.keys import Keys
from alerts.storage.market_store import MarketStore
from alerts.storage.subscriptions import SIGNALS, Subscriptions
from alerts.usecases.signals import SignalDetector, TargetReference
from bot.app import App
from bot.config import Settings
from bot.demo import run_demo
from bot.feeds.replay import BREAKOUT_STEP, ReplayExchange, ReplayIndex, Scenario
from handlers.chat.copy import DISCLAIMER
from handlers.chat.core import CommandCore
from handlers.chat.reply import Request
from handlers.chat.signal_view import signal_notice
from handlers.console import CONSOLE_CHAT, ConsoleTransport
from tests.conftest import REDIS_URL
from tests.replay import replay_app

DAY = 86400
TODAY = 1_764_028_800  # a UTC midnight
NOW = TODAY + 15 * 3600
COINS = ["AVAX", "BCH", "ADA", "LINK", "HBAR"]


def rows_of(closes: list[float], end: int = TODAY) -> list[DailyClose]:
    first = end - (len(closes) - 1) * DAY
    return [DailyClose(first + i * DAY, c) for i, c in enumerate(closes)]


def record_then(tail: list[float], record: float = 150.0, at: int = 100) -> list[float]:
    """A ramp to `record` at index `at`, a bear market at 120, then `tail`."""
    ramp = [100 + (record - 100) * i / at for i in range(at + 1)]
    return ramp + [120.0] * (299 - at - len(tail)) + tail


@dataclass
class Env:
    redis: Redis
    keys: Keys
    settings: Settings
    store: MarketStore
    subs: Subscriptions
    app: App
    now: float = NOW

    def detector(self) -> SignalDetector:
        """A detector of its own, as another replica (or a restarted process) has."""
        s = self.settings
        targets = TargetReference(s.target_reference, s.target_reference_prices)
        return SignalDetector(self.app.market, self.subs, targets, signal_notice)

    def core(self) -> CommandCore:
        return self.app.core

    async def r2k(
        self, closes: list[float], *, extra: int = 0, fetched_at: float | None = None
    ) -> None:
        """Store closes ending `extra` days after TODAY (so earlier rows keep their dates)."""
        rows = rows_of(closes, TODAY + extra * DAY)
        await self.store.save_index(rows, self.now if fetched_at is None else fetched_at)

    async def candles(self, base: str, closes: list[float], end: int = TODAY) -> None:
        first = end - (len(closes) - 1) * DAY
        candles = [Candle(first + i * DAY, c, c, c, c, 1000.0) for i, c in enumerate(closes)]
        await self.store.save_daily(f"{base}/USDT", candles)

    async def price(self, base: str, price: float, at: float | None = None) -> None:
        ticker = Ticker(f"{base}/USDT", price, 0.0, 1e6, self.now)
        await self.store.save_tickers([ticker], self.now if at is None else at)

    async def jobs(self, name: str | None = None) -> list[dict[str, str]]:
        entries = await self.redis.xrange(self.keys.outbox_broadcast)
        return [f for _, f in entries if name is None or f.get("name") == name]


def make_env(redis: Redis, prefix: str, keys: Keys, **overrides: object) -> Env:
    app = replay_app(redis, prefix, clock=lambda: NOW, coins=COINS, **overrides)
    return Env(redis, keys, app.settings, app.store, app.subscriptions, app)


@pytest.fixture
async def env(redis: Redis, prefix: str, keys: Keys) -> Env:
    return make_env(redis, prefix, keys)


# --- pure detection on hand-built series --------------------------------------------


def test_record_signal_names_previous_record_date_gain_and_days() -> None:
    rows = rows_of(record_then([151.5]))
    event = record_high(index_stats(rows))
    assert event is not None and event.name == "r2k"
    assert event.event == "r2k-ath:2025-11-25"
    notice = signal_notice(event)
    assert notice.title == "R2K at a record high: 151.50"
    text = "\n".join(notice.lines)
    assert "151.50 on 2025-11-25, above every earlier close" in text
    prev_day = fmt.day(rows[100].ts)
    assert f"Previous record: 150.00 on {prev_day}; +1.00% above it, 199 days after it." in text
    assert record_high(index_stats(rows_of(record_then([150.0])))) is None  # a tie is no record
    assert record_high(index_stats(rows_of(record_then([149.0])))) is None


def test_within_one_percent_once_per_approach() -> None:
    base = record_then([147.0] * 9 + [149.0])  # -2% for nine days, then within 1%
    rows = rows_of(base)
    first = near_record(rows, index_stats(rows))
    assert first is not None
    assert "0.67% below its record 150.00" in signal_notice(first).lines[0]
    assert first.event == f"r2k-near:{fmt.day(rows[100].ts)}:{fmt.day(TODAY - 10 * DAY)}"

    def later(*closes: float) -> str | None:
        rows = rows_of(base + list(closes), TODAY + len(closes) * DAY)
        signal = near_record(rows, index_stats(rows))
        return None if signal is None else signal.event

    assert later(149.2) == first.event  # still near: the same approach
    assert later(147.0, 149.3) == first.event  # a 2% dip and back: the same approach
    assert later(144.0, 149.1) not in (None, first.event)  # >3% below, then back: new one
    assert later(151.0, 150.5) is None  # a new record, then just under it: not an approach
    assert later(151.0, 147.0, 150.2) is None  # a 2.6% pullback from 151 is not enough
    assert later(151.0, 146.0, 150.2) is not None  # 3.3% below the new record, then near
    assert later(146.0) is None  # 2.7% below: not within 1%


# --- detector: once per event, restart, replicas, staleness --------------------------


async def test_record_signal_fires_once_per_subscriber_across_replicas_and_restarts(
    env: Env,
) -> None:
    for chat in ("tg:1", "dc:c:2"):
        await env.subs.subscribe(chat, ["r2k"])
    await env.subs.subscribe("tg:3", ["targets"])  # not subscribed to r2k
    await env.r2k(record_then([151.5]))
    a, b = env.detector(), env.detector()
    first = await asyncio.gather(a.run_once(), b.run_once())  # two replicas at once
    again = await a.run_once()
    restarted = await env.detector().run_once()  # after a "restart": a fresh detector, same Redis
    jobs = await env.jobs("r2k")
    assert sorted(j["chat"] for j in jobs) == ["dc:c:2", "tg:1"]
    job = jobs[0]
    assert job["t"] == "signal" and job["title"].startswith("R2K at a record high")
    body = job["body"].splitlines()
    assert body[-1].startswith("History:")  # the backtest's evidence line ends the body
    assert [s.event for s in (*first[0], *first[1], *again, *restarted)] == ["r2k-ath:2025-11-25"]


async def test_paused_chats_are_skipped(env: Env) -> None:
    for chat in ("tg:1", "tg:2"):
        await env.subs.subscribe(chat, ["r2k"])
    await env.redis.set(env.keys.paused("tg:2"), "1")
    await env.r2k(record_then([151.5]))
    await env.detector().run_once()
    assert [j["chat"] for j in await env.jobs()] == ["tg:1"]


async def test_no_signal_on_stale_or_short_index_data(env: Env) -> None:
    await env.subs.subscribe("tg:1", list(SIGNALS))
    stale = NOW - 4 * env.settings.index_poll_interval_seconds
    await env.r2k(record_then([151.5]), fetched_at=stale)
    await env.detector().run_once()
    await env.store.save_index(rows_of([100.0] * 50 + [101.0]), NOW)  # too short a history
    await env.detector().run_once()
    assert await env.jobs() == []
    await env.r2k(record_then([151.5]))  # fresh again: now it fires
    await env.detector().run_once()
    assert len(await env.jobs("r2k")) == 1


async def test_near_record_fires_once_per_approach_through_the_detector(env: Env) -> None:
    await env.subs.subscribe("tg:1", ["r2k"])
    base = record_then([147.0] * 9 + [149.0])
    await env.r2k(base)
    await env.detector().run_once()
    await env.r2k([*base, 149.3], extra=1)  # a day later, still near
    await env.detector().run_once()
    assert [j["title"] for j in await env.jobs()] == ["R2K within 1% of its record"]
    await env.r2k([*base, 149.3, 144.0, 149.2], extra=3)  # a >3% pullback, then near again
    await env.detector().run_once()
    assert len(await env.jobs()) == 2


async def _breadth(env: Env, beating: int) -> None:
    """BTC flat; `beating` coins up 10% over 90 days, the others down 10%."""
    await env.candles("BTC", [100.0] * 120)
    for i, base in enumerate(COINS):
        end = 1.1 if i < beating else 0.9
        await env.candles(base, [1.0] * 119 + [end])


async def test_altseason_crossing_both_directions(env: Env) -> None:
    await env.subs.subscribe("tg:1", ["altseason"])
    det = env.detector()
    await _breadth(env, 3)  # 60%: first observation, only stored
    await det.run_once()
    assert await env.jobs() == []
    await _breadth(env, 4)  # 80%: alt season
    await det.run_once()
    await det.run_once()
    jobs = await env.jobs()
    assert [j["title"] for j in jobs] == ["Alt season by breadth"]
    assert "4 of 5 watched coins beat BTC over 90 days (80%, up from 60%)" in jobs[0]["body"]
    await _breadth(env, 1)  # 20%: bitcoin season
    await det.run_once()
    jobs = await env.jobs()
    assert [j["title"] for j in jobs][-1] == "Bitcoin season by breadth"
    assert "(20%, down from 80%)" in jobs[-1]["body"]
    await _breadth(env, 2)  # 40%: back in the middle, nothing to say
    await det.run_once()
    assert len(await env.jobs()) == 2


async def test_altseason_ignores_stale_candles(env: Env) -> None:
    await env.subs.subscribe("tg:1", ["altseason"])
    old = TODAY - 5 * DAY
    await env.candles("BTC", [100.0] * 120, end=old)
    for base in COINS:
        await env.candles(base, [1.0] * 119 + [0.9], end=old)
    await env.detector().run_once()
    for base in COINS:
        await env.candles(base, [1.0] * 119 + [1.2], end=old)
    await env.detector().run_once()
    assert await env.jobs() == []
    assert await env.redis.hgetall(env.keys.signal_state) == {}


async def test_regime_change_fires_once_and_first_label_is_only_stored(env: Env) -> None:
    await env.subs.subscribe("tg:1", ["regime"])
    await _breadth(env, 3)
    await env.r2k(record_then([140.0]))  # 6.7% below: neutral
    await env.detector().run_once()
    assert await env.jobs() == []
    await env.r2k(record_then([151.0]))  # a record: risk-on
    for _ in range(2):
        await env.detector().run_once()
    jobs = await env.jobs("regime")
    assert len(jobs) == 1
    assert jobs[0]["title"].startswith("Regime: risk-on: R2K at record")
    assert "Was: neutral: R2K below its record." in jobs[0]["body"]


async def test_targets_from_the_r2k_record_day_close(env: Env) -> None:
    await env.subs.subscribe("tg:1", ["targets"])
    closes = record_then([150.0 + i for i in range(20)] + [160.0] * 4)
    await env.r2k(closes)
    rows = rows_of(closes)
    record_ts = max(rows, key=lambda r: r.close).ts
    assert record_ts == TODAY - 4 * DAY
    for base in ("LINK", "ADA"):
        candles = [5.0] * 120
        candles[-5] = 10.0 if base == "LINK" else 1.0  # the close on the record day
        await env.candles(base, candles)
    det = env.detector()
    await env.price("LINK", 13.9)  # +39%: nothing
    await det.run_once()
    assert await env.jobs() == []
    await env.price("LINK", 14.5)  # +45%
    await det.run_once()
    await det.run_once()
    jobs = await env.jobs()
    assert [j["title"] for j in jobs] == ["LINK reached the +40% target"]
    how = f"its daily close on {fmt.day(record_ts)}, the day of the latest R2K record"
    assert f"LINK at 14.500 is +45.0% from its reference 10.000 ({how})." in jobs[0]["body"]
    assert "+40% → 14.000 ✓ · +100% → 20.000 · +150% → 25.000" in jobs[0]["body"]
    await env.price("LINK", 25.5)  # past +100% and +150% at once: one message, the highest
    await det.run_once()
    await env.price("LINK", 21.0)  # back to +110%: +100% was marked with +150%
    await det.run_once()
    assert [j["title"] for j in await env.jobs()][1:] == ["LINK reached the +150% target"]
    await env.price("ADA", 1.5, at=NOW - 4 * env.settings.poll_interval_seconds)
    await det.run_once()  # a stale price never fires
    assert len(await env.jobs()) == 2
    await env.price("ADA", 1.5)
    await det.run_once()
    assert [j["title"] for j in await env.jobs()][2:] == ["ADA reached the +40% target"]


async def test_targets_with_fixed_reference(redis: Redis, prefix: str, keys: Keys) -> None:
    env = make_env(
        redis, prefix, keys, target_reference="fixed", target_reference_prices="link=8,ADA=0.5"
    )
    await env.subs.subscribe("tg:1", ["targets"])
    await env.price("LINK", 16.5)  # +106% from 8; no R2K data needed
    await env.price("ADA", 0.6)  # +20%
    await env.detector().run_once()
    jobs = await env.jobs()
    assert [j["title"] for j in jobs] == ["LINK reached the +100% target"]
    assert "(fixed in TARGET_REFERENCE_PRICES)" in jobs[0]["body"]


# --- commands through the core -------------------------------------------------------


# --- end to end over the demo scenario -----------------------------------------------


@pytest.fixture
async def replay_apps(redis: Redis, prefix: str) -> AsyncIterator[tuple[App, App, io.StringIO]]:
    scenario = Scenario(today=TODAY)
    exchange = ReplayExchange(scenario)
    index = ReplayIndex(scenario, exchange)
    settings = Settings(key_prefix=prefix, http_port=0)
    app = App(settings, redis, exchange, index, clock=exchange.clock)
    replica = App(settings, redis, exchange, ReplayIndex(scenario, exchange), clock=exchange.clock)
    out = io.StringIO()
    app.dispatch.attach("console", ConsoleTransport(app.core, out).push)
    await app.worker.ensure_group()
    yield app, replica, out
    await replica.stop()
    await app.stop()


async def test_replayed_breakout_reaches_the_console_exactly_once(
    replay_apps: tuple[App, App, io.StringIO],
) -> None:
    app, replica, out = replay_apps
    exchange = app.exchange
    assert isinstance(exchange, ReplayExchange)
    await app.poller.run_index_once()
    await app.poller.refresh_history()
    await app.poller.run_exchange_once()
    reply = await app.core.handle(Request(CONSOLE_CHAT, "console", "/subscribe r2k"))
    assert reply is not None and reply.title == "✅ Subscribed to r2k"
    for step in range(1, BREAKOUT_STEP + 4):
        exchange.advance(app.settings.poll_interval_seconds)
        if step >= BREAKOUT_STEP:
            await app.poller.run_index_once()  # the record is seen on several polls
            await app.signals.run_once()  # (what the app's detector task runs after a poll)
            await replica.signals.run_once()  # and by a second replica
        await app.poller.run_exchange_once()
        await app.worker.run_once(block_ms=None)
    text = out.getvalue()
    assert text.count("R2K at a record high") == 1, text
    assert "Previous record:" in text and "History:" in text
    assert text.rstrip().endswith(DISCLAIMER)


def checks(app: App) -> float:
    """Signal detection runs so far, as /metrics shows them."""
    return app.metrics.registry.get_sample_value("altbot_signal_checks_total") or 0.0


async def until(condition: Callable[[], Awaitable[bool]], within: float = 10.0) -> bool:
    """Wait for something the app does in its own task (no timing is asserted)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def test_detection_runs_outside_the_tick_path_at_most_once_per_poll_interval(
    redis: Redis, prefix: str
) -> None:
    # one-hour polls: within this test every later exchange batch falls inside the spacing
    app = replay_app(redis, prefix, poll_interval_seconds=3600)
    exchange = app.exchange
    assert isinstance(exchange, ReplayExchange)
    await app.subscriptions.subscribe("tg:1", ["r2k"])

    async def r2k_jobs() -> list[dict[str, str]]:
        jobs = await redis.xrange(app.keys.outbox_broadcast)
        return [f for _, f in jobs if f.get("name") == "r2k"]

    async def pushed() -> bool:
        return len(await r2k_jobs()) == 1

    async def checked_twice() -> bool:
        return checks(app) == 2

    runner: asyncio.Task[None] | None = None
    try:
        await app.poller.run_index_once()
        await app.poller.refresh_history()
        for _ in range(BREAKOUT_STEP):
            exchange.advance(1)
        await app.poller.run_index_once()  # the record close arrives...
        await app.poller.run_exchange_once()
        assert await r2k_jobs() == [] and checks(app) == 0  # ...but polls never detect inline
        runner = asyncio.create_task(app.signal_runner.run())
        assert await until(pushed)  # the app's detector task pushes it
        for _ in range(30):  # a burst of batches (websocket flushes) within one poll interval
            await app.poller.run_exchange_once()
        await asyncio.sleep(0.2)
        assert checks(app) == 1  # all of them wait for the next interval
        await app.poller.run_index_once()  # an index poll is served at once
        assert await until(checked_twice)
        assert len(await r2k_jobs()) == 1  # and the record is still pushed once
    finally:
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        await app.stop()



async def test_demo_subscribes_the_console_and_pushes_the_record_once() -> None:
    out = io.StringIO()
    await run_demo(Settings(redis_url=REDIS_URL, http_port=0), script=[], out=out, steps=8)
    text = out.getvalue()
    assert "> /subscribe\n✅ Subscribed to r2k, regime, altseason, targets" in text
    pushed = text.split("the R2K closes at a new record", 1)[1]
    assert pushed.count("📣 R2K at a record high") == 1 and text.count("R2K at a record high") == 1
