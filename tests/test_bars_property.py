"""Property: bar-close values and crossings equal a naive recomputation, across restarts.

A random close sequence is served bar by bar by the fake Binance (its clock steps one
5m bar at a time) to a real ccxt client; the bot is down for random stretches and is
replaced by a new `BarFeed` instance part way. Every closed bar from the first run on
is emitted exactly once, in order, with the values (and so the zero crossings of the
spreads) TA-Lib gives on the closes up to that bar.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from alerts.domain.market import BarValues
from alerts.storage.engine import Engine
from alerts.storage.keys import Keys
from alerts.storage.market_store import MarketStore
from alerts.usecases.evaluation import Evaluation
from bot.feeds.bars import BarFeed
from bot.feeds.exchange import CcxtExchange
from fakes.binance import FakeBinance
from tests.conftest import REDIS_URL, delete_prefix
from tests.series_alerts import watch_series
from tests.test_bars import SYM, oracle, walk

SPAN = 300
T0 = 1_764_000_000 - 1_764_000_000 % 86400
SERIES = ["ema5-ema8@5m", "rsi6@5m", "price-sma10@5m"]
WARM = walk(262, seed=1)


def crossings(values: list[float]) -> list[int]:
    """Indexes where the value changes sign (a cross of 0, the engine's event)."""
    return [i for i, (a, b) in enumerate(itertools.pairwise(values), 1) if (a < 0) != (b < 0)]


async def run_path(
    path: list[float], up: list[bool], restart: int
) -> tuple[list[BarValues], list[float]]:
    closes = WARM + path
    end = T0 + len(path) * SPAN  # the last bar opens here
    first_open = end - (len(closes) - 1) * SPAN
    fake = FakeBinance()
    await fake.start()
    fake.freeze_at(T0 + 10)
    fake.set_bars(SYM, "5m", closes, end_s=end)
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    keys = Keys(f"barprop-{uuid.uuid4().hex[:10]}")
    ex = CcxtExchange("binance", api_url=fake.url, rate_limit=False, attempts=1)
    seen: list[BarValues] = []

    async def collect(values: BarValues) -> None:
        seen.append(values)

    def new_feed() -> BarFeed:
        evaluation = Evaluation(Engine(client, keys), client, keys, time.time)
        return BarFeed(ex, MarketStore(client, keys), lambda: [SYM],
                       on_values=[collect, evaluation.on_bar_values], intrabar_seconds=10)

    try:
        await ex.load([SYM])
        await watch_series(client, keys, SYM, list(SERIES))
        feed = new_feed()
        for step, running in enumerate(up, start=1):
            now = T0 + step * SPAN + 10
            fake.freeze_at(now)
            if step == restart:
                feed = new_feed()
            if running:
                await feed.run_once(now)
        return seen, closes[: (T0 + len(up) * SPAN - first_open) // SPAN]
    finally:
        await ex.close()
        await fake.stop()
        await delete_prefix(client, keys.prefix)
        await client.aclose()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    moves=st.lists(st.integers(min_value=-40, max_value=40), min_size=2, max_size=12),
    data=st.data(),
)
def test_bar_closes_match_naive_recomputation_across_restarts(
    moves: list[int], data: st.DataObject
) -> None:
    path: list[float] = []
    for m in moves:
        path.append(round((path[-1] if path else WARM[-1]) * (1 + m / 500), 4))
    n = len(path)
    up = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    up[0] = up[-1] = True  # the first run sets the cursor; the last one catches up
    restart = data.draw(st.integers(min_value=1, max_value=n))
    seen, closed = asyncio.run(run_path(path, up, restart))
    # closed: every close the fake had closed by the last step; the first run emits the
    # bar that closed at T0 + 300, each later bar exactly once, in order.
    first = len(closed) - n
    expected_ts = [T0 + k * SPAN for k in range(1, n + 1)]
    assert [v.bar_close_ts for v in seen] == expected_ts
    assert not any(v.intrabar for v in seen)
    for i, values in enumerate(seen):
        served = closed[: first + i + 1]
        for key in SERIES:
            want = oracle(key, served)
            assert abs(values.values[key] - want) <= 1e-9 * max(1.0, abs(want)), key
    for key in ("ema5-ema8@5m", "price-sma10@5m"):
        got = [v.values[key] for v in seen]
        naive = [oracle(key, closed[: first + i + 1]) for i in range(n)]
        assert crossings(got) == crossings(naive)

