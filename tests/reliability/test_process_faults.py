"""Processes dying on purpose: kill -9 mid-delivery, and the leader of two replicas."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from alerts.domain.alert import Alert, Series
from alerts.storage.engine import CREATED, Engine
from alerts.storage.keys import Keys
from tests.reliability.stack import Stack, kill9

pytestmark = pytest.mark.slow
SYM = "LINK/USDT"


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    s = await Stack.start()
    yield s
    await s.stop()


async def seed_alerts(engine: Engine, chats: int, per_chat: int, level: float) -> list[int]:
    """Each chat's alerts get adjacent levels, so a crossing emits them together."""
    ids = []
    for c in range(chats):
        for _ in range(per_chat):
            alert_id = await engine.next_id()
            alert = Alert(alert_id, f"tg:{100_000 + c}", SYM, "a", level + c * 1e-6, 9.0, 0)
            assert await engine.create(alert, quota=1000) == CREATED
            ids.append(alert_id)
    return ids


async def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_kill9_with_10k_pending_deliveries_loses_and_repeats_nothing(
    stack: Stack, redis: Redis, keys: Keys
) -> None:
    engine = Engine(redis, keys)
    ids = await seed_alerts(engine, chats=500, per_chat=20, level=9.5)
    now = time.time()
    await engine.evaluate(SYM, Series.PRICE, 9.0, now - 2, int(now))
    assert await engine.evaluate(SYM, Series.PRICE, 10.0, now - 1, int(now)) == 10_000
    stack.binance.set_price(SYM, 10.0)

    last_send = [time.monotonic()]
    stack.telegram.on_sent = lambda _m: last_send.__setitem__(0, time.monotonic())
    first = stack.spawn(stack.env(keys.prefix))
    await wait_until(lambda: len(stack.telegram.sent) >= 120, 90, "first deliveries")
    # kill -9 between two sends (the documented at-least-once window is the ~1 ms
    # between the Bot API accepting a message and the sent-mark being written)
    await wait_until(lambda: time.monotonic() - last_send[0] > 0.01, 10, "a gap between sends")
    kill9(first)
    delivered_before = sum(stack.alert_ids_delivered().values())
    assert 0 < delivered_before < 10_000

    stack.spawn(stack.env(keys.prefix))
    await wait_until(lambda: len(stack.alert_ids_delivered()) >= 10_000, 240, "all alerts")
    await asyncio.sleep(3)  # nothing more may arrive
    seen = stack.alert_ids_delivered()
    assert set(seen) == set(ids), "an alert was lost"
    assert max(seen.values()) == 1, f"sent twice: {[i for i, n in seen.items() if n > 1][:10]}"
    assert stack.telegram.too_many_requests == 0


async def test_leader_killed_other_replica_takes_over_without_double_fires(
    stack: Stack, redis: Redis, keys: Keys
) -> None:
    engine = Engine(redis, keys)
    stack.binance.set_price(SYM, 9.2)
    ids = await seed_alerts(engine, chats=50, per_chat=1, level=9.5)
    env = stack.env(keys.prefix)
    replicas = [stack.spawn(env), stack.spawn(env)]

    async def holder_pid() -> int | None:
        token = await redis.get(keys.leader)
        return int(token.split(":")[1]) if token else None

    deadline = time.monotonic() + 60
    while (pid := await holder_pid()) is None and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert pid in {p.pid for p in replicas}
    await wait_until(lambda: bool(stack.binance.requests_to("ticker/24hr")), 30, "first poll")
    leader = next(p for p in replicas if p.pid == pid)
    follower = next(p for p in replicas if p.pid != pid)
    kill9(leader)
    stack.binance.set_price(SYM, 9.6)
    deadline = time.monotonic() + 30
    while await holder_pid() != follower.pid and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert await holder_pid() == follower.pid, "the follower did not take over"
    await wait_until(lambda: len(stack.alert_ids_delivered()) >= 50, 60, "the 50 alerts")
    stack.binance.set_price(SYM, 9.7)
    await asyncio.sleep(4)  # more polls: nothing fires again
    seen = stack.alert_ids_delivered()
    assert set(seen) == set(ids) and max(seen.values()) == 1
    assert follower.poll() is None and os.getpgid(follower.pid)
