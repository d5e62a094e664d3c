"""FakeBinance is only useful if REAL ccxt accepts it: prove it, and pin down which ccxt
exception each injected fault becomes (and that stop() releases a hanging request).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async
import pytest

from fakes._data import DAY_MS
from fakes.binance import FakeBinance, point_ccxt_at

COINS = ["BTC/USDT", "ETH/USDT", "AVAX/USDT", "BCH/USDT", "ADA/USDT", "LINK/USDT", "HBAR/USDT"]

#: What ccxt 4.5 (binance, async) raises for each fault of FakeBinance, on fetch_ticker.
#: Note 429 -> DDoSProtection (binance.handle_errors), NOT RateLimitExceeded, and a 500
#: carrying Binance's {"code": -1001} body -> OperationFailed (the exact-code map wins).
CCXT_ERRORS: dict[int | str, type[Exception]] = {
    500: ccxt.OperationFailed,
    502: ccxt.ExchangeNotAvailable,
    503: ccxt.ExchangeNotAvailable,
    504: ccxt.RequestTimeout,
    429: ccxt.DDoSProtection,
    418: ccxt.DDoSProtection,
    451: ccxt.ExchangeNotAvailable,
    "timeout": ccxt.RequestTimeout,
    "disconnect": ccxt.ExchangeNotAvailable,
}


@pytest.fixture
async def binance() -> AsyncIterator[FakeBinance]:
    async with FakeBinance(history_days=450, hang_seconds=10) as fake:
        yield fake


@pytest.fixture
async def exchange(binance: FakeBinance) -> AsyncIterator[Any]:
    ex = point_ccxt_at(ccxt_async.binance({"enableRateLimit": False, "timeout": 400}), binance.url)
    ex.timeout_on_exit = 0  # close() otherwise sleeps 250 ms for TLS shutdown we do not have
    try:
        yield ex
    finally:
        await ex.close()


async def test_point_ccxt_at_rewrites_every_api_url(exchange: Any, binance: FakeBinance) -> None:
    assert all(binance.url in url for url in exchange.urls["api"].values())
    assert exchange.options["fetchMarkets"]["types"] == ["spot"]


async def test_ccxt_markets_tickers_and_time(exchange: Any, binance: FakeBinance) -> None:
    markets = await exchange.load_markets()
    assert set(COINS) <= set(markets)
    link = markets["LINK/USDT"]
    assert link["active"] and link["spot"] and link["precision"]["price"] == 0.01
    assert [r.path for r in binance.requests] == ["/api/v3/exchangeInfo"]  # no fapi/dapi/sapi
    assert binance.unknown_paths == []

    binance.set_price("LINK/USDT", 9.6, change_pct=4.2, quote_volume=7.5e7)
    ticker = await exchange.fetch_ticker("LINK/USDT")
    assert ticker["last"] == 9.6 and ticker["quoteVolume"] == 7.5e7
    assert ticker["percentage"] == pytest.approx(4.2, abs=1e-3)

    binance.clear_log()
    tickers = await exchange.fetch_tickers(COINS)
    assert set(tickers) == set(COINS)
    calls = binance.requests_to("ticker/24hr")
    assert len(calls) == 1 and len(binance.requests) == 1
    assert json.loads(calls[0].query["symbols"]) == [c.replace("/", "") for c in COINS]

    server_ms = await exchange.fetch_time()
    assert abs(server_ms - time.time() * 1000) < 5_000


async def test_ccxt_ohlcv_pagination(exchange: Any, binance: FakeBinance) -> None:
    await exchange.load_markets()
    newest = await exchange.fetch_ohlcv("BTC/USDT", "1d", limit=5)
    assert len(newest) == 5 and newest[-1][4] == 97_000.0  # today's bar closes at the ticker
    first = binance.klines[("BTCUSDT", "1d")][0][0]
    rows: list[list[float]] = []
    since = first
    while True:
        page = await exchange.fetch_ohlcv("BTC/USDT", "1d", since=since, limit=200)
        rows += page
        if len(page) < 200:
            break
        since = int(page[-1][0]) + DAY_MS
    assert len(rows) == 450
    assert all(b[0] - a[0] == DAY_MS for a, b in itertools.pairwise(rows))
    starts = [
        int(r.query["startTime"]) for r in binance.requests_to("klines") if "startTime" in r.query
    ]
    assert starts == [first, first + 200 * DAY_MS, first + 400 * DAY_MS]


async def test_ccxt_unknown_symbol_is_bad_symbol(exchange: Any, binance: FakeBinance) -> None:
    await exchange.load_markets()
    binance.remove_market("HBAR/USDT")  # delisted after markets were loaded
    with pytest.raises(ccxt.BadSymbol, match="-1121"):
        await exchange.fetch_ticker("HBAR/USDT")


@pytest.mark.parametrize("mode", list(CCXT_ERRORS))
async def test_ccxt_exception_per_fault(
    mode: int | str, exchange: Any, binance: FakeBinance
) -> None:
    await exchange.load_markets()
    binance.set_outage(mode, paths="ticker/24hr")  # exchangeInfo and klines keep working
    with pytest.raises(ccxt.BaseError) as info:
        await exchange.fetch_ticker("ADA/USDT")
    assert type(info.value) is CCXT_ERRORS[mode], f"{mode}: {type(info.value).__name__}"
    if mode in (429, 418):  # the only place ccxt keeps Retry-After; the message lacks it
        assert exchange.last_response_headers.get("Retry-After") in ("2", "120")
        assert "retry-after" not in str(info.value).lower()
    assert len(await exchange.fetch_ohlcv("ADA/USDT", "1d", limit=3)) == 3
    binance.set_outage(None)
    assert (await exchange.fetch_ticker("ADA/USDT"))["last"] == 0.9


async def test_ccxt_503_with_binance_busy_body(exchange: Any, binance: FakeBinance) -> None:
    await exchange.load_markets()
    busy = '{"code":-1008,"msg":"Server is currently overloaded with other requests."}'
    binance.fail_next(1, 503, body=busy, paths="ticker")
    with pytest.raises(ccxt.ExchangeError) as info:  # the JSON code wins over HTTP 503, and
        await exchange.fetch_ticker("ADA/USDT")  # -1008 is unmapped for spot: not a NetworkError
    assert type(info.value) is ccxt.ExchangeError
    assert (await exchange.fetch_ticker("ADA/USDT"))["last"] == 0.9  # one-shot fault used up


async def test_ccxt_truncated_json_is_not_a_ccxt_error(exchange: Any, binance: FakeBinance) -> None:
    """ccxt swallows the JSON error and parses the raw text: garbage, or a plain exception."""
    await exchange.load_markets()
    binance.set_outage("truncated")
    ticker = await exchange.fetch_ticker("LINK/USDT")
    assert ticker["last"] is None and ticker["symbol"] == "LINK/USDT"  # silently empty
    with pytest.raises(AttributeError):  # not a ccxt.BaseError
        await exchange.fetch_tickers(COINS)
    candles = await exchange.fetch_ohlcv("LINK/USDT", "1d", limit=3)
    assert candles and all(c[4] is None for c in candles)  # rows built from characters
    assert await exchange.fetch_time() is None
    assert await exchange.load_markets(reload=True) == {}  # markets wiped


async def test_stop_releases_hanging_requests() -> None:
    fake = FakeBinance(hang_seconds=60)
    url = await fake.start()
    fake.set_outage("timeout")
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.get(f"{url}/api/v3/time"))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await fake.stop()  # must not wait out the 60 s hang
        assert time.monotonic() - started < 2
        try:
            resp = await asyncio.wait_for(request, 2)
            status: int | None = resp.status
            resp.release()
        except aiohttp.ClientError:
            status = None
    assert status in (None, 504)
