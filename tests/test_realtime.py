"""Realtime ticks over a local Binance websocket (real ccxt.pro), with REST fallback.

The App, ccxt, ccxt.pro, Redis and the engine are the production code; only the exchange
(FakeBinanceWs: REST + market streams on one port) and the chat push are at the edge.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis

from alerts.domain.grammar import AlertSpec
from alerts.domain.market import FeedUnavailable, TickBatch
from bot.app import App
from bot.config import Settings
from bot.feeds.exchange import CcxtExchange
from bot.feeds.exchange_ws import CcxtTickerStream
from bot.feeds.index_feed import YahooIndexFeed
from bot.feeds.realtime import RealtimeFeed
from bot.feeds.replay import ReplayExchange, ReplayIndex, Scenario
from bot.sources import build_exchange, build_feed, ws_wanted
from fakes.binance_ws import FakeBinanceWs
from fakes.yahoo import FakeYahoo
from handlers.chat.reply import Reply

LINK = "LINK/USDT"


@dataclass
class Rig:
    binance: FakeBinanceWs
    app: App
    pushed: list[tuple[str, Reply]] = field(default_factory=list)
    batches: list[tuple[float, list[str]]] = field(default_factory=list)

    @property
    def feed(self) -> RealtimeFeed:
        assert self.app.realtime is not None
        return self.app.realtime

    async def alert(self, chat: str, symbol: str, kind: str, level: float) -> None:
        await self.app.alerts.create(chat, symbol, AlertSpec(kind, level))

    def to(self, chat: str) -> list[Reply]:
        return [reply for c, reply in self.pushed if c == chat]

    def evaluations(self, symbol: str) -> list[float]:
        """When batches holding `symbol` were ingested (`fetched_at`: one per evaluation)."""
        return [at for at, symbols in self.batches if symbol in symbols]


async def until(predicate: Callable[[], bool], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@asynccontextmanager
async def realtime_app(redis: Redis, prefix: str, **overrides: Any) -> AsyncIterator[Rig]:
    """A leading App whose exchange ticks come from the fake's websocket."""
    binance, yahoo = FakeBinanceWs(), FakeYahoo()
    await binance.start()
    await yahoo.start()
    options: dict[str, Any] = {
        "key_prefix": prefix,
        "http_port": 0,
        "exchange_api_url": binance.url,
        "exchange_ws_url": binance.ws_url,
        "poll_interval_seconds": 30.0,  # so an alert in time can only have come by socket
        **overrides,
    }
    settings = Settings(_env_file=None, **options)  # type: ignore[call-arg]
    app = App(settings, redis, build_exchange(settings), YahooIndexFeed(yahoo.url))
    rig = Rig(binance, app)

    async def push(chat: str, reply: Reply, *_: object) -> None:
        rig.pushed.append((chat, reply))

    async def observe(batch: TickBatch) -> None:
        rig.batches.append((batch.fetched_at, [t.symbol for t in batch.ticks]))

    app.dispatch.attach("tg", push)
    try:
        await app.start(http=False, telegram=False, discord=False)
        assert await rig.feed.wait_state("socket", 15), "the websocket never went live"
        rig.app.poller.listeners.append(observe)  # after the bootstrap snapshot
        yield rig
    finally:
        await app.stop()
        await binance.stop()
        await yahoo.stop()


async def test_ws_tick_fires_an_alert_once_and_refreshes_the_snapshot(
    redis: Redis, prefix: str
) -> None:
    async with realtime_app(redis, prefix) as rig:
        rig.binance.set_price(LINK, 9.2)
        await rig.alert("tg:5", LINK, "above", 9.5)
        rest_before = len(rig.binance.requests_to("ticker/24hr"))
        before = (await rig.app.store.snapshot(LINK)).fetched_at  # type: ignore[union-attr]
        rig.binance.set_price(LINK, 9.61)
        assert await until(lambda: len(rig.to("tg:5")) == 1, 5)
        assert "9.61" in rig.to("tg:5")[0].plain_text()
        snap = await rig.app.store.snapshot(LINK)
        assert snap is not None and snap.price == 9.61 and snap.fetched_at > before
        for price in (9.7, 9.4, 9.8):  # one-shot: later crossings fire nothing more
            rig.binance.set_price(LINK, price)
            await asyncio.sleep(0.15)
        await asyncio.sleep(0.5)
        assert len(rig.to("tg:5")) == 1
        assert rig.evaluations(LINK), "the ticks reached the engine as websocket batches"
        assert len(rig.binance.requests_to("ticker/24hr")) == rest_before, "REST stayed paused"
        ws_polls = rig.app.metrics.registry.get_sample_value("altbot_polls_total", {"feed": "ws"})
        assert ws_polls is not None and ws_polls > 0


