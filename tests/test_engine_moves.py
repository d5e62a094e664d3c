"""Move alerts against a real Redis: windows, sizes, re-arming, restarts, leader changes."""

from __future__ import annotations

from redis.asyncio import Redis

from alerts.storage.engine import Engine
from alerts.storage.keys import Keys
from tests.test_engine import SYM, fired_ids, make_alert

T0 = 1_800_000_000  # history older than 25 h expires at once: tick at realistic times


async def store(engine: Engine, price: float, ts: float) -> None:
    pipe = engine.redis.pipeline(transaction=False)
    await engine.history.queue(pipe, SYM, T0 + ts, price)
    await pipe.execute()


async def tick(engine: Engine, price: float, ts: float) -> int:
    """What the poller does: store the tick in the history, then evaluate it."""
    await store(engine, price, ts)
    return await engine.evaluate_moves(SYM, price, T0 + ts, T0 + int(ts))


async def test_only_the_sizes_a_move_reaches_fire_per_window(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    for i in range(1, 4):
        await engine.create(make_alert(i, 5.0, kind="m", window=3600), quota=50)
    await engine.create(make_alert(4, 2.0, kind="m", window=300), quota=50)
    await engine.create(make_alert(5, 10.0, kind="m", window=3600), quota=50)
    assert await tick(engine, 10.0, 0) == 0
    assert await tick(engine, 10.1, 100) == 0  # +1%
    assert await tick(engine, 10.3, 400) == 0  # +3% in 1h; the 5m window starts after 100
    assert await tick(engine, 10.6, 500) == 4  # +6% in 1h, +2.9% in 5m
    assert await tick(engine, 10.7, 600) == 0  # once-alerts are gone; 10% not reached
    assert sorted(await fired_ids(redis, keys)) == [1, 2, 3, 4]
    assert await redis.zrange(keys.move_index(SYM, 3600), 0, -1) == ["5"]
    assert await engine.count_active() == 1


async def test_repeat_move_alert_rearms_once_the_move_eases(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    await engine.create(make_alert(1, 5.0, kind="m", window=3600, cooldown=60), quota=50)
    path = [
        (10.0, 0, 0),
        (10.6, 10, 1),  # +6%: fires, then waits for the move to ease
        (10.7, 20, 0),  # still moved: no second message
        (10.4, 30, 0),  # +4% < 5% x (1 - 0.5%): armed again
        (10.6, 40, 0),  # moved again inside the cooldown: suppressed, waits again
        (10.4, 50, 0),  # eased: armed again
        (10.6, 100, 1),  # after the cooldown: fires
    ]
    for price, ts, expected in path:
        assert await tick(engine, price, ts) == expected, (price, ts)
    alert = await engine.get(1)
    assert alert is not None and alert.fires == 2 and alert.last_fired == T0 + 100


async def test_a_restart_rebuilds_the_windows_from_history(redis: Redis, keys: Keys) -> None:
    before = Engine(redis, keys)
    await before.create(make_alert(1, 5.0, kind="m", window=3600), quota=50)
    await tick(before, 10.0, 0)
    await tick(before, 10.3, 100)
    after = Engine(redis, keys)  # a new process: no deques yet
    assert await tick(after, 10.55, 200) == 1  # +5.5% from the low it read back
    assert after.moves.rebuilds == 1
    assert await tick(after, 10.6, 210) == 0 and after.moves.rebuilds == 1


async def test_a_leader_change_is_noticed_and_the_windows_rebuilt(redis: Redis, keys: Keys) -> None:
    a, b = Engine(redis, keys), Engine(redis, keys)
    await a.create(make_alert(1, 5.0, kind="m", window=3600), quota=50)
    await tick(a, 10.0, 0)
    assert await tick(b, 9.6, 100) == 0  # b led for a while (-4%); a never saw 9.6
    assert await tick(a, 10.1, 200) == 1  # +5.2% from 9.6: a rebuilt before claiming
    assert a.moves.rebuilds == 2


async def test_a_move_tick_is_claimed_once(redis: Redis, keys: Keys) -> None:
    a, b = Engine(redis, keys), Engine(redis, keys)
    for i in range(1, 51):
        await a.create(make_alert(i, 1.0 + i / 10, kind="m", window=900), quota=100)
    await tick(a, 10.0, 0)
    await tick(b, 10.0, 5)
    await store(a, 11.0, 10)
    results = [await e.evaluate_moves(SYM, 11.0, T0 + 10, T0 + 10) for e in (a, b, a)]
    assert sum(results) == 50 and sorted(results)[-1] == 50
    assert sorted(await fired_ids(redis, keys)) == list(range(1, 51))


async def test_deleting_a_move_alert_clears_its_index(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    alert = make_alert(1, 5.0, kind="m", window=14400)
    await engine.create(alert, quota=50)
    assert await engine.remove(alert, owner="tg:1", reason="delete", now=1)
    assert not await redis.exists(keys.move_index(SYM, 14400))
    assert await engine.count_active() == 0
    assert not await redis.exists(keys.chat_symbols("tg:1"))


async def test_windows_are_kept_only_while_a_symbol_has_move_alerts(
    redis: Redis, keys: Keys
) -> None:
    engine = Engine(redis, keys)
    assert await tick(engine, 10.0, 0) == 0
    assert await tick(engine, 10.2, 100) == 0
    assert engine.moves.windows == {} and engine.moves.rebuilds == 0  # probes only
    await engine.create(make_alert(1, 5.0, kind="m", window=3600), quota=50)
    assert await tick(engine, 10.3, 200) == 0  # windows built from history: +3%
    assert engine.moves.rebuilds == 1 and SYM in engine.moves.windows
    assert await tick(engine, 10.55, 300) == 1  # +5.5% from the low stored before the alert
    assert engine.moves.windows == {}  # its only move alert fired: back to probes
