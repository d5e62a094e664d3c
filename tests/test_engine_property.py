"""Property: the indexed engine fires exactly what a naive scan of every alert fires."""

from __future__ import annotations

import asyncio
import itertools
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from alerts.domain.alert import Alert, Series
from alerts.storage.engine import Engine
from alerts.storage.keys import Keys
from tests.conftest import REDIS_URL, delete_prefix

SYM = "ADA/USDT"
# A coarse grid makes exact equality between prices and levels common (boundary cases).
prices = st.integers(min_value=1, max_value=40).map(lambda n: n / 4)
alerts_st = st.lists(st.tuples(st.sampled_from(["a", "b"]), prices), min_size=1, max_size=40)
paths = st.lists(prices, min_size=2, max_size=25)


def naive_oracle(alerts: list[tuple[str, float]], path: list[float]) -> list[int]:
    """Scan every alert on every tick: prev on one side, new on or past the level."""
    fired: list[int] = []
    for prev, new in itertools.pairwise(path):
        for i, (kind, level) in enumerate(alerts, start=1):
            if i in fired:
                continue
            if (kind == "a" and prev < level <= new) or (kind == "b" and prev > level >= new):
                fired.append(i)
    return fired


async def run_engine(alerts: list[tuple[str, float]], path: list[float]) -> list[int]:
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    keys = Keys(f"prop-{uuid.uuid4().hex[:10]}")

    async def no_ticks(symbol: str, since: float) -> list[tuple[float, float]]:
        return []

    try:
        engine = Engine(client, keys, no_ticks)
        for i, (kind, level) in enumerate(alerts, start=1):
            alert = Alert(
                id=i, chat=f"tg:{i % 3}", symbol=SYM, kind=kind, level=level, ref=1, created=0
            )
            assert await engine.create(alert, quota=1000)
        for ts, price in enumerate(path, start=1):
            await engine.evaluate(SYM, Series.PRICE, price, ts, ts)
        return [int(f["id"]) for _, f in await client.xrange(keys.outbox) if f["t"] == "fire"]
    finally:
        await delete_prefix(client, keys.prefix)
        await client.aclose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(alerts=alerts_st, path=paths)
def test_indexed_engine_matches_naive_oracle(
    alerts: list[tuple[str, float]], path: list[float]
) -> None:
    got = asyncio.run(run_engine(alerts, path))
    expected = naive_oracle(alerts, path)
    assert len(got) == len(set(got)), "an alert fired twice"
    assert sorted(got) == sorted(expected)