async def test_a_burst_is_coalesced_to_one_evaluation_per_symbol_per_100ms(
    redis: Redis, prefix: str
) -> None:
    async with realtime_app(redis, prefix) as rig:
        rig.binance.stream_every = None  # only the burst below on the stream
        await asyncio.sleep(0.3)
        rig.batches.clear()
        for i in range(100):  # 100 updates in one burst, well inside 100 ms
            rig.binance.set_price(LINK, 9.2 + i * 0.001)
        assert await until(lambda: rig.feed.flushes > 0, 5)
        await asyncio.sleep(0.3)
        assert 1 <= len(rig.evaluations(LINK)) <= 2
        snap = await rig.app.store.snapshot(LINK)
        assert snap is not None and snap.price == pytest.approx(9.299)  # the latest won

        rig.batches.clear()
        start = time.monotonic()
        for i in range(100):  # 100 updates paced over ~0.5 s: never two flushes < 100 ms
            rig.binance.set_price(LINK, 9.3 + i * 0.001)
            await asyncio.sleep(max(0.0, start + i * 0.005 - time.monotonic()))
        await asyncio.sleep(0.3)
        times = rig.evaluations(LINK)
        span = time.monotonic() - start
        assert 2 <= len(times) <= 1 + math.ceil(span / 0.1)
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.095, gaps


async def test_disconnect_falls_back_to_rest_and_recovers_the_socket(
    redis: Redis, prefix: str
) -> None:
    async with realtime_app(redis, prefix, poll_interval_seconds=0.5) as rig:
        rig.binance.set_price(LINK, 9.2)
        await rig.alert("tg:5", LINK, "above", 9.5)
        await rig.alert("tg:6", "ADA/USDT", "above", 1.0)
        rig.binance.set_outage(503, paths="/ws")  # the socket cannot come back for now
        await rig.binance.drop_streams()
        assert await rig.feed.wait_state("rest", 5)
        polls = len(rig.binance.requests_to("ticker/24hr"))
        rig.binance.set_price(LINK, 9.6)  # a crossing while the socket is down
        assert await until(lambda: len(rig.to("tg:5")) == 1, 5), "REST bridged the gap"
        assert len(rig.binance.requests_to("ticker/24hr")) > polls
        assert rig.binance.requests_to("/ws"), "the socket was retried meanwhile"

        rig.binance.set_outage(None)
        assert await rig.feed.wait_state("socket", 15), "the socket came back"
        assert rig.binance.ws_connects >= 2
        rig.binance.set_price("ADA/USDT", 1.05)
        assert await until(lambda: len(rig.to("tg:6")) == 1, 5)
        rig.binance.set_price(LINK, 9.65)
        await asyncio.sleep(1.2)  # ws ticks and a REST safety net on the same side
        assert len(rig.to("tg:5")) == 1, "the gap's crossing fired exactly once"


async def test_a_crossing_hidden_by_the_disconnect_fires_exactly_once(
    redis: Redis, prefix: str
) -> None:
    async with realtime_app(redis, prefix) as rig:  # REST interval 30 s: only a bridge helps
        rig.binance.set_price(LINK, 9.2)
        await rig.alert("tg:5", LINK, "above", 9.5)
        rig.binance.auto_push = False
        rig.binance.set_price(LINK, 9.7)  # the socket never tells: it is cut right now
        await rig.binance.drop_streams(abrupt=True)
        assert await until(lambda: len(rig.to("tg:5")) == 1, 5), "the bridging snapshot fired"
        rig.binance.auto_push = True
        assert await rig.feed.wait_state("socket", 15)
        rig.binance.set_price(LINK, 9.72)
        await asyncio.sleep(0.5)
        assert len(rig.to("tg:5")) == 1


async def test_a_wild_websocket_tick_is_held_and_fires_nothing(redis: Redis, prefix: str) -> None:
    async with realtime_app(redis, prefix) as rig:
        rig.binance.set_price(LINK, 9.2)
        await asyncio.sleep(0.2)
        await rig.alert("tg:5", LINK, "above", 9.5)
        rig.binance.push(LINK, last=50.0)  # one wild print on the stream
        snap = None
        for _ in range(250):  # the held price is written to the snapshot, the price is not
            snap = await rig.app.store.snapshot(LINK)
            if snap is not None and snap.held_price == 50.0:
                break
            await asyncio.sleep(0.02)
        assert snap is not None and snap.held_price == 50.0 and snap.price == 9.2, "held"
        rig.binance.set_price(LINK, 9.25)  # the next tick is back in line
        await asyncio.sleep(1.5)  # and the stream repeats it
        assert rig.to("tg:5") == []
        snap = await rig.app.store.snapshot(LINK)
        assert snap is not None and snap.price == 9.25


