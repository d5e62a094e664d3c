"""Broken data and broken services: Redis restart, exchange outage, wild ticks, secrets."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from alerts.domain.market import MarketError
from bot.app import App
from bot.config import Settings
from bot.feeds.exchange import CcxtExchange
from bot.feeds.index_feed import YahooIndexFeed
from handlers.chat.reply import Reply, Request
from tests.conftest import REDIS_URL, delete_prefix
from tests.reliability.stack import Stack

SYM = "LINK/USDT"


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = await Stack.start()
    yield s
    await s.stop()


def build_app(
    stack: Stack,
    redis: Redis,
    prefix: str,
    clock: object = time.time,
    timeout_ms: int = 10_000,
    **kw: object,
) -> App:
    options: dict[str, object] = {"poll_interval_seconds": 10, **kw}
    settings = Settings(key_prefix=prefix, http_port=0, **options)  # type: ignore[arg-type]
    exchange = CcxtExchange(
        "binance", api_url=stack.binance.url, rate_limit=False, attempts=1, timeout_ms=timeout_ms
    )
    return App(settings, redis, exchange, YahooIndexFeed(stack.yahoo.url), clock=clock)  # type: ignore[arg-type]


def collector(app: App) -> list[Reply]:
    pushed: list[Reply] = []

    async def push(chat: str, reply: Reply, *_: object) -> None:
        pushed.append(reply)

    app.dispatch.attach("tg", push)
    return pushed


async def ask(app: App, text: str) -> Reply:
    reply = await app.core.handle(Request("tg:5", "tg:5", text))
    assert reply is not None
    return reply


async def test_exchange_outage_fires_nothing_says_stale_and_recovers(
    stack: Stack, redis: Redis, prefix: str
) -> None:
    clock = [time.time()]
    app = build_app(stack, redis, prefix, clock=lambda: clock[0], timeout_ms=200)
    pushed = collector(app)
    await app.worker.ensure_group()
    stack.binance.set_price(SYM, 9.2)
    await app.poller.run_once()
    assert "✅" in (await ask(app, "/alert LINK above 9.5")).title
    modes: list[tuple[int | str, dict[str, str] | None]] = [
        (500, None), (502, None), ("timeout", None), (429, {"Retry-After": "30"}), (451, None),
        ("truncated", None),
    ]  # fmt: skip
    stack.binance.hang_seconds = 0.3
    for poll in range(60):  # ten simulated minutes at one poll per 10 s
        mode, headers = modes[poll % len(modes)]
        stack.binance.set_outage(mode, headers=headers, paths="ticker/24hr")
        stack.binance.set_price(SYM, 9.6 if poll % 2 else 9.3)  # crossings nobody may see
        clock[0] += 10
        with pytest.raises(MarketError):
            await app.poller.run_exchange_once()
        await app.worker.run_once(block_ms=None)
    assert pushed == []
    coin = await ask(app, "/coin LINK")
    assert "STALE" in dict(coin.fields)["Data age"]
    ok, details = await app.health_check()
    assert not ok and details["reason"] == "no fresh exchange data"
    stack.binance.set_outage(None)
    stack.binance.set_price(SYM, 9.3)
    clock[0] += 10
    await app.poller.run_exchange_once()
    await app.worker.run_once(block_ms=None)
    assert pushed == [] and (await app.health_check())[0]
    await app.stop()


async def test_polling_backs_off_during_an_outage_and_recovers_by_itself(
    stack: Stack, redis: Redis, prefix: str
) -> None:
    app = build_app(stack, redis, prefix)
    app.poller.poll_interval = 0.05
    await app.poller.run_once()
    stack.binance.set_outage(503, paths="ticker/24hr")
    stack.binance.clear_log()
    task = asyncio.create_task(app.poller.run())
    await asyncio.sleep(2.0)
    failed = len(stack.binance.requests_to("ticker/24hr"))
    assert 3 <= failed <= 12, failed  # without backoff it would be ~40
    stack.binance.set_outage(None)
    deadline = time.monotonic() + 5
    while (
        await app.store.feed_status("exchange")
    ).consecutive_errors and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert (await app.store.feed_status("exchange")).consecutive_errors == 0
    task.cancel()
    await app.stop()


async def test_wild_tick_fires_only_when_the_next_poll_confirms(
    stack: Stack, redis: Redis, prefix: str
) -> None:
    app = build_app(stack, redis, prefix)
    pushed = collector(app)
    await app.worker.ensure_group()
    stack.binance.set_price(SYM, 9.2)
    await app.poller.run_once()
    await ask(app, "/alert LINK above 9.5")
    for price in (92.0, 9.2, 9.25):  # one wild print, then normal again
        stack.binance.set_price(SYM, price)
        await app.poller.run_exchange_once()
        await app.worker.run_once(block_ms=None)
    assert pushed == []
    held = await app.store.snapshot(SYM)
    assert held is not None and held.price == 9.25
    for price in (92.0, 92.5):  # confirmed by the next poll
        stack.binance.set_price(SYM, price)
        await app.poller.run_exchange_once()
        await app.worker.run_once(block_ms=None)
    assert len(pushed) == 1 and "crossed above 9.5" in pushed[0].lines[0]
    await app.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
async def test_redis_restart_mid_run_loses_nothing(stack: Stack) -> None:
    port, folder = free_port(), tempfile.mkdtemp(prefix="altbot-aof-")
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes",
           "--appendfsync", "always", "--save", "", "--dir", folder]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    from bot.app import connect_redis

    redis = connect_redis(url)
    for _ in range(50):
        try:
            await redis.ping()
            break
        except Exception:
            await asyncio.sleep(0.1)
    app = build_app(stack, redis, "restart", poll_interval_seconds=0.3)
    pushed = collector(app)
    try:
        stack.binance.set_price(SYM, 9.2)
        await app.start(http=False, telegram=False)
        deadline = time.monotonic() + 20
        while await app.store.snapshot(SYM) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert "✅" in (await ask(app, "/alert LINK above 9.5")).title
        server.send_signal(signal.SIGTERM)  # a clean restart: AOF flushed
        server.wait(10)
        await asyncio.sleep(1.0)  # the bot keeps running without Redis for a moment
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        stack.binance.set_price(SYM, 9.6)
        deadline = time.monotonic() + 30
        while not pushed and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)
        assert len(pushed) == 1, "the alert created before the restart must fire exactly once"
        assert "stopped" not in str((await app.health_check())[1].get("reason")), "a loop died"
    finally:
        await app.stop()
        await delete_prefix(redis, "restart")
        await redis.aclose()
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
async def test_token_never_appears_in_logs_and_sigterm_is_graceful(
    stack: Stack, prefix: str
) -> None:
    env = stack.env(prefix, LOG_LEVEL="DEBUG", LOG_FORMAT="json")
    proc = stack.spawn(env)
    deadline = time.monotonic() + 30
    while not stack.binance.requests_to("ticker/24hr") and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    stack.telegram.push_command(42, "/coin LINK")
    try:
        await stack.telegram.wait_for(1, timeout=30, chat_id=42)
    except TimeoutError:
        raise AssertionError(stack.log_text()[-3000:]) from None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    text = stack.log_text()
    token = stack.telegram.token
    assert token not in text and token.split(":")[1] not in text
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    assert any("shutting down" in json.loads(line)["msg"] for line in lines)
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        assert await client.get(f"{prefix}:lock:leader") is None, "the lease was not released"
        await delete_prefix(client, prefix)
    finally:
        await client.aclose()
    Path(stack.logs[-1]).unlink(missing_ok=True)
