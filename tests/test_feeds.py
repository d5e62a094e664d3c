"""Real ccxt and our Yahoo client against the local fakes: requests, errors, backoff."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import ccxt
import pytest
from redis.asyncio import Redis

from alerts.domain.freshness import Freshness
from alerts.domain.market import BadData, FeedUnavailable, GeoBlocked, RateLimited, UnknownSymbol
from alerts.storage.keys import Keys
from alerts.storage.market_store import MarketStore
from bot.feeds.exchange import CcxtExchange, ExchangeChain, translate_error
from bot.feeds.index_feed import YahooIndexFeed
from bot.feeds.poller import Poller
from fakes.binance import FakeBinance
from fakes.yahoo import FakeYahoo

SYMBOLS = [f"{b}/USDT" for b in ("AVAX", "BCH", "ADA", "LINK", "HBAR", "BTC", "ETH")]
DAY = 86400


@pytest.fixture
async def binance() -> AsyncIterator[FakeBinance]:
    fake = FakeBinance(history_days=1500, hang_seconds=5)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def yahoo() -> AsyncIterator[FakeYahoo]:
    fake = FakeYahoo(hang_seconds=5)
    now = 1_764_000_000 - 1_764_000_000 % DAY
    fake.now_s = float(now)
    rows: list[tuple[int, float | None]] = [(now - (400 - i) * DAY, 2000.0 + i) for i in range(400)]
    rows[100] = (rows[100][0], None)  # Yahoo puts nulls inside the arrays
    fake.set_history("^RUT", rows)
    await fake.start()
    yield fake
    await fake.stop()


def exchange_for(fake: FakeBinance, **kw: object) -> CcxtExchange:
    return CcxtExchange("binance", api_url=fake.url, rate_limit=False, **kw)  # type: ignore[arg-type]


async def test_one_batched_ticker_request_per_poll(binance: FakeBinance) -> None:
    ex = exchange_for(binance)
    try:
        assert await ex.load([*SYMBOLS, "NOPE/USDT"]) == ["NOPE/USDT"]
        binance.set_price("LINK/USDT", 9.61, change_pct=4.5, quote_volume=123e6)
        binance.clear_log()
        tickers = await ex.fetch_tickers(SYMBOLS)
        calls = binance.requests_to("ticker/24hr")
        assert len(calls) == 1 and "symbols" in calls[0].query
        link = tickers["LINK/USDT"]
        assert (link.price, round(link.change_pct or 0, 2), link.quote_volume) == (9.61, 4.5, 123e6)
        assert set(tickers) == set(SYMBOLS)
    finally:
        await ex.close()


async def test_daily_history_is_paginated(binance: FakeBinance) -> None:
    ex = exchange_for(binance)
    try:
        await ex.load(SYMBOLS)
        binance.clear_log()
        candles = await ex.fetch_daily("LINK/USDT", 1400)
        assert len(candles) == 1400
        assert len(binance.requests_to("klines")) >= 2
        assert all(b.ts - a.ts == DAY for a, b in itertools.pairwise(candles))
        with pytest.raises(UnknownSymbol):
            await ex.fetch_daily("NOPE/USDT", 10)
    finally:
        await ex.close()


@pytest.mark.parametrize(
    ("mode", "headers", "error"),
    [
        (500, None, FeedUnavailable),
        (503, None, FeedUnavailable),
        (429, {"Retry-After": "7"}, RateLimited),
        (418, {"Retry-After": "7"}, RateLimited),
        (451, None, GeoBlocked),
        ("timeout", None, FeedUnavailable),
        ("truncated", None, BadData),
    ],
)
async def test_errors_are_translated_at_the_boundary(
    binance: FakeBinance, mode: int | str, headers: dict[str, str] | None, error: type
) -> None:
    ex = exchange_for(binance, timeout_ms=500, attempts=2, max_backoff=0.05)
    try:
        await ex.load(SYMBOLS)
        binance.set_outage(mode, headers=headers, paths="ticker/24hr")
        with pytest.raises(error) as exc:
            await ex.fetch_tickers(SYMBOLS)
        assert "exchange" in str(exc.value)
        if headers:
            assert exc.value.retry_after == 7.0  # from the Retry-After header
        retried = len(binance.requests_to("ticker/24hr"))
        assert retried == (2 if error in (FeedUnavailable, RateLimited) else 1)
    finally:
        await ex.close()


async def test_transient_errors_are_retried_with_bounded_backoff(binance: FakeBinance) -> None:
    ex = exchange_for(binance, attempts=3, max_backoff=0.05)
    try:
        await ex.load(SYMBOLS)
        binance.fail_next(2, 502, paths="ticker/24hr")
        assert "LINK/USDT" in await ex.fetch_tickers(SYMBOLS)
    finally:
        await ex.close()


async def test_geo_block_falls_back_to_the_next_exchange(binance: FakeBinance) -> None:
    blocked = FakeBinance()
    await blocked.start()
    blocked.set_outage(451)
    chain = ExchangeChain([exchange_for(blocked), exchange_for(binance)])
    try:
        assert await chain.load(SYMBOLS) == []
        assert "BTC/USDT" in await chain.fetch_tickers(SYMBOLS)
    finally:
        await chain.close()
        await blocked.stop()


async def test_index_feed_handles_nulls_errors_and_limits(yahoo: FakeYahoo) -> None:
    feed = YahooIndexFeed(yahoo.url)
    try:
        rows = await feed.fetch_daily(full=True)
        assert len(rows) == 399  # the null day is skipped, not invented
        assert rows[-1].close == 2399.0
        yahoo.fail_next(1, 429)
        with pytest.raises(RateLimited):
            await feed.fetch_daily(full=False)
        yahoo.fail_next(1, "truncated")
        with pytest.raises(BadData):
            await feed.fetch_daily(full=False)
        yahoo.fail_next(1, 502)
        with pytest.raises(FeedUnavailable):
            await feed.fetch_daily(full=False)
    finally:
        await feed.close()
    missing = YahooIndexFeed(yahoo.url, symbol="^NOPE")
    try:
        with pytest.raises(UnknownSymbol):
            await missing.fetch_daily(full=True)
    finally:
        await missing.close()


async def test_outage_leaves_stale_data_and_backs_off(
    binance: FakeBinance, yahoo: FakeYahoo, redis: Redis, keys: Keys
) -> None:
    clock = [1_764_000_000.0]
    store = MarketStore(redis, keys)
    ex = exchange_for(binance, attempts=1)
    feed = YahooIndexFeed(yahoo.url)
    poller = Poller(
        ex, feed, store, SYMBOLS, poll_interval=10, index_interval=300, clock=lambda: clock[0]
    )
    try:
        await poller.run_once()
        snap = await store.snapshot("LINK/USDT")
        fresh = Freshness.of(10, 300)
        assert snap is not None and not fresh.price_stale(snap.fetched_at, clock[0])
        binance.set_outage(503, paths="ticker/24hr")
        for _ in range(4):
            clock[0] += 10
            with pytest.raises(FeedUnavailable):
                await poller.run_exchange_once()
        assert fresh.price_stale(snap.fetched_at, clock[0])
        status = await store.feed_status("exchange")
        assert status.consecutive_errors == 4 and status.last_error
        delays = [Poller.backoff(10, n, None) for n in range(5)]
        assert delays == sorted(delays) and delays[-1] > delays[0]
        assert Poller.backoff(10, 1, 120) == 120  # Retry-After wins
        assert Poller.backoff(10, 30, None) == 300  # bounded
        assert Poller.backoff(0.1, 30, None) == pytest.approx(3.0)  # at most 30 intervals
        binance.set_outage(None)
        clock[0] += 10
        assert await poller.run_exchange_once() is not None
        assert (await store.feed_status("exchange")).consecutive_errors == 0
    finally:
        await ex.close()
        await feed.close()


def test_451_in_a_url_is_not_a_geo_block() -> None:
    """Found as a flake: the fake's random port was 45183, inside the timed-out URL."""
    slow = ccxt.RequestTimeout("binance GET http://127.0.0.1:45183/api/v3/ticker/24hr")
    assert isinstance(translate_error(slow), FeedUnavailable)
    blocked = ccxt.ExchangeNotAvailable("binance GET http://127.0.0.1:45183/x 451 Unavailable {}")
    assert isinstance(translate_error(blocked), GeoBlocked)
