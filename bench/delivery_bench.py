"""Delivery benchmark (issue 13): lone alerts, personal alerts during a broadcast, poison jobs.

The real App (engine, outbox streams, delivery worker, PTB transport with its flood
limiter) runs against FakeTelegram in a child process with Telegram's limits enforced
(429 above 30 msg/s overall, ~1/s per chat, 20/min per group), as bench/telegram_bench.py.

1. lone: alerts in distinct chats fire one at a time; latency from the engine evaluating
   the tick to the fake Bot API receiving the message (leading-edge coalescing: no linger).
2. broadcast: a signal fans out to N subscribers; while it is in flight, personal alerts
   fire; their tick → chat API latency, and the broadcast's own rate.
3. poison: 1,000 jobs for a group where the bot may not post (permanent 400) and 1,000
   for a transport this process does not have (transient, "no transport"): every job must
   be dead-lettered after at most 3 attempts, and the outbox length back near its baseline
   within a minute.

Writes the keys `lone_alert_p99_ms`, `personal_during_broadcast_p99_ms`,
`poison_attempts_max` (and their details) into section `delivery` of bench/results.json,
keeping the keys other benchmarks write there.
"""

from __future__ import annotations

import asyncio
import gc
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from alerts.domain.alert import Alert
from alerts.storage.keys import Keys
from alerts.storage.outbox import RETRY_BACKOFF
from alerts.storage.subscriptions import Signal
from bench.redis_memory import delete_prefix
from bench.redis_server import run_with_redis
from bench.remote_telegram import RemoteTelegram
from bench.results import check, machine_facts, merge_keys, percentile, table
from fakes.tg_harness import Harness, telegram_app

NAME = "delivery"
SYMBOL = "LINK/USDT"
LONE_CHAT, PERSONAL_CHAT, SUBSCRIBER_CHAT = 41_000_001, 42_000_001, 43_000_001
POISON_GROUP, MISSING_TRANSPORT_CHAT = -1_009_000_000_001, "dc:u:424242"
LONE_BASE, PERSONAL_BASE = 100.0, 1000.0  # alert levels far above the market, one per alert


@dataclass(frozen=True)
class Config:
    lone: int = 200
    subscribers: int = 10_000
    personal: int = 50
    poison: int = 1000
    spacing_s: float = 0.12
    personal_spacing_s: float = 0.5
    retry_backoff: tuple[float, ...] = RETRY_BACKOFF  # the production backoff, unless a test

    @classmethod
    def quick(cls) -> Config:
        return cls(lone=40, subscribers=600, personal=20, poison=200, personal_spacing_s=0.3)


async def add_alert(h: Harness, chat: str, level: float) -> None:
    engine = h.app.engine
    alert = Alert(id=await engine.next_id(), chat=chat, symbol=SYMBOL, kind="a", level=level,
                  ref=9.2, created=int(time.time()))  # fmt: skip
    assert await engine.create(alert, quota=100_000)


async def fire(h: Harness, price: float) -> float:
    """Evaluate one tick through the engine; returns when it started (monotonic)."""
    t0 = time.monotonic()
    await h.tick("LINK", price)
    return t0


async def arrivals(tg: RemoteTelegram, since: int, chats: set[int]) -> dict[int, float]:
    """First arrival time at the fake Bot API per chat."""
    out: dict[int, float] = {}
    for chat, at in await tg.ask("sends", since):
        if chat in chats and chat not in out:
            out[chat] = at
    return out