async def test_new_watchlist_symbols_are_subscribed(redis: Redis, prefix: str) -> None:
    async with realtime_app(redis, prefix, poll_interval_seconds=0.5) as rig:
        assert "solusdt@miniticker" not in rig.binance.subscribed()
        await rig.app.watchlists.add("tg:5", "SOL/USDT")
        assert await until(lambda: "solusdt@miniticker" in rig.binance.subscribed(), 10)
        assert await rig.feed.wait_state("socket", 10)
        rig.binance.set_price("SOL/USDT", 190.0)
        await rig.alert("tg:5", "SOL/USDT", "above", 200.0)
        rig.binance.set_price("SOL/USDT", 201.0)
        assert await until(lambda: len(rig.to("tg:5")) == 1, 5)


def test_exchange_ws_setting_decides_between_socket_and_rest() -> None:
    def wanted(exchange: Any = None, **env: Any) -> bool:
        settings = Settings(_env_file=None, **env)  # type: ignore[call-arg]
        return ws_wanted(settings, exchange or build_exchange(settings))

    assert wanted()  # auto, the real exchange
    assert not wanted(exchange_ws="off")
    assert not wanted(exchange_api_url="http://127.0.0.1:1")  # a REST proxy/fake only
    assert wanted(exchange_api_url="http://127.0.0.1:1", exchange_ws_url="ws://127.0.0.1:1")
    assert wanted(exchange_api_url="http://127.0.0.1:1", exchange_ws="on")
    assert not wanted(CcxtExchange("binance", api_url="http://127.0.0.1:1"))
    assert not wanted(exchange_ws="on", exchange=ReplayExchange(Scenario(today=1_764_000_000)))


async def test_the_demo_replay_stays_on_polling(redis: Redis, prefix: str) -> None:
    scenario = Scenario(today=1_764_000_000)
    exchange = ReplayExchange(scenario)
    settings = Settings(_env_file=None, key_prefix=prefix, exchange_ws="on")  # type: ignore[call-arg]
    app = App(settings, redis, exchange, ReplayIndex(scenario, exchange), clock=exchange.clock)
    assert app.realtime is None
    assert build_feed(settings, exchange, app.poller) is None
    await app.stop()


async def test_stream_splits_subscriptions_and_notices_a_silent_socket() -> None:
    async with FakeBinanceWs(stream_every=None) as binance:
        exchange = CcxtExchange("binance", api_url=binance.url, rate_limit=False)
        symbols = [f"{base}/USDT" for base in ("BTC", "ETH", "LINK", "ADA", "AVAX")]
        await exchange.load(symbols)
        stream = CcxtTickerStream(exchange, ws_url=binance.ws_url, chunk=2, silence_seconds=1.0)
        got: list[str] = []
        task = asyncio.create_task(stream.run(symbols, lambda ts: got.extend(t.symbol for t in ts)))
        try:
            assert await until(lambda: len(binance.subscribed()) == 5, 10)
            assert binance.open_sockets == 3  # 2 + 2 + 1 markets, one connection each
            for symbol in symbols:
                binance.set_price(symbol, 1.5)
            assert await until(lambda: set(got) == set(symbols), 5)
            # nothing more is pushed: after 1 s of silence the session gives up
            with pytest.raises(FeedUnavailable, match="no ticks"):
                await asyncio.wait_for(task, 5)
            assert await until(lambda: binance.open_sockets == 0, 5), "sockets closed"
        finally:
            task.cancel()
            await exchange.close()


async def test_stop_is_prompt_while_ticks_stream_in(redis: Redis, prefix: str) -> None:
    """redis-py 8 can swallow a cancellation mid-command; the feed must stop anyway."""
    for _ in range(3):
        async with realtime_app(redis, prefix, poll_interval_seconds=0.5) as rig:
            rig.binance.stream_every = 0.02  # every market, 50 times a second
            await asyncio.sleep(1.0)
            assert rig.feed.flushes > 5
            await asyncio.wait_for(rig.app.stop(), 15)  # the context's stop is then a no-op
