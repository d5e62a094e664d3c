"""Scripts check before they write: bad records are skipped and reported, the rest still fire.

Also the Python <-> Lua contract (record layout and bucket size from one place), the
stored-alert counter, the per-chat symbol cap and the start-up migration.
"""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from alerts.domain.alert import Alert, Direction, Series
from alerts.domain.jobs import Job, JobKind
from alerts.storage.engine import CREATED, SYMBOL_CAP_REACHED, Engine, context_argv
from alerts.storage.keys import Keys
from alerts.storage.migrate import migrate
from alerts.storage.scripts import lua_header, lua_prelude
from alerts.storage.watchlists import Watchlists
from tests.test_engine import SYM, fired_ids, make_alert
from tests.test_engine_moves import T0, tick


async def corrupt(redis: Redis, keys: Keys, alert_id: int) -> str:
    """Drop the last field of a stored record (one field short); returns the bad record."""
    packed = await redis.hget(keys.bucket(alert_id), str(alert_id))
    assert packed is not None
    short = packed.rsplit("|", 1)[0]
    await redis.hset(keys.bucket(alert_id), str(alert_id), short)
    return short


async def test_lua_reads_the_record_layout_and_buckets_python_writes(
    redis: Redis, keys: Keys
) -> None:
    alert = make_alert(300, 9.5, kind="m", window=900, cooldown=60, snoozed_until=7)
    probe = (
        lua_prelude()
        + "local f = split(ARGV[8])\n"
        + "return {record_ok(f) and 1 or 0, f[F.level], f[F.window], f[F.snoozed_until],"
        + " bucket_of(context('', '', ''), ARGV[9])}"
    )
    args = [*context_argv(keys), alert.pack(), alert.id]
    ok, level, window, snoozed, bucket = await redis.eval(probe, 0, *args)
    assert (ok, float(level), int(window), int(snoozed)) == (1, 9.5, 900, 7)
    assert bucket == keys.bucket(alert.id)
    short = alert.pack().rsplit("|", 2)[0]
    assert (await redis.eval(probe, 0, *context_argv(keys), short, 1))[0] == 0
    assert "local F = {chat = 1, symbol = 2, kind = 3" in lua_header()