async def wait_arrivals(tg: RemoteTelegram, since: int, chats: set[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(await arrivals(tg, since, chats)) < len(chats):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every chat got its message within {timeout:.0f} s")
        await asyncio.sleep(0.5)


def ms(values: list[float], q: float) -> float:
    return round(percentile(values, q) * 1000, 1)


async def lone(h: Harness, tg: RemoteTelegram, config: Config) -> dict[str, Any]:
    chats = [LONE_CHAT + i for i in range(config.lone)]
    for i, chat in enumerate(chats):
        await add_alert(h, f"tg:{chat}", LONE_BASE + i)
    since = await tg.ask("count")
    fired: dict[int, float] = {}
    for i, chat in enumerate(chats):  # each tick crosses exactly one alert
        fired[chat] = await fire(h, LONE_BASE + i + 0.5)
        await asyncio.sleep(config.spacing_s)
    await wait_arrivals(tg, since, set(chats), timeout=60)
    got = await arrivals(tg, since, set(chats))
    latencies = [got[c] - fired[c] for c in chats]
    return {"alerts": len(chats), "p50_ms": ms(latencies, 50), "p99_ms": ms(latencies, 99),
            "max_ms": round(max(latencies) * 1000, 1)}  # fmt: skip


async def during_broadcast(h: Harness, tg: RemoteTelegram, config: Config) -> dict[str, Any]:
    subscribers = [SUBSCRIBER_CHAT + i for i in range(config.subscribers)]
    pipe = h.app.redis.pipeline(transaction=False)
    for chat in subscribers:
        pipe.sadd(h.app.keys.subscriptions(f"tg:{chat}"), "r2k")
        pipe.sadd(h.app.keys.subscribers("r2k"), f"tg:{chat}")
    await pipe.execute()
    personal = [PERSONAL_CHAT + i for i in range(config.personal)]
    for i, chat in enumerate(personal):
        await add_alert(h, f"tg:{chat}", PERSONAL_BASE + i)
    since = await tg.ask("count")
    signal = Signal("r2k", f"bench-{uuid.uuid4().hex[:6]}", "R2K record close", ["bench"])
    published_at = time.monotonic()
    await h.app.subscriptions.publish(signal, time.time())
    await asyncio.sleep(2.0)  # the broadcast is flowing
    fired: dict[int, float] = {}
    for i, chat in enumerate(personal):
        fired[chat] = await fire(h, PERSONAL_BASE + i + 0.5)
        await asyncio.sleep(config.personal_spacing_s)
    await wait_arrivals(tg, since, set(personal), timeout=60)
    await wait_arrivals(tg, since, set(subscribers), timeout=config.subscribers / 20 + 60)
    got = await arrivals(tg, since, set(personal))
    latencies = [got[c] - fired[c] for c in personal]
    broadcast = sorted((await arrivals(tg, since, set(subscribers))).values())
    span = broadcast[-1] - broadcast[0]
    return {
        "subscribers": len(subscribers), "personal_alerts": len(personal),
        "p50_ms": ms(latencies, 50), "p99_ms": ms(latencies, 99),
        "broadcast_msgs_per_s": round((len(broadcast) - 1) / span, 2) if span > 0 else None,
        "broadcast_seconds": round(broadcast[-1] - published_at, 1),
    }  # fmt: skip


async def outbox_length(h: Harness) -> int:
    return (await h.app.worker.depth())[0]


async def poison(h: Harness, tg: RemoteTelegram, config: Config) -> dict[str, Any]:
    await tg.ask("forbid_posting", POISON_GROUP)
    dead = h.app.worker.dead
    dead_before, baseline = await dead.count(), await outbox_length(h)
    for i in range(config.poison):
        await add_alert(h, f"tg:{POISON_GROUP}", PERSONAL_BASE * 10 + i * 1e-4)
    job = {"t": "signal", "chat": MISSING_TRANSPORT_CHAT, "title": "t", "body": "b", "at": "0"}
    pipe = h.app.redis.pipeline(transaction=False)
    for _ in range(config.poison):  # e.g. a Discord DM queued before its token was removed
        pipe.xadd(h.app.keys.outbox, job)
    await pipe.execute()
    started = time.monotonic()
    await fire(h, PERSONAL_BASE * 10 + 1)  # the group's 1,000 alerts fire at once
    settled: float | None = None
    while time.monotonic() - started < 90:
        buried = await dead.count() - dead_before
        if buried >= 2 * config.poison and await outbox_length(h) <= baseline + 1000:
            settled = time.monotonic() - started
            break
        await asyncio.sleep(0.5)
    letters = await dead.recent(2 * config.poison + 10)
    tries = [int(d["dead.tries"]) for d in letters]
    return {
        "jobs": 2 * config.poison, "dead_lettered": await dead.count() - dead_before,
        "attempts_max": max(tries, default=None), "settled_s": settled,
        "outbox_above_baseline": await outbox_length(h) - baseline,
    }  # fmt: skip


async def run(redis: Redis, config: Config) -> dict[str, Any]:
    prefix = f"bench-delivery-{uuid.uuid4().hex[:8]}"
    tg = RemoteTelegram()
    try:
        remote = await tg.start()
        async with telegram_app(redis, prefix, remote=remote) as h:
            gc.freeze()  # as `altbot run` does after start-up (bot/cli.py)
            h.app.worker.retry_backoff = config.retry_backoff
            result: dict[str, Any] = {"lone": await lone(h, tg, config)}
            result["broadcast"] = await during_broadcast(h, tg, config)
            result["poison"] = await poison(h, tg, config)
            result["too_many_requests"] = await tg.ask("too_many_requests")
    finally:
        gc.unfreeze()
        await tg.stop()
        await delete_prefix(redis, Keys(prefix))
    lone_r, bc, po = result["lone"], result["broadcast"], result["poison"]
    out: dict[str, Any] = {
        "lone_alert_p99_ms": lone_r["p99_ms"],
        "personal_during_broadcast_p99_ms": bc["p99_ms"],
        "poison_attempts_max": po["attempts_max"],
        "delivery_a_details": {**result, "config": asdict(config),
                               "machine": machine_facts(await redis.info("server"))},
    }  # fmt: skip
    out["delivery_a_details"]["key_prefix"] = prefix  # deleted above; a check can prove it
    out["delivery_a_targets"] = {
        "lone_alert_p99_ms": check(lone_r["p99_ms"], at_most=250),
        "personal_during_broadcast_p99_ms": check(bc["p99_ms"], at_most=2000),
        "broadcast_msgs_per_s": check(bc["broadcast_msgs_per_s"], at_least=27),
        "poison_attempts_max": check(po["attempts_max"], at_most=3),
        "poison_settled_s": check(po["settled_s"], at_most=60),
        "too_many_requests": check(result["too_many_requests"], at_most=0),
    }
    return out


def report(section: dict[str, Any]) -> str:
    targets = section["delivery_a_targets"]
    rows = [(name, t["value"], t["target"], t["pass"]) for name, t in targets.items()]
    return "delivery — lone alerts, personal during a broadcast, poison jobs\n" + table(
        ("metric", "value", "target", ""), rows
    )


def main(url: str, *, quick: bool, out: Path) -> int:
    """Run, print, merge the keys into results.json (a quick run never overwrites full ones)."""
    config = Config.quick() if quick else Config()
    section = NAME if not quick else f"{NAME}_quick"
    minutes = config.subscribers / 28 / 60 + 2
    print(f"delivery benchmark: {config.subscribers:,} subscribers (about {minutes:.0f} min)...",
          flush=True)  # fmt: skip
    result = asyncio.run(run_with_redis(url, lambda r: run(r, config)))
    merge_keys(section, result, out)
    print(report(result))
    print(f"\nwritten to {out} under {section!r}")
    return 0
