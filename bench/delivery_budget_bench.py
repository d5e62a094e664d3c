"""Delivery under load (issue 13, this half): `python -m bench --only delivery_budget`.

1. replicas: three replica processes (bench/delivery_replica.py, real OS processes) share
   one bot token against a fake Bot API in a fourth process that answers 429 over 30
   msg/s; a signal fans out to N subscribers. Targets: 0 × 429, aggregate >= 27 msg/s,
   every chat exactly one message. Baseline in the same run: the same three replicas
   limiting locally only (each within the budget on its own), on fewer messages.
2. flood: one chat sends 60 × /coin LINK, then another chat sends /help; repeated for
   ROUNDS other chats. Target: the other chat's reply p99 <= 1 s.
3. burst: 300 chats send `/alert BCH above 490` in the same moment while the real poller
   runs at POLL_INTERVAL_SECONDS=0.5 (ccxt's throttle makes it ~0.8 s). Targets: 0 "no
   fresh price" refusals; the first poll after BCH crosses 490 fires every created alert.

Keys are merged into the `delivery` section (another benchmark writes other keys of it).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from alerts.domain.chat import COMMANDS_PER_MINUTE
from alerts.storage.keys import Keys
from alerts.storage.subscriptions import Signal, Subscriptions
from bench.redis_memory import delete_prefix
from bench.redis_server import run_with_redis
from bench.remote_telegram import RemoteTelegram
from bench.results import check, machine_facts, merge_section, percentile, table
from bench.telegram_bench import max_in_window
from bot.feeds.poller import TickBatch
from fakes.tg_harness import Harness, telegram_app

NAME = "delivery_budget"
SECTION = "delivery"
REPLICAS = 3
FULL_MESSAGES, QUICK_MESSAGES, NAIVE_MESSAGES = 10_000, 600, 600
FLOOD, ROUNDS, QUICK_ROUNDS = 60, 30, 10
BURST_CHATS = 300
FIRST_CHAT = 20_000_001
FLOOD_CHAT = 19_999_999


def _spawn(
    url: str, prefix: str, tg: tuple[str, str], index: int, log: Path, naive: bool
) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "bench.delivery_replica", url, prefix, *tg, str(index)]
    cmd += ["naive"] if naive else []
    with log.open("a") as err:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)


async def replicas(redis: Redis, url: str, messages: int, *, naive: bool = False) -> dict[str, Any]:
    """N subscribers, one signal, three replica processes delivering it on one token."""
    prefix = f"bench-dlv-{uuid.uuid4().hex[:8]}"
    keys = Keys(prefix)
    subs = Subscriptions(redis, keys)
    chats = list(range(FIRST_CHAT, FIRST_CHAT + messages))
    sem = asyncio.Semaphore(50)

    async def subscribe(chat: int) -> None:
        async with sem:
            await subs.subscribe(f"tg:{chat}", ["r2k"])

    await asyncio.gather(*(subscribe(c) for c in chats))
    tg = RemoteTelegram()
    procs: list[subprocess.Popen[str]] = []
    log = Path(tempfile.mkdtemp(prefix="altbot-bench-")) / "replicas.log"
    try:
        remote = await tg.start()
        procs = [_spawn(url, prefix, remote, i, log, naive) for i in range(REPLICAS)]
        for proc in procs:  # each says `ready` once its App runs
            line = await asyncio.to_thread(proc.stdout.readline) if proc.stdout else ""
            if line.strip() != "ready":
                raise RuntimeError(f"a replica did not start; see {log}")
        before = await tg.ask("count")
        published_at = time.monotonic()
        signal = Signal("r2k", f"bench-{prefix}", "Bench signal", ["One message per chat."])
        assert await subs.publish(signal, time.time()) == messages
        await tg.wait_for_count(before + messages, timeout=messages / 20 + 120)
        await asyncio.sleep(3.0)  # a duplicate would arrive now
        sent: list[tuple[int, float]] = await tg.ask("sends", before)
        too_many = await tg.ask("too_many_requests")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            await asyncio.to_thread(proc.wait, 30)
        await tg.stop()
        await delete_prefix(redis, keys)
    per_chat = Counter(chat for chat, _ in sent)
    times = sorted(t for _, t in sent)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    return {
        "replicas": REPLICAS,
        "replicas_messages": messages,
        "replicas_msgs_per_s": round((len(times) - 1) / span, 2) if len(times) > 1 else None,
        "replicas_429": too_many,
        "replicas_lost": sum(1 for c in chats if per_chat[c] == 0),
        "replicas_duplicated": sum(per_chat[c] - 1 for c in chats if per_chat[c] > 1),
        "replicas_max_in_one_second": max_in_window(times),
        "replicas_seconds": round(times[-1] - published_at, 1) if times else None,
    }


async def flood(h: Harness, rounds: int) -> dict[str, Any]:
    """Another chat's /help while one chat floods: latency command → Bot API."""
    latencies = []
    for n in range(rounds):
        for _ in range(FLOOD):
            h.tg.push_command(FLOOD_CHAT, "/coin LINK")
        other = FIRST_CHAT + n
        pushed = time.monotonic()
        h.tg.push_command(other, "/help")
        await h.tg.wait_for(1, chat_id=other, timeout=60)
        latencies.append(h.tg.messages_to(other)[0].time - pushed)
    answered = COMMANDS_PER_MINUTE + 1  # the window's answers and its one refusal
    await h.tg.wait_for(answered, chat_id=FLOOD_CHAT, timeout=answered + 30)
    await asyncio.sleep(3.0)  # a second refusal would arrive now
    texts = h.tg.texts_to(FLOOD_CHAT)
    return {
        "flood_rounds": rounds,
        "flood_other_chat_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "flood_other_chat_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "flood_refusals_sent": sum("Slow down" in t for t in texts),
        "flood_flooder_messages": len(texts),
    }


