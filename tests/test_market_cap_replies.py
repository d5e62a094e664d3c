"""Market caps in /coin and the digest, end to end: the whole App over the replay exchange,
the real CoinGecko client against the fake, the chat core and real Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.app import App
from bot.feeds.coingecko import CoinGeckoClient
from bot.feeds.replay import ReplayExchange
from fakes.coingecko import FakeCoinGecko
from tests.replay import ask, replay_app


@pytest.fixture
async def gecko() -> AsyncIterator[FakeCoinGecko]:
    async with FakeCoinGecko() as fake:
        yield fake


@pytest.fixture
async def app(redis: Redis, prefix: str, gecko: FakeCoinGecko) -> AsyncIterator[App]:
    client = CoinGeckoClient(gecko.api_url, backoff=0.01, max_backoff=0.05)
    application = replay_app(redis, prefix, caps=client)
    await application.worker.ensure_group()
    await application.poller.run_once()
    yield application
    await application.stop()


def advance(app: App, seconds: float) -> None:
    exchange = app.exchange
    assert isinstance(exchange, ReplayExchange)
    exchange.advance(seconds)


async def market_cap(app: App, symbol: str = "LINK") -> str:
    return dict((await ask(app, f"/coin {symbol}")).fields)["Market cap"]


async def test_coin_shows_the_market_cap_with_source_and_age(app: App) -> None:
    assert app.mcap_feed is not None
    assert await market_cap(app) == "n/a (no data yet)"
    await app.mcap_feed.refresh_once()
    assert await market_cap(app) == "$7.41B (CoinGecko, 0s ago)"
    advance(app, 240)
    await app.poller.run_exchange_once()
    assert await market_cap(app) == "$7.41B (CoinGecko, 4m ago)"
    assert await market_cap(app, "BTC") == "$1.94T (CoinGecko, 4m ago)"


async def test_unreachable_coingecko_is_said_and_old_values_are_not_shown(
    app: App, gecko: FakeCoinGecko
) -> None:
    assert app.mcap_feed is not None
    gecko.set_outage(500)
    with contextlib.suppress(Exception):
        await app.mcap_feed.refresh_once()
    assert await market_cap(app) == "n/a (CoinGecko unreachable)"
    gecko.set_outage(None)
    await app.mcap_feed.refresh_once()
    gecko.set_outage(503)
    advance(app, 31 * 60)  # past three refresh intervals
    await app.poller.run_exchange_once()
    with contextlib.suppress(Exception):
        await app.mcap_feed.refresh_once()
    assert await market_cap(app) == "n/a (CoinGecko unreachable; last value is 31m old)"
    health_ok, details = await app.health_check()
    assert health_ok  # prices are fresh: market caps are informative only
    assert details["mcap_last_error"] == "CoinGecko is unavailable (HTTP 503)"


async def test_digest_lines_carry_market_caps_and_their_age(app: App) -> None:
    assert app.mcap_feed is not None
    await app.mcap_feed.refresh_once()
    advance(app, 120)
    await app.poller.run_exchange_once()
    reply = await ask(app, "/digest now")
    link = next(line for line in reply.lines if line.startswith("  LINK "))
    assert link.endswith("· mcap $7.41B")
    assert "Market caps: data from CoinGecko, fetched 2m ago." in reply.lines
    board = [line for line in reply.lines if line.startswith("  ") and "Reference" not in line]
    assert len(board) == 5 and all(" · mcap $" in line for line in board)


async def test_digest_without_market_caps_says_why(app: App) -> None:
    reply = await ask(app, "/digest now")
    assert "Market caps: n/a (no data yet)" in reply.lines
    link = next(line for line in reply.lines if line.startswith("  LINK "))
    assert link.endswith("· mcap n/a")


async def test_the_leader_runs_the_feed(app: App, gecko: FakeCoinGecko) -> None:
    duties = asyncio.create_task(app.leader_duties())
    try:
        for _ in range(200):  # bounded wait for the first refresh, no timing asserted
            if await app.caps.get("LINK") is not None:
                break
            await asyncio.sleep(0.05)
    finally:
        duties.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await duties
    assert len(gecko.market_requests()) == 1
    link = await app.caps.get("LINK")
    assert link is not None and link.coin_id == "chainlink"


async def test_mcap_condition_fires_once_when_a_refresh_crosses_it(
    app: App, gecko: FakeCoinGecko, redis: Redis
) -> None:
    assert app.mcap_feed is not None
    await app.mcap_feed.refresh_once()  # LINK at $7.41B: the first value of the series
    made = await ask(app, "/alert LINK mcap above 8B")
    assert made.title.startswith("✅") and "mcap above 8B: now market cap $7.41B." in made.lines
    refused = await ask(app, "/alert LINK mcap above 7B")
    assert refused.tone == "error" and "already holds" in refused.title
    gecko.set_market_cap("chainlink", 8.2e9)
    advance(app, 601)
    await app.mcap_feed.refresh_once()
    advance(app, 601)
    await app.mcap_feed.refresh_once()  # still above: nothing more
    fired = [f for _, f in await redis.xrange(app.keys.outbox) if f["t"] == "fire"]
    assert len(fired) == 1 and float(fired[0]["v"]) == 8.2e9
