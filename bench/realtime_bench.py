"""Tick-to-chat-API latency (issue 9): the websocket path against the REST path.

The real App (realtime feed, poller, engine, outbox, delivery worker) runs with a
million active alerts in the real Redis, under a throwaway key prefix deleted at the end.
At the edge, on 127.0.0.1: FakeBinanceWs (REST and Binance's market streams, every market
pushed once a second like Binance does), FakeYahoo, and a chat API sink — an aiohttp server
the App's pusher for `bench:` chats POSTs each message to (a minimal transport, no
batching) — plus FakeTelegram behind the real Telegram transport for one phase.

Each crossing moves one market across exactly one probe alert placed inside a gap of the
population's levels (verified empty), so one tick fires one message. Latency runs from
the moment the tick leaves the exchange (the websocket frame is queued; for REST, the
price changes at the exchange) to the moment the chat API receives the message.

Phases: `ws` (sink), `telegram` (the real Telegram transport, leading-edge coalescing),
`rest` (EXCHANGE_WS=off, a short poll interval, measured), and the default 10 s interval
computed from the measured REST pipeline (labelled analytic).
Everything runs in one process and one event loop, the fakes included: conservative.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from alerts.domain.alert import num
from alerts.storage.engine import CREATED
from alerts.storage.keys import Keys
from bench import redis_memory as mem
from bench.engine_bench import quiet_gap
from bench.population import MARKETS, QUOTA, Population, load, reserve_ids
from bench.realtime_report import build_section, report, stats
from bench.redis_server import deployed_redis, run_with_redis
from bench.results import merge_section
from bot.app import App
from bot.config import Settings
from bot.feeds.index_feed import YahooIndexFeed
from bot.sources import build_exchange
from fakes._data import generate_index_history
from fakes.binance_ws import FakeBinanceWs
from fakes.telegram import FakeTelegram
from fakes.yahoo import FakeYahoo
from handlers.chat.reply import Reply

NAME = "realtime"
FULL_ALERTS = 1_000_000
PRICE_STEP = 1e-8  # the fake sends 8 decimals
TG_CHAT_BASE = 7_000_000_000
HISTORY_DAYS = 420


@dataclass(frozen=True, slots=True)
class Config:
    alerts: int = FULL_ALERTS
    crossings: int = 1000
    telegram_crossings: int = 200
    rest_crossings: int = 300
    rest_interval: float = 1.0
    spacing: float = 0.06  # mean seconds between websocket crossings (exponential)
    telegram_spacing: float = 0.12
    rest_spacing: float = 0.3
    seed: int = 4

    @classmethod
    def quick(cls) -> Config:
        return cls(
            alerts=100_000, crossings=200, telegram_crossings=40, rest_crossings=60,
            rest_interval=0.5, rest_spacing=0.15,
        )  # fmt: skip


@dataclass
class Crossing:
    chat: str
    symbol: str
    price: float
    t0: float = 0.0
    t1: float | None = None


class Sink:
    """The chat API: records when each message arrives."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.arrivals.setdefault(body["chat"], []).append(time.monotonic())
        return web.json_response({"ok": True})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/send", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/send"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class RealtimeBench:
    def __init__(self, redis: Redis, config: Config, prefix: str | None = None) -> None:
        self.redis = redis
        self.config = config
        self.prefix = prefix or f"bench{uuid.uuid4().hex[:10]}"
        self.rng = random.Random(config.seed)
        self.pop = Population(config.seed)
        # Real-sized history: the signal detector reads it too (at most once per poll interval).
        self.binance = FakeBinanceWs(history_days=HISTORY_DAYS)
        self.yahoo = FakeYahoo()
        self.yahoo.set_history("^RUT", generate_index_history(end_s=int(time.time())))
        self.telegram = FakeTelegram()
        self.sink = Sink()
        self.http: aiohttp.ClientSession | None = None
        self.next_chat = 0
        self.probe_ids: Iterator[int] = iter(())

    async def run(self) -> dict[str, Any]:
        fakes = (self.binance, self.yahoo, self.telegram)
        for fake in fakes:
            await fake.start()
        await self.sink.start()
        self.http = aiohttp.ClientSession()
        try:
            return await self._run()
        finally:
            await self.http.close()
            await self.sink.stop()
            for fake in fakes:
                await fake.stop()
            await mem.delete_prefix(self.redis, Keys(self.prefix))

    def settings(self, **overrides: Any) -> Settings:
        options: dict[str, Any] = {
            "key_prefix": self.prefix,
            "http_port": 0,
            "exchange_api_url": self.binance.url,
            "exchange_ws_url": self.binance.ws_url,
            "alert_quota_per_chat": QUOTA,
            **overrides,
        }
        return Settings(_env_file=None, **options)  # type: ignore[call-arg]

    @asynccontextmanager
    async def app(self, settings: Settings, *, telegram: bool = False) -> AsyncIterator[App]:
        app = App(settings, self.redis, build_exchange(settings), YahooIndexFeed(self.yahoo.url))
        http = self.http
        assert http is not None

        async def push(chat: str, reply: Reply, *_: object) -> None:  # a minimal chat transport
            async with http.post(self.sink.url, json={"chat": chat, "text": reply.plain_text()}):
                pass

        app.dispatch.attach("bench", push)
        try:
            await app.start(http=False, telegram=telegram, discord=False)
            yield app
        finally:
            await app.stop()

    async def _run(self) -> dict[str, Any]:
        cfg = self.config
        info = await self.redis.info("server")
        load_start = os.getloadavg()
        for symbol, (price, _, _) in MARKETS.items():
            self.binance.set_price(symbol, price)
        tg = {"telegram_bot_token": self.telegram.token, "telegram_api_url": self.telegram.url}
        async with self.app(self.settings(**tg), telegram=True) as app:
            feed = app.realtime
            if feed is None or not await feed.wait_state("socket", 30):
                raise RuntimeError("the websocket never went live")
            first = await reserve_ids(app.engine, cfg.alerts)
            loaded = await load(app.engine, self.pop.alerts(first, cfg.alerts), batch=5000)
            probes = await self.place(app, cfg.crossings + cfg.telegram_crossings + 7)
            ws = await self.phase(app, probes, cfg.crossings, cfg.spacing, "bench", 10.0)
            telegram = await self.phase(
                app, probes, cfg.telegram_crossings, cfg.telegram_spacing, "tg", 15.0
            )
            flushes, ticks = feed.flushes, feed.ws_ticks
        rest_settings = self.settings(exchange_ws="off", poll_interval_seconds=cfg.rest_interval)
        async with self.app(rest_settings) as app:
            probes = await self.place(app, cfg.rest_crossings + 7)
            rest = await self.phase(
                app, probes, cfg.rest_crossings, cfg.rest_spacing, "rest", 5 * cfg.rest_interval
            )
        return build_section(
            cfg, self.prefix, info, load_start, loaded.created, ws, telegram, rest, flushes, ticks
        )

    async def place(self, app: App, count: int) -> dict[str, list[tuple[float, float]]]:
        """Per market: (probe level, price that crosses it) pairs walking up its empty gap.

        The price first goes back down to the bottom of the gap (nothing is armed in it:
        the previous phase's probes fired), so every phase has the whole gap to walk."""
        walks: dict[str, list[tuple[float, float]]] = {}
        per = -(-count // len(MARKETS))
        first = await reserve_ids(app.engine, per * len(MARKETS))
        for symbol in MARKETS:
            snap = await app.store.snapshot(symbol)
            price = snap.price if snap is not None else MARKETS[symbol][0]
            gap = await quiet_gap(self.redis, app.keys, symbol, price)
            lo, hi = round(gap.at(0.01), 8), gap.hi
            await self.move_to(app, symbol, lo)
            step = (hi - lo) / (per + 1)
            if step < 4 * PRICE_STEP:
                raise RuntimeError(f"{symbol}: the empty gap above {lo} is too narrow")
            levels = [round(lo + step * (i + 1), 8) for i in range(per)]
            walk = []
            for i, level in enumerate(levels):
                nxt = levels[i + 1] if i + 1 < per else hi
                walk.append((level, round((level + nxt) / 2, 8)))
            walks[symbol] = walk
        self.probe_ids = iter(range(first, first + per * len(MARKETS)))
        return walks

    async def move_to(self, app: App, symbol: str, price: float, within: float = 30.0) -> None:
        """Set the exchange price and wait until the App has ingested it."""
        self.binance.set_price(symbol, price)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            snap = await app.store.snapshot(symbol)
            if snap is not None and snap.price == price:
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{symbol}: the App never took the price {price}")

    def _chat(self, kind: str) -> str:
        """A fresh chat per probe: no chat's batching or flood limit joins two crossings."""
        self.next_chat += 1
        if kind == "tg":
            return f"tg:{TG_CHAT_BASE + self.next_chat}"
        return f"bench:{self.next_chat}"

    async def phase(
        self,
        app: App,
        walks: dict[str, list[tuple[float, float]]],
        n: int,
        spacing: float,
        kind: str,
        settle: float,
    ) -> dict[str, Any]:
        """Create `n` probes, cross them one tick each at random times, time the arrivals."""
        symbols = list(MARKETS)
        crossings: list[Crossing] = []
        for i in range(n):
            symbol = symbols[i % len(symbols)]
            level, to = walks[symbol].pop(0)
            chat = self._chat(kind)
            alert = self.pop.make(next(self.probe_ids), chat, symbol, ["above", num(level)], 1.0)
            if await app.engine.create(alert, QUOTA) != CREATED:
                raise RuntimeError(f"probe {chat} refused")
            crossings.append(Crossing(chat, symbol, to))
        sent_before = len(self.telegram.sent)
        start = time.monotonic()
        at = 0.0
        for c in crossings:
            at += max(0.002, self.rng.expovariate(1 / spacing))
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            c.t0 = time.monotonic()
            self.binance.set_price(c.symbol, c.price)
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline and not self._arrived(crossings, kind, sent_before):
            await asyncio.sleep(0.05)
        return self._measure(app, crossings, kind, sent_before)

    def _arrived(self, crossings: list[Crossing], kind: str, sent_before: int) -> bool:
        if kind == "tg":
            got = {f"tg:{m.chat_id}" for m in self._tg_sends(sent_before)}
            return all(c.chat in got for c in crossings)
        return all(c.chat in self.sink.arrivals for c in crossings)

    def _tg_sends(self, since: int) -> list[Any]:
        return [m for m in self.telegram.sent[since:] if m.method == "sendMessage"]

    def _measure(
        self, app: App, crossings: list[Crossing], kind: str, sent_before: int
    ) -> dict[str, Any]:
        arrivals: dict[str, list[float]] = {}
        if kind == "tg":
            for m in self._tg_sends(sent_before):
                arrivals.setdefault(f"tg:{m.chat_id}", []).append(m.time)
        else:
            arrivals = self.sink.arrivals
        polls = [r.time for r in self.binance.requests_to("ticker/24hr")] if kind == "rest" else []
        latencies, waits, pipelines = [], [], []
        for c in crossings:
            times = arrivals.get(c.chat, [])
            if not times:
                continue
            c.t1 = times[0]
            latencies.append(c.t1 - c.t0)
            poll = next((p for p in polls if p >= c.t0), None)  # the REST poll that saw it
            if poll is not None and poll <= c.t1:
                waits.append(poll - c.t0)
                pipelines.append(c.t1 - poll)
        mine = {c.chat for c in crossings}
        out: dict[str, Any] = {
            "crossings": len(crossings),
            "delivered": len(latencies),
            "exact": all(len(arrivals.get(c, [])) == 1 for c in mine),
            "latency": stats(latencies) if latencies else None,
        }
        if waits:
            out["poll_wait"] = stats(waits)
            out["poll_to_chat"] = stats(pipelines)
            during = [p for p in polls if crossings[0].t0 <= p <= crossings[-1].t0]
            gaps = [b - a for a, b in itertools.pairwise(during)]
            if gaps:  # interval + the poll itself (ccxt's rate limiter spaces requests too)
                out["poll_cycle_s"] = round(sum(gaps) / len(gaps), 3)
        return out


async def run(redis: Redis, config: Config) -> dict[str, Any]:
    return await RealtimeBench(redis, config).run()


def main(url: str, *, quick: bool, out: Path) -> int:
    """Run against a deploy-configured Redis, print, merge (a quick run never overwrites)."""
    config = Config.quick() if quick else Config()
    section = NAME if config.alerts == FULL_ALERTS else f"{NAME}_quick"
    print(f"realtime benchmark: {config.alerts:,} alerts (a few minutes)...", flush=True)
    with deployed_redis(url) as (redis_url, redis_config):
        result = asyncio.run(run_with_redis(redis_url, lambda r: run(r, config)))
    result["redis_config"] = redis_config
    merge_section(section, result, out)
    print(report(result))
    print(f"\nwritten to {out} under {section!r}")
    return 0  # a missed target is a FAIL row, not an error of the run