async def burst(h: Harness) -> dict[str, Any]:
    """300 chats create an alert at once while the real poller runs at a 0.5 s interval."""
    polls: list[tuple[float, int]] = []  # (poll time, alerts fired so far)
    fired = h.app.metrics.alerts_fired

    async def observe(batch: TickBatch) -> None:
        polls.append((batch.fetched_at, int(fired._value.get())))

    h.app.poller.listeners.append(observe)  # after the engine: counts what this poll fired
    h.binance.set_price("BCH/USDT", 480.0)
    poller = asyncio.create_task(h.app.poller.run())
    try:
        await asyncio.sleep(2.0)
        chats = [FIRST_CHAT + 1000 + i for i in range(BURST_CHATS)]
        started = len(polls)
        for chat in chats:
            h.tg.push_command(chat, "/alert BCH above 490")
        await h.tg.wait_for(lambda _: all(h.tg.texts_to(c) for c in chats), timeout=120)
        during = polls[started:]
        replies = [h.tg.texts_to(c)[0] for c in chats]
        created = sum("set" in r and "Alert #" in r for r in replies)
        base = polls[-1][1]
        crossed_from = len(polls)
        h.binance.set_price("BCH/USDT", 491.0)
        while len(polls) <= crossed_from:
            await asyncio.sleep(0.05)
        first_after = polls[crossed_from][1] - base
    finally:
        poller.cancel()
        await asyncio.gather(poller, return_exceptions=True)
    gaps = [b[0] - a[0] for a, b in pairwise(during)]
    return {
        "burst_chats": BURST_CHATS,
        "burst_created": created,
        "burst_stale_refusals": sum("No fresh price" in r for r in replies),
        "burst_fired_on_next_poll": first_after,
        "burst_poll_gap_max_s": round(max(gaps), 2) if gaps else None,
        "burst_poll_period_s": h.app.freshness.poll_period,
    }


async def run(redis: Redis, url: str, quick: bool) -> dict[str, Any]:
    naive = await replicas(redis, url, NAIVE_MESSAGES, naive=True)
    result = await replicas(redis, url, QUICK_MESSAGES if quick else FULL_MESSAGES)
    result.update({f"naive_{k}": v for k, v in naive.items() if k != "replicas"})
    prefix = f"bench-dlv-{uuid.uuid4().hex[:8]}"
    try:
        async with telegram_app(redis, prefix, enforce_limits=True, poll_interval_seconds=0.5) as h:
            result.update(await flood(h, QUICK_ROUNDS if quick else ROUNDS))
            result.update(await burst(h))
    finally:
        await delete_prefix(redis, Keys(prefix))
    result["delivery_budget_machine"] = machine_facts(await redis.info("server"))
    result["delivery_budget_targets"] = {
        "replicas_429": check(result["replicas_429"], at_most=0),
        "replicas_msgs_per_s": check(result["replicas_msgs_per_s"], at_least=27),
        "replicas_lost": check(result["replicas_lost"], at_most=0),
        "replicas_duplicated": check(result["replicas_duplicated"], at_most=0),
        "flood_other_chat_p99_ms": check(result["flood_other_chat_p99_ms"], at_most=1000),
        "flood_refusals_sent": check(result["flood_refusals_sent"], at_most=1),
        "flood_flooder_messages": check(
            result["flood_flooder_messages"], at_most=COMMANDS_PER_MINUTE + 1
        ),
        "burst_stale_refusals": check(result["burst_stale_refusals"], at_most=0),
        "burst_fired_on_next_poll": check(
            result["burst_fired_on_next_poll"], at_least=result["burst_created"]
        ),
    }
    return result


def merge_keys(section: str, values: dict[str, Any], out: Path) -> None:
    """Update this benchmark's keys of a section, keeping the keys others wrote there."""
    data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    merge_section(section, {**data.get(section, {}), **values}, out)


def report(result: dict[str, Any]) -> str:
    targets = result["delivery_budget_targets"]
    rows = [(k, result[k], v["target"], v["pass"]) for k, v in targets.items()]
    extra = (
        "replicas_max_in_one_second", "naive_replicas_429", "naive_replicas_msgs_per_s",
        "flood_other_chat_p50_ms", "burst_poll_gap_max_s",
    )  # fmt: skip
    return (
        table(("metric", "value", "target", ""), rows)
        + "\n"
        + ", ".join(f"{k} {result[k]}" for k in extra)
    )


def main(url: str, *, quick: bool, out: Path) -> int:
    section = SECTION if not quick else f"{SECTION}_quick"
    size = QUICK_MESSAGES if quick else FULL_MESSAGES
    print(f"delivery budget benchmark: {size:,} messages over {REPLICAS} replicas...", flush=True)
    result = asyncio.run(run_with_redis(url, lambda r: run(r, url, quick)))
    merge_keys(section, result, out)
    print(report(result))
    print(f"\nwritten to {out} under {section!r}")
    return 0
