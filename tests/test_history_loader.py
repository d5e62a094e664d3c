"""load_history and `altbot backtest` with real ccxt and our Yahoo client against the fakes."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from itertools import pairwise

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from alerts.domain.backtest import R2K, History, run_backtest
from alerts.storage.keys import Keys
from alerts.storage.market_store import MarketStore
from bot.cli import backtest
from bot.config import Settings
from bot.feeds.exchange import CcxtExchange
from bot.feeds.history import load_history
from bot.feeds.index_feed import YahooIndexFeed
from fakes._data import generate_index_history
from fakes.binance import FakeBinance
from fakes.yahoo import FakeYahoo
from tests.conftest import REDIS_URL

DAY = 86400
DAYS = 2400  # three pages of Binance's 1000-row limit
SYMBOLS = ["LINK/USDT", "ADA/USDT", "NOPE/USDT"]


@pytest.fixture
async def binance() -> AsyncIterator[FakeBinance]:
    async with FakeBinance(history_days=DAYS + 100, hang_seconds=5) as fake:
        yield fake


@pytest.fixture
async def yahoo() -> AsyncIterator[FakeYahoo]:
    async with FakeYahoo(hang_seconds=5) as fake:
        fake.set_history("^RUT", generate_index_history(end_s=int(time.time()), years=12))
        yield fake


@pytest.fixture
def store(redis: Redis, keys: Keys) -> MarketStore:
    return MarketStore(redis, keys)


def klines_for(fake: FakeBinance, market_id: str) -> int:
    return sum(r.query.get("symbol") == market_id for r in fake.requests_to("klines"))


async def load(binance: FakeBinance, yahoo: FakeYahoo, store: MarketStore) -> History:
    exchange = CcxtExchange("binance", api_url=binance.url, rate_limit=False)
    index = YahooIndexFeed(yahoo.url)
    try:
        return await load_history(exchange, index, store, SYMBOLS, days=DAYS)
    finally:
        await exchange.close()
        await index.close()


async def test_paginated_fetch_then_cache_hits_only(
    binance: FakeBinance, yahoo: FakeYahoo, store: MarketStore
) -> None:
    history = await load(binance, yahoo, store)
    for market in ("LINKUSDT", "ADAUSDT", "BTCUSDT"):
        assert klines_for(binance, market) == 3, market  # 1000 + 1000 + 400 rows
    assert len(yahoo.requests_to("/v8/finance/chart")) == 1
    assert yahoo.requests_to("/v8/finance/chart")[0].query["range"] == "max"
    assert len(history.btc) == DAYS
    link = history.coins["LINK"]
    assert len(link) == DAYS and all(b.ts - a.ts == DAY for a, b in pairwise(link))
    assert history.missing == ["NOPE"]
    assert len(history.r2k) > 12 * 250
    assert await store.closes(R2K) == history.r2k

    binance.clear_log()
    yahoo.clear_log()
    again = await load(binance, yahoo, store)
    assert binance.requests == [] and yahoo.requests == []  # not even load_markets
    assert again == history

    result = run_backtest(history)
    assert result.coins == ["LINK", "ADA"] and "No history for: NOPE." in result.table()


async def test_a_shorter_cache_does_not_satisfy_a_longer_request(
    binance: FakeBinance, yahoo: FakeYahoo, store: MarketStore
) -> None:
    exchange = CcxtExchange("binance", api_url=binance.url, rate_limit=False)
    index = YahooIndexFeed(yahoo.url)
    try:
        await load_history(exchange, index, store, ["LINK/USDT"], days=300)
        binance.clear_log()
        longer = await load_history(exchange, index, store, ["LINK/USDT"], days=1200)
    finally:
        await exchange.close()
        await index.close()
    assert len(longer.coins["LINK"]) == 1200 and klines_for(binance, "LINKUSDT") == 2


async def test_cli_backtest_prints_json(
    binance: FakeBinance, yahoo: FakeYahoo, redis: Redis, prefix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(
        key_prefix=prefix,
        redis_url=SecretStr(REDIS_URL),
        exchange_api_url=binance.url,
        index_api_url=yahoo.url,
        coins=["LINK", "ADA"],
    )
    assert await backtest(settings, as_json=True, days=1500) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["coins"] == ["LINK", "ADA"] and data["evidence"].startswith("History:")
    assert {h["days"] for h in data["horizons"]} == {30, 90, 180}
    assert await redis.exists(f"{prefix}:hist:{{LINK/USDT}}") == 1
