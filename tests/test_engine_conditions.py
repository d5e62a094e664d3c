"""Condition alerts in the engine against a real Redis: indicator series, legs of
multi-condition alerts (fire when the last leg turns true), removal, a naive oracle."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from alerts.domain.alert import Alert
from alerts.domain.grammar import parse_alert_args
from alerts.storage.bar_series import BarSeriesRegistry
from alerts.storage.engine import CREATED, Engine
from alerts.storage.keys import Keys
from alerts.usecases.alerts import AlertService

SYM = "LINK/USDT"
RSI = "rsi14@1h"


def condition_alert(alert_id: int, words: str, *, cooldown: int = 0, chat: str = "tg:1") -> Alert:
    """The record `AlertService.create` stores for `/alert LINK <words>` (its own rule)."""
    spec = parse_alert_args(words.split())
    kind, level, _ = AlertService._resolve(spec, 10.0)
    return Alert(
        id=alert_id, chat=chat, symbol=SYM, kind=kind, level=level, ref=10.0, created=0,
        cooldown=cooldown, cond=spec.condition_words,
    )  # fmt: skip


async def fired(redis: Redis, keys: Keys) -> list[int]:
    return [int(f["id"]) for _, f in await redis.xrange(keys.outbox) if f["t"] == "fire"]


async def test_indicator_level_fires_on_crossing_only(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    assert await engine.create(condition_alert(1, "rsi14 1h above 70"), quota=50) == CREATED
    assert await engine.evaluate(SYM, RSI, 65.0, 3600, 3600) == 0  # first value: a baseline
    assert await engine.evaluate(SYM, RSI, 69.0, 7200, 7200) == 0
    assert await engine.evaluate(SYM, RSI, 71.5, 10800, 10800) == 1
    assert await engine.evaluate(SYM, RSI, 75.0, 14400, 14400) == 0
    assert await fired(redis, keys) == [1]
    job = (await redis.xrange(keys.outbox))[0][1]
    assert job["tick"] == "10800" and job["v"] == "71.5"  # the bar's close time travels along


async def test_cross_of_two_averages_is_their_spread_crossing_zero(
    redis: Redis, keys: Keys
) -> None:
    engine = Engine(redis, keys)
    alert = condition_alert(1, "ema9 1h crosses below ema21 repeat", cooldown=60)
    await engine.create(alert, quota=50)
    series = "ema9-ema21@1h"
    assert [await engine.evaluate(SYM, series, v, t, t * 100) for t, v in
            enumerate([0.5, 0.1, -0.2, 0.3, -0.4], start=1)] == [0, 0, 1, 0, 1]  # fmt: skip


async def test_multi_condition_fires_when_last_leg_turns_true(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    await engine.evaluate(SYM, "price", 14.0, 1, 1)  # known before the alert: leg 1 false
    await engine.create(condition_alert(7, "above 15 and rsi14 1h below 70"), quota=50)
    state = await redis.hgetall(keys.leg_state(7))
    assert state["1"] == "0" and state["2"] == "0" and state["n"] == "2"
    assert await engine.evaluate(SYM, RSI, 60.0, 3600, 3600) == 0  # first rsi: leg 2 holds now
    assert (await redis.hgetall(keys.leg_state(7)))["2"] == "1"
    assert await engine.evaluate(SYM, "price", 15.2, 3700, 3700) == 1  # last leg turns true
    assert await fired(redis, keys) == [7]
    assert await redis.exists(keys.leg_state(7)) == 0  # once-alert: legs dropped with it
    assert await redis.zcard(keys.legs(SYM, "price")) == 0
    assert await redis.zcard(keys.legs(SYM, RSI)) == 0


async def test_multi_condition_waits_for_every_leg(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    await engine.evaluate(SYM, "price", 14.0, 1, 1)
    await engine.evaluate(SYM, RSI, 75.0, 1, 1)
    await engine.create(condition_alert(3, "above 15 and rsi14 1h below 70"), quota=50)
    assert await engine.evaluate(SYM, "price", 15.5, 2, 2) == 0  # rsi still above 70
    assert await engine.evaluate(SYM, RSI, 65.0, 3600, 3600) == 1  # rsi leg completes it
    assert await fired(redis, keys) == [3]


async def test_removing_a_multi_condition_alert_drops_its_legs(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    alert = condition_alert(4, "above 15 and volume 2x and mcap above 10B")
    await engine.create(alert, quota=50)
    assert await redis.zcard(keys.legs(SYM, "mcap")) == 1
    assert await engine.remove(alert, owner="tg:1", reason="delete", now=5)
    assert (
        await redis.exists(keys.leg_state(4), keys.legs(SYM, "price"), keys.legs(SYM, "mcap")) == 0
    )
    assert await engine.count_active() == 0


async def test_bar_series_registry_forgets_unused_series(redis: Redis, keys: Keys) -> None:
    engine, registry = Engine(redis, keys), BarSeriesRegistry(redis, keys)
    alert = condition_alert(5, "rsi14 1h above 70")
    await registry.register(SYM, [RSI, "price"])
    await engine.create(alert, quota=50)
    assert await registry.in_use(SYM) == [RSI]
    await engine.remove(alert, owner="tg:1", reason="delete", now=5)
    assert await registry.in_use(SYM) == []
    assert await redis.exists(keys.bar_series(SYM)) == 0


def oracle(
    levels: tuple[float, float],
    ways: tuple[str, str],
    a: list[float],
    b: list[float],
    cooldown: bool,
) -> int:
    """Naive: after both series have a value, count steps where the conjunction goes
    false -> true because a leg turned true (its series moved across the level)."""

    def holds(i: int, v: float | None) -> bool:
        return v is not None and (v >= levels[i] if ways[i] == "u" else v <= levels[i])

    fires, va, vb = 0, None, None
    for step in range(len(a)):
        for leg, new in ((0, a[step]), (1, b[step])):
            old_a, old_b = va, vb
            if leg == 0:
                va = new
            else:
                vb = new
            prev = old_a if leg == 0 else old_b
            if prev is None:
                continue  # first value: sets truth, never fires
            turned = holds(leg, new) and not holds(leg, prev)
            if turned and holds(0, va) and holds(1, vb):
                fires += 1
                if not cooldown:
                    return fires
    return fires


values = st.lists(st.sampled_from([1.0, 2.0, 3.0, 4.0, 5.0]), min_size=2, max_size=12)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    a=values, b=values,
    levels=st.tuples(st.sampled_from([1.5, 2.5, 3.0]), st.sampled_from([2.5, 3.5, 4.0])),
    ways=st.tuples(st.sampled_from("ud"), st.sampled_from("ud")),
    repeat=st.booleans(),
)  # fmt: skip
async def test_multi_condition_matches_naive_oracle(
    redis: Redis, keys: Keys, a: list[float], b: list[float],
    levels: tuple[float, float], ways: tuple[str, str], repeat: bool,
) -> None:  # fmt: skip
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    await redis.delete(*[key async for key in redis.scan_iter(f"{keys.prefix}:*")] or ["-"])
    engine = Engine(redis, keys)
    word = {"u": "above", "d": "below"}
    words = f"{word[ways[0]]} {levels[0]} and rsi14 1h {word[ways[1]]} {levels[1] * 10}"
    await engine.create(condition_alert(1, words, cooldown=60 if repeat else 0), quota=50)
    got = 0
    for step in range(n):
        t = 1000 * (step + 1)  # cooldown 60 s is always over between steps
        got += await engine.evaluate(SYM, "price", a[step], t, t)
        got += await engine.evaluate(SYM, RSI, b[step] * 10, t + 1, t + 1)
    assert got == oracle(levels, ways, a, [v for v in b], repeat)


async def test_a_leg_at_exactly_the_old_value_stops_holding(redis: Redis, keys: Keys) -> None:
    """Found by the oracle: price 1 -> 3 makes `below 3` hold; 3 -> 4 must end it."""
    engine = Engine(redis, keys)
    await engine.create(condition_alert(1, "below 3 and rsi14 1h above 25"), quota=50)
    await engine.evaluate(SYM, "price", 1.0, 1, 1)
    await engine.evaluate(SYM, RSI, 10.0, 1, 1)
    await engine.evaluate(SYM, "price", 3.0, 2, 2)
    assert await engine.evaluate(SYM, "price", 4.0, 3, 3) == 0
    assert await engine.evaluate(SYM, RSI, 30.0, 3, 3) == 0  # price leg no longer holds
    assert (await redis.hgetall(keys.leg_state(1)))["1"] == "0"
