"""Property: the indexed engine fires exactly what a naive scan of every alert fires.

Price alerts and move alerts over every window and many sizes; the path's timing
varies from seconds to hours (so windows fill and empty), and the engine process
is replaced part way through (a restart in the middle of a window: the new engine
rebuilds its window extremes from the stored history).
"""

from __future__ import annotations

import asyncio
import itertools
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from alerts.domain.alert import Alert, Series
from alerts.domain.moves import WINDOWS
from alerts.storage.engine import CREATED, Engine
from alerts.storage.keys import BUCKET_SECONDS, Keys
from tests.conftest import REDIS_URL, delete_prefix

SYM = "ADA/USDT"
T0 = 1_800_000_000  # history older than 25 h expires at once: tick at realistic times
# A coarse grid makes exact equality between prices and levels common (boundary cases).
prices = st.integers(min_value=1, max_value=40).map(lambda n: n / 4)
alerts_st = st.lists(st.tuples(st.sampled_from(["a", "b"]), prices), min_size=1, max_size=40)
paths = st.lists(prices, min_size=2, max_size=25)
moves_st = st.lists(
    st.tuples(
        st.sampled_from([1.0, 2.5, 5.0, 10.0, 20.0, 50.0, 100 / 3]), st.sampled_from(WINDOWS)
    ),
    min_size=1,
    max_size=30,
)
timed_paths = st.lists(
    st.tuples(st.sampled_from([1, 7, 10, 45, 290, 1000, 3500, 14000, 60000]), prices),
    min_size=2,
    max_size=25,
)


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


def naive_moves(moves: list[tuple[float, int]], ticks: list[tuple[int, float]]) -> list[int]:
    """Every tick, every alert: extremes of all ticks in the window's buckets, re-scanned."""
    fired: list[int] = []
    for n, (ts, price) in enumerate(ticks):
        for i, (size, window) in enumerate(moves, start=1):
            first = ts // BUCKET_SECONDS - window // BUCKET_SECONDS + 1
            inside = [p for t, p in ticks[: n + 1] if t // BUCKET_SECONDS >= first]
            low, high = min(inside), max(inside)
            move = max((price / low - 1) * 100, (1 - price / high) * 100, 0.0)
            if i not in fired and move >= size:
                fired.append(i)
    return fired


async def fired(client: Redis, keys: Keys) -> list[int]:
    return [int(f["id"]) for _, f in await client.xrange(keys.outbox) if f["t"] == "fire"]


async def run_engine(alerts: list[tuple[str, float]], path: list[float]) -> list[int]:
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    keys = Keys(f"prop-{uuid.uuid4().hex[:10]}")
    try:
        engine = Engine(client, keys)
        for i, (kind, level) in enumerate(alerts, start=1):
            alert = Alert(
                id=i, chat=f"tg:{i % 3}", symbol=SYM, kind=kind, level=level, ref=1, created=0
            )
            assert await engine.create(alert, quota=1000) == CREATED
        for ts, price in enumerate(path, start=1):
            await engine.evaluate(SYM, Series.PRICE, price, ts, ts)
        return await fired(client, keys)
    finally:
        await delete_prefix(client, keys.prefix)
        await client.aclose()


async def run_moves(
    moves: list[tuple[float, int]], ticks: list[tuple[int, float]], restart: int
) -> list[int]:
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    keys = Keys(f"prop-{uuid.uuid4().hex[:10]}")
    try:
        engine = Engine(client, keys)
        for i, (size, window) in enumerate(moves, start=1):
            alert = Alert(i, f"tg:{i % 3}", SYM, "m", size, 1, 0, window=window)
            assert await engine.create(alert, quota=1000) == CREATED
        for n, (ts, price) in enumerate(ticks):
            if n == restart:
                engine = Engine(client, keys)  # a new process: deques rebuilt from history
            pipe = client.pipeline(transaction=False)
            await engine.history.queue(pipe, SYM, ts, price)
            await pipe.execute()
            await engine.evaluate_moves(SYM, price, ts, ts)
        return await fired(client, keys)
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


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moves=moves_st, path=timed_paths, restart=st.integers(min_value=0, max_value=25))
def test_move_engine_matches_naive_oracle_across_windows_and_restarts(
    moves: list[tuple[float, int]], path: list[tuple[int, float]], restart: int
) -> None:
    ticks = [
        (T0 + t, p)
        for t, p in zip(itertools.accumulate(d for d, _ in path), (p for _, p in path), strict=True)
    ]
    got = asyncio.run(run_moves(moves, ticks, restart))
    expected = naive_moves(moves, ticks)
    assert len(got) == len(set(got)), "an alert fired twice"
    assert sorted(got) == sorted(expected)
