"""The market-cap feed: the real CoinGecko client (aiohttp) against the fake, real Redis.

Time is the feed's injected clock: cadence and backoff are asserted by what was asked
of the fake at which (fake) time, never by measuring sleeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import pytest
from redis.asyncio import Redis

from alerts.domain.market import BadData, FeedUnavailable, MarketCap, RateLimited
from alerts.storage.keys import MCAP_FEED, Keys
from alerts.storage.market_caps import MarketCaps
from alerts.storage.market_store import MarketStore
from bot.config import Settings
from bot.feeds.coingecko import PER_PAGE, CoinGeckoClient, parse_markets
from bot.feeds.market_cap import KNOWN_IDS, MarketCapFeed
from bot.sources import build_market_caps
from fakes.coingecko import Coin, FakeCoinGecko

T0 = 1_764_000_000.0
DEFAULTS = [f"{b}/USDT" for b in ("AVAX", "BCH", "ADA", "LINK", "HBAR", "BTC", "ETH")]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def gecko() -> AsyncIterator[FakeCoinGecko]:
    async with FakeCoinGecko() as fake:
        yield fake


@pytest.fixture
async def client(gecko: FakeCoinGecko) -> AsyncIterator[CoinGeckoClient]:
    source = CoinGeckoClient(gecko.api_url, backoff=0.01, max_backoff=0.05)
    yield source
    await source.close()


class Rig:
    """A feed over the fake with a settable clock, tracked list and listener log."""

    def __init__(self, redis: Redis, keys: Keys, client: CoinGeckoClient) -> None:
        self.clock = Clock()
        self.tracked = list(DEFAULTS)
        self.caps = MarketCaps(redis, keys)
        self.store = MarketStore(redis, keys)
        self.heard: list[tuple[dict[str, MarketCap], float]] = []
        self.feed = self.new_feed(client)

    def new_feed(self, client: CoinGeckoClient) -> MarketCapFeed:
        """A feed as a restarted process (or another replica) would build it."""

        async def listen(values: Mapping[str, MarketCap], fetched_at: float) -> None:
            self.heard.append((dict(values), fetched_at))

        return MarketCapFeed(
            client, self.caps, self.store, lambda: self.tracked,
            clock=self.clock, on_refresh=[listen],
        )  # fmt: skip


@pytest.fixture
def rig(redis: Redis, keys: Keys, client: CoinGeckoClient) -> Rig:
    return Rig(redis, keys, client)


async def test_one_request_caches_every_tracked_coin_and_tells_the_listener(
    rig: Rig, gecko: FakeCoinGecko
) -> None:
    fetched = await rig.feed.refresh_once()
    (query,) = gecko.market_requests()  # declared ids: no lookup, one request
    assert query["vs_currency"] == "usd" and "symbols" not in query
    assert sorted(query["ids"].split(",")) == sorted(KNOWN_IDS.values())
    link = await rig.caps.get("LINK")
    assert link == MarketCap("LINK", "chainlink", 7_410_000_000.0, link.rank if link else 0, T0)
    assert link is not None and link.rank is not None
    assert set(fetched) == set(DEFAULTS)
    assert rig.heard == [(fetched, T0)]
    assert fetched["BTC/USDT"].usd == 1_935_000_000_000
    status = await rig.store.feed_status(MCAP_FEED)
    assert status.last_ok == T0 and status.consecutive_errors == 0


async def test_ticker_collisions_resolve_to_the_largest_coin_and_stay(
    rig: Rig, gecko: FakeCoinGecko, client: CoinGeckoClient, redis: Redis, keys: Keys
) -> None:
    rig.tracked.append("UNI/USDT")
    await rig.feed.refresh_once()
    lookup, markets = gecko.market_requests()
    assert lookup["symbols"] == "uni" and lookup["include_tokens"] == "all"
    assert "uniswap" in markets["ids"].split(",") and "unicorn-token" not in markets["ids"]
    assert await redis.hget(keys.coin_ids, "UNI") == "uniswap"
    uni = await rig.caps.get("UNI")
    assert uni is not None and uni.coin_id == "uniswap" and uni.usd == 3_930_000_000
    # The impostor outgrows it later: the chosen id stays, even after a restart.
    gecko.set_market_cap("unicorn-token", 9e9)
    gecko.clear_log()
    rig.clock.now += 600
    await rig.new_feed(client).refresh_once()
    (markets,) = gecko.market_requests()  # no second lookup
    assert "uniswap" in markets["ids"].split(",")
    assert await redis.hget(keys.coin_ids, "UNI") == "uniswap"
    # Declared tickers never look up, though four coins call themselves LINK.
    assert await redis.hget(keys.coin_ids, "LINK") is None


async def test_unknown_ticker_gets_no_value_and_no_invented_id(
    rig: Rig, gecko: FakeCoinGecko, redis: Redis, keys: Keys
) -> None:
    rig.tracked.append("NOPE/USDT")
    fetched = await rig.feed.refresh_once()
    assert "NOPE/USDT" not in fetched and await rig.caps.get("NOPE") is None
    assert await redis.hget(keys.coin_ids, "NOPE") is None
    rig.clock.now += 60
    assert not await rig.feed.due()  # not asked again and again


@pytest.mark.parametrize(
    ("mode", "error", "requests"),
    [(429, RateLimited, 1), (500, FeedUnavailable, 3), (503, FeedUnavailable, 3),
     ("timeout", FeedUnavailable, 3), ("malformed", BadData, 1), ("truncated", BadData, 1)],
)  # fmt: skip
async def test_failures_keep_the_last_good_value_and_mark_the_feed_unhealthy(
    rig: Rig, gecko: FakeCoinGecko, mode: int | str, error: type[Exception], requests: int
) -> None:
    gecko.hang_seconds = 0.2
    rig.feed.source = CoinGeckoClient(gecko.api_url, timeout=0.1, backoff=0.01, max_backoff=0.05)
    try:
        await rig.feed.refresh_once()
        before = await rig.caps.all()
        gecko.clear_log()
        gecko.set_market_cap("chainlink", 1.0)  # what a successful refresh would store
        gecko.set_outage(mode)
        rig.clock.now += 600
        with pytest.raises(error):
            await rig.feed.refresh_once()
        assert len(gecko.market_requests()) == requests  # bounded retries; 429 waits outside
        assert await rig.caps.all() == before  # nothing invented, real fetch times kept
        link = await rig.caps.get("LINK")
        assert link is not None and link.fetched_at == T0 and link.usd == 7_410_000_000
        status = await rig.store.feed_status(MCAP_FEED)
        assert status.last_ok == T0 and status.consecutive_errors == 1
        assert status.last_error and "CoinGecko" in status.last_error
        assert len(rig.heard) == 1  # listeners hear only good refreshes
    finally:
        await rig.feed.source.close()


async def test_cadence_restarts_new_symbols_and_backoff(
    rig: Rig, gecko: FakeCoinGecko, client: CoinGeckoClient
) -> None:
    assert await rig.feed.refresh_if_due()  # never fetched: at once
    rig.clock.now = T0 + 599
    assert not await rig.feed.refresh_if_due()
    assert not await rig.new_feed(client).refresh_if_due()  # a restart keeps the cadence
    rig.clock.now = T0 + 600
    assert await rig.feed.refresh_if_due()
    rig.tracked.append("SOL/USDT")  # newly tracked: fetched early, not 10 minutes later
    rig.clock.now = T0 + 630
    assert await rig.feed.refresh_if_due()
    assert (await rig.caps.get("SOL")) is not None
    assert len(gecko.market_requests()) == 4  # three refreshes, one SOL lookup
    gecko.set_outage(429)  # Retry-After: 60, beyond the client's backoff: no retry inside
    rig.clock.now = T0 + 1230
    with pytest.raises(RateLimited):
        await rig.feed.refresh_if_due()
    gecko.set_outage(None)
    rig.clock.now = T0 + 1230 + 119
    assert not await rig.feed.refresh_if_due()  # backing off: 2 minutes after a failure
    rig.clock.now = T0 + 1230 + 120
    assert await rig.feed.refresh_if_due()
    assert [at for _, at in rig.heard] == [T0, T0 + 600, T0 + 630, T0 + 1350]


def test_parse_markets_takes_only_real_market_caps() -> None:
    rows = parse_markets(
        [
            {"id": "a", "symbol": "A", "name": "A", "market_cap": 5e9, "market_cap_rank": 3},
            {"id": "b", "symbol": "b", "name": "B", "market_cap": 0, "market_cap_rank": None},
            {"id": "c", "symbol": "c", "market_cap": float("inf")},
            {"id": "d", "symbol": "d", "market_cap": True},
            {"id": "", "symbol": "e", "market_cap": 1e9},
            "junk",
        ]
    )
    assert [(r.coin_id, r.symbol, r.market_cap, r.rank) for r in rows] == [
        ("a", "a", 5e9, 3), ("b", "b", None, None), ("c", "c", None, None),
        ("d", "d", None, None),
    ]  # fmt: skip
    with pytest.raises(BadData):
        parse_markets({"status": {"error_code": 429}})


async def test_mcap_api_url_replaces_the_base_and_pages_stay_within_250_ids(
    gecko: FakeCoinGecko,
) -> None:
    settings = Settings(_env_file=None, mcap_api_url=gecko.api_url)  # type: ignore[call-arg]
    source = build_market_caps(settings)
    for n in range(PER_PAGE + 10):
        gecko.add_coin(Coin(f"coin-{n}", f"c{n}", f"Coin {n}", 1.0, 1e6 + n))
    try:
        rows = await source.markets(["chainlink", *(f"coin-{n}" for n in range(PER_PAGE + 10))])
    finally:
        await source.close()
    assert len(rows) == PER_PAGE + 11
    pages = gecko.market_requests()
    assert [len(q["ids"].split(",")) for q in pages] == [PER_PAGE, 11]
    assert all(q["per_page"] == str(PER_PAGE) for q in pages)
