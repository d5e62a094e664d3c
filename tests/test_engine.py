"""The alert engine against a real Redis: crossings, atomic claims, restarts, repeat rules."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from alerts.domain.alert import Alert, AlertKind, Series
from alerts.storage.engine import CREATED, QUOTA_REACHED, Engine
from alerts.storage.keys import OUTBOX_GROUP, Keys

SYM = "LINK/USDT"


def make_alert(
    alert_id: int, level: float, kind: str = "a", chat: str = "tg:1", **extra: int
) -> Alert:
    return Alert(
        id=alert_id, chat=chat, symbol=SYM, kind=AlertKind(kind), level=level, ref=9.0, created=0,
        **extra,
    )


async def outbox_jobs(redis: Redis, keys: Keys) -> list[dict[str, str]]:
    return [fields for _, fields in await redis.xrange(keys.outbox)]


async def fired_ids(redis: Redis, keys: Keys, kind: str = "fire") -> list[int]:
    return [int(j["id"]) for j in await outbox_jobs(redis, keys) if j["t"] == kind]


async def test_crossing_fires_once_and_moves_to_history(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    await engine.create(make_alert(1, 9.5), quota=50)
    await engine.create(make_alert(2, 8.0, kind="b"), quota=50)
    assert (
        await engine.evaluate(SYM, Series.PRICE, 9.2, 1, 1) == 0
    )  # first value: nothing to compare
    assert await engine.evaluate(SYM, Series.PRICE, 9.6, 2, 2) == 1
    assert await engine.evaluate(SYM, Series.PRICE, 9.4, 3, 3) == 0
    assert await engine.evaluate(SYM, Series.PRICE, 9.7, 4, 4) == 0  # once-alert never again
    assert await fired_ids(redis, keys) == [1]
    assert await engine.get(1) is None
    assert await redis.get(keys.history(1)) is not None
    assert await redis.smembers(keys.chat("tg:1")) == {"2"}


async def test_same_tick_twice_is_evaluated_once(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    await engine.create(make_alert(1, 9.5), quota=50)
    await engine.evaluate(SYM, Series.PRICE, 9.0, 1, 1)
    assert await engine.evaluate(SYM, Series.PRICE, 9.6, 2, 2) == 1
    assert await engine.evaluate(SYM, Series.PRICE, 9.6, 2, 2) == 0
    assert await engine.evaluate(SYM, Series.PRICE, 9.0, 1.5, 2) == 0  # older tick ignored


async def test_two_engines_never_double_claim(redis: Redis, keys: Keys) -> None:
    other = Redis.from_url(_url(redis), decode_responses=True)
    try:
        a, b = Engine(redis, keys), Engine(other, keys)
        for i in range(1, 201):
            await a.create(make_alert(i, 9.0 + i / 1000), quota=1000)
        await a.evaluate(SYM, Series.PRICE, 9.0, 1, 1)
        results = await asyncio.gather(
            a.evaluate(SYM, Series.PRICE, 9.5, 2, 2), b.evaluate(SYM, Series.PRICE, 9.5, 2, 2)
        )
        assert sorted(results) == [0, 200]
        ids = await fired_ids(redis, keys)
        assert sorted(ids) == list(range(1, 201))
    finally:
        await other.aclose()


def _url(redis: Redis) -> str:
    kw = redis.connection_pool.connection_kwargs
    return f"redis://{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


async def test_crossing_while_down_fires_once_after_restart(redis: Redis, keys: Keys) -> None:
    before = Engine(redis, keys)
    await before.create(make_alert(1, 9.5), quota=50)
    await before.evaluate(SYM, Series.PRICE, 9.2, 1, 1)
    del before  # the process stops; the last evaluated price stays in Redis
    after = Engine(redis, keys)
    assert await after.evaluate(SYM, Series.PRICE, 9.9, 100, 100) == 1
    assert await after.evaluate(SYM, Series.PRICE, 9.95, 110, 110) == 0
    assert await fired_ids(redis, keys) == [1]


async def test_repeat_cooldown_and_hysteresis(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    await engine.create(make_alert(1, 10.0, cooldown=3600), quota=50)
    path = [
        (9.0, 1, 0),  # first value
        (10.1, 2, 1),  # fires
        (9.99, 3, 0),  # not back across by 0.5%: stays waiting
        (10.2, 4, 0),  # no re-fire without hysteresis
        (9.9, 5, 0),  # back below 9.95: re-armed
        (10.1, 6, 0),  # crossing inside the cooldown: suppressed
        (9.9, 7, 0),  # re-armed again
        (10.1, 4000, 1),  # after the cooldown: fires
    ]
    for price, ts, expected in path:
        assert await engine.evaluate(SYM, Series.PRICE, price, ts, ts) == expected, (price, ts)
    alert = await engine.get(1)
    assert alert is not None and alert.fires == 2 and alert.last_fired == 4000


async def test_expired_alert_is_removed_and_owner_told_once(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    await engine.create(make_alert(1, 9.5, expires=50), quota=50)
    await engine.create(make_alert(2, 9.6, expires=500), quota=50)
    assert await engine.expire_due(100) == 1
    assert await engine.expire_due(101) == 0
    assert await engine.get(1) is None and await engine.get(2) is not None
    assert await fired_ids(redis, keys, "expired") == [1]
    # an expired alert crossed before the sweep is reported as expired, not fired
    await engine.evaluate(SYM, Series.PRICE, 9.0, 1, 600)
    await engine.evaluate(SYM, Series.PRICE, 9.7, 2, 600)
    assert await fired_ids(redis, keys) == []
    assert sorted(await fired_ids(redis, keys, "expired")) == [1, 2]


async def test_quota_is_enforced_atomically(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    results = await asyncio.gather(
        *(engine.create(make_alert(i, 9.5 + i / 100), quota=5) for i in range(1, 11))
    )
    assert sorted(results) == [QUOTA_REACHED] * 5 + [CREATED] * 5
    assert await redis.scard(keys.chat("tg:1")) == 5


async def test_paused_chat_does_not_fire_until_resumed(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    await engine.create(make_alert(1, 9.5), quota=50)
    await redis.set(keys.paused("tg:1"), "1")
    await engine.evaluate(SYM, Series.PRICE, 9.0, 1, 1)
    assert await engine.evaluate(SYM, Series.PRICE, 9.6, 2, 2) == 0
    await redis.delete(keys.paused("tg:1"))
    await engine.evaluate(SYM, Series.PRICE, 9.0, 3, 3)
    assert await engine.evaluate(SYM, Series.PRICE, 9.6, 4, 4) == 1


async def test_worker_crash_between_claim_and_send_delivers_once(redis: Redis, keys: Keys) -> None:
    from alerts.domain.jobs import Job
    from alerts.storage.outbox import DeliveryWorker

    engine = Engine(redis, keys)
    for i in range(1, 6):
        await engine.create(make_alert(i, 9.5, chat=f"tg:{i}"), quota=50)
    sent: list[str] = []

    async def deliver(chat: str, jobs: list[Job]) -> None:
        sent.extend(j.job_id for j in jobs)

    crashed = DeliveryWorker(redis, keys, deliver, consumer="crashed", claim_idle_ms=0)
    await crashed.ensure_group()
    await engine.evaluate(SYM, Series.PRICE, 9.0, 1, 1)
    await engine.evaluate(SYM, Series.PRICE, 9.6, 2, 2)
    # the crashed worker read the jobs and died before sending
    await redis.xreadgroup(OUTBOX_GROUP, "crashed", {keys.outbox: ">"}, count=100)
    # one of them had been sent just before the crash (sent-mark written, not acked)
    first_id = (await redis.xrange(keys.outbox))[0][0]
    await redis.set(keys.sent(first_id), "1")
    survivor = DeliveryWorker(redis, keys, deliver, consumer="survivor", claim_idle_ms=0)
    assert await survivor.reclaim_once() == 4
    assert await survivor.reclaim_once() == 0
    assert await survivor.run_once(block_ms=None) == 0
    assert len(sent) == len(set(sent)) == 4 and first_id not in sent
    assert (await survivor.depth())[1] == 0