async def test_a_corrupt_record_is_skipped_and_the_others_fire(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    for i, level in enumerate((9.5, 9.6, 9.7), start=1):
        await engine.create(make_alert(i, level), quota=50)
    bad = await corrupt(redis, keys, 2)
    await engine.evaluate(SYM, Series.PRICE, 9.0, 1, 1)
    assert await engine.evaluate(SYM, Series.PRICE, 9.8, 2, 2) == 2
    assert sorted(await fired_ids(redis, keys)) == [1, 3]
    still = await redis.zrange(keys.index(SYM, Series.PRICE, Direction.UP), 0, -1)
    assert still == ["2"]  # still indexed
    assert await redis.hget(keys.bucket(2), "2") == bad  # untouched
    assert engine.bad.seen == {("record", "2")}
    assert await engine.get(2) is None and engine.bad.total == 1


async def test_a_key_of_the_wrong_type_changes_nothing(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    for i in (1, 2):
        await engine.create(make_alert(i, 9.5 + i / 10), quota=50)
    await engine.evaluate(SYM, Series.PRICE, 9.0, 1, 1)
    wrong = keys.rearm(SYM, Series.PRICE, Direction.UP)
    await redis.set(wrong, "oops")
    assert await engine.evaluate(SYM, Series.PRICE, 9.8, 2, 2) == 0
    assert await redis.zcard(keys.index(SYM, Series.PRICE, Direction.UP)) == 2  # nothing removed
    assert await redis.hget(keys.last(SYM), Series.PRICE) == "9.0"  # not even the last value
    assert engine.bad.seen == {("key", wrong)}
    await redis.delete(wrong)
    assert await engine.evaluate(SYM, Series.PRICE, 9.8, 3, 3) == 2
    await redis.set(keys.chat("tg:1"), "not a set")
    with pytest.raises(ResponseError, match="BADKEY"):
        await engine.create(make_alert(9, 9.9), quota=50)
    assert await engine.get(9) is None


async def test_move_claim_skips_a_bad_record_and_a_bad_chat_key(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys)
    for i in range(1, 5):
        await engine.create(make_alert(i, 5.0, kind="m", window=900, chat=f"tg:{i}"), quota=50)
    await corrupt(redis, keys, 2)
    await redis.delete(keys.chat("tg:3"))
    await redis.set(keys.chat("tg:3"), "not a set")
    await tick(engine, 10.0, 0)
    assert await tick(engine, 10.6, 10) == 2
    assert sorted(await fired_ids(redis, keys)) == [1, 4]
    assert sorted(await redis.zrange(keys.move_index(SYM, 900), 0, -1)) == ["2", "3"]
    assert {item for _, item in engine.bad.seen} == {"2", "3"}


async def test_the_active_counter_follows_create_fire_delete_expire(
    redis: Redis, keys: Keys
) -> None:
    engine = Engine(redis, keys)
    await engine.create(make_alert(1, 9.5), quota=50)  # fires once
    await engine.create(make_alert(2, 9.6, cooldown=60), quota=50)  # fires, stays
    await engine.create(make_alert(3, 9.9, kind="b"), quota=50)  # deleted
    await engine.create(make_alert(4, 8.0, kind="b", expires=5), quota=50)  # expires
    assert await engine.count_active() == 4
    await engine.evaluate(SYM, Series.PRICE, 9.0, 1, 1)
    await engine.evaluate(SYM, Series.PRICE, 9.7, 2, 2)
    assert await engine.count_active() == 3
    alert = await engine.get(3)
    assert alert is not None and await engine.remove(alert, owner="tg:1", reason="delete", now=3)
    assert await engine.expire_due(10) == 1
    assert await engine.count_active() == 1
    assert await redis.hgetall(keys.chat_symbols("tg:1")) == {SYM: "1"}


async def test_watchlist_and_alert_symbols_share_one_cap(redis: Redis, keys: Keys) -> None:
    engine = Engine(redis, keys, symbols_per_chat=2, free_symbols=[SYM])
    lists = Watchlists(redis, keys, defaults=[SYM], cap=100, per_chat=2)

    def on(symbol: str, alert_id: int) -> Alert:
        return Alert(alert_id, "tg:1", symbol, "a", 2.0, 1.0, 0)

    assert await lists.add("tg:1", "A/USDT") == "added"
    assert await engine.create(on("B/USDT", 1), quota=50) == CREATED
    assert await engine.create(on("C/USDT", 2), quota=50) == SYMBOL_CAP_REACHED
    assert await lists.add("tg:1", "C/USDT") == "chat_full"
    assert await engine.create(on(SYM, 3), quota=50) == CREATED  # defaults never count
    assert await engine.create(on("B/USDT", 4), quota=50) == CREATED  # B is counted already
    assert await lists.add("tg:2", "C/USDT") == "added"  # another chat
    for alert_id in (1, 4):
        assert await engine.remove(on("B/USDT", alert_id), owner="tg:1", reason="delete", now=1)
    assert await lists.add("tg:1", "C/USDT") == "added"


async def test_migration_moves_legacy_groups_and_ticks(redis: Redis, keys: Keys) -> None:
    old = Alert(7, "tg:1", SYM, "m", 5.0, 10.0, 0, cooldown=60, window=7200, state="R")
    await redis.hset(keys.bucket(7), "7", old.pack())
    await redis.sadd(keys.chat("tg:1"), 7)
    await redis.set(keys.seq, 7)
    await redis.sadd(keys.move_group(SYM, 7200, 5.0), 7)
    await redis.sadd(keys.move_groups(SYM), "7200:5")
    await redis.hset(keys.last(SYM), mapping={"move:7200:5:ts": "1", "price": "10"})
    await redis.zadd(keys.ticks(SYM), {f"{T0}.0:10.0": T0, f"{T0 + 3}.0:9.0": T0 + 3})
    await migrate(redis, keys, Engine(redis, keys).bad)
    assert await redis.zrange(keys.move_index(SYM, 3600), 0, -1, withscores=True) == [("7", 5.0)]
    moved = await Engine(redis, keys).get(7)
    assert moved is not None and (moved.window, moved.state) == (3600, "A")  # 2h -> 1h
    assert not await redis.exists(keys.move_group(SYM, 7200, 5.0), keys.move_groups(SYM))
    assert await redis.hgetall(keys.last(SYM)) == {"price": "10"}
    assert not await redis.exists(keys.ticks(SYM))
    assert await Engine(redis, keys).history.rows(SYM, T0, T0 + 5) == [(T0 // 10, 9.0, 10.0)]
    assert await redis.get(keys.active) == "1"
    assert await redis.hgetall(keys.chat_symbols("tg:1")) == {SYM: "1"}
    assert await redis.get(keys.schema) == "14"


async def test_a_counter_that_is_not_a_number_is_caught_before_any_write(
    redis: Redis, keys: Keys
) -> None:
    engine = Engine(redis, keys)
    await engine.create(make_alert(1, 9.5), quota=50)
    await engine.create(make_alert(2, 9.6, chat="tg:2"), quota=50)
    await redis.hset(keys.chat_symbols("tg:2"), SYM, "many")  # HINCRBY would fail half way
    await engine.evaluate(SYM, Series.PRICE, 9.0, 1, 1)
    assert await engine.evaluate(SYM, Series.PRICE, 9.7, 2, 2) == 1  # alert 2 skipped
    assert await redis.zrange(keys.index(SYM, Series.PRICE, Direction.UP), 0, -1) == ["2"]
    await redis.set(keys.active, "lots")
    assert await engine.evaluate(SYM, Series.PRICE, 9.0, 3, 3) == 0
    assert await redis.hget(keys.last(SYM), Series.PRICE) == "9.7"  # nothing written
    assert engine.bad.seen == {("record", "2"), ("key", keys.active)}


async def test_jobs_written_by_the_scripts_decode_with_the_one_codec(
    redis: Redis, keys: Keys
) -> None:
    """Fire and expire jobs come from Lua (claim, remove); the domain codec reads them."""
    engine = Engine(redis, keys)
    for i in (1, 2):
        assert await engine.create(make_alert(i, 9.5, expires=50 if i == 2 else 0), quota=50)
    await engine.evaluate(SYM, Series.PRICE, 9.0, 1, 1)
    await engine.evaluate(SYM, Series.PRICE, 9.8, 2, 60)  # #1 fires; #2 is past its expiry
    jobs = [Job.from_fields(i, f) for i, f in await redis.xrange(keys.outbox)]
    kinds = {job.alert.id: job.kind for job in jobs if job.alert is not None}
    assert kinds == {1: JobKind.FIRE, 2: JobKind.EXPIRED}
    fired = next(job for job in jobs if job.kind is JobKind.FIRE)
    assert (fired.value, fired.tick_ts, fired.chat) == (9.8, 2.0, "tg:1")
    assert "local J = {kind = 't'," in lua_header()
