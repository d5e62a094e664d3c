"""Telegram delivery benchmark: alerts through the real App to a fake Bot API that enforces limits.

1. flood: N alerts for N different private chats fire on one tick; the real
   `DeliveryWorker` and the real PTB transport (FloodLimiter) deliver them to
   `FakeTelegram(enforce_limits=True)`, which answers 429 above 30 msg/s overall,
   ~1 msg/s per chat or 20/min per group. Targets: >= 28 msg/s, zero 429s, every
   chat exactly one message.
2. burst: 300 alerts of one chat fire on one tick; they must arrive coalesced in a
   few messages, within limits, each alert listed once.

The fake Bot API runs in a child process (`bench/remote_telegram.py`): Telegram is
another machine, and an in-process fake's message log would stall the bot's loop in
garbage collection. Like `altbot run`, the bench freezes the start-up heap out of the
cyclic GC: a full collection over it stalls the loop for ~100 ms, and a send held up
that long lands next to its successors, which overflows a strict 30-per-second window.
"""

from __future__ import annotations

import asyncio
import gc
import re
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from alerts.domain.alert import Alert, AlertKind
from alerts.storage.engine import CREATED
from alerts.storage.keys import Keys
from bench.redis_memory import delete_prefix
from bench.redis_server import run_with_redis
from bench.remote_telegram import RemoteTelegram
from bench.results import check, machine_facts, merge_section, percentile, table, target_rows
from fakes.tg_harness import Harness, telegram_app

NAME = "telegram"
FULL_CHATS = 10_000
QUICK_CHATS = 600
TARGET_RATE = 28.0
MAX_BURST_MESSAGES = 5
FIRST_CHAT = 10_000_001
BURST_CHAT = 9_999_999
SYMBOL = "LINK/USDT"
HEADLINE = (
    "chats", "delivered", "msgs_per_s", "too_many_requests", "lost", "duplicated",
    "max_in_one_second", "latency_p50_s", "latency_p99_s", "burst_messages",
)  # fmt: skip
_COUNT = re.compile(r"(\d+) notifications")


@dataclass(frozen=True)
class Config:
    chats: int = FULL_CHATS
    burst: int = 300
    timeout_s: float = 900.0

    @classmethod
    def quick(cls) -> Config:
        return cls(chats=QUICK_CHATS, timeout_s=120.0)


async def add_alerts(h: Harness, chats: list[int], level: float, per_chat: int = 1) -> None:
    """Armed `above` alerts straight through the engine (no per-alert price check)."""
    engine, now = h.app.engine, int(time.time())
    sem = asyncio.Semaphore(50)  # under redis-py's pool of 100 connections

    async def one(chat: int, i: int) -> None:
        async with sem:
            alert = Alert(
                id=await engine.next_id(), chat=f"tg:{chat}", symbol=SYMBOL, kind=AlertKind.ABOVE,
                level=level + i * 1e-5, ref=9.2, created=now,
            )  # fmt: skip
            assert await engine.create(alert, quota=10_000) == CREATED

    await asyncio.gather(*(one(c, i) for c in chats for i in range(per_chat)))


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most messages inside any sliding window (what flood control counts)."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def flood(h: Harness, tg: RemoteTelegram, config: Config) -> dict[str, Any]:
    chats = list(range(FIRST_CHAT, FIRST_CHAT + config.chats))
    await add_alerts(h, chats, 9.5)
    before = await tg.ask("count")
    fired_at = time.monotonic()
    await h.price("LINK", 9.6)
    await tg.wait_for_count(before + config.chats, timeout=config.timeout_s)
    await asyncio.sleep(3.0)  # anything extra (a duplicate) would show up now
    sent: list[tuple[int, float]] = await tg.ask("sends", before)
    per_chat = Counter(chat for chat, _ in sent)
    times = sorted(t for _, t in sent)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    latencies = [t - fired_at for t in times]
    return {
        "chats": config.chats,
        "delivered": sum(per_chat[c] for c in chats),
        "msgs_per_s": round((len(times) - 1) / span, 2) if len(times) > 1 else None,
        "seconds": round(times[-1] - fired_at, 1),
        "lost": sum(1 for c in chats if per_chat[c] == 0),
        "duplicated": sum(per_chat[c] - 1 for c in chats if per_chat[c] > 1),
        # as logged once the fake handled each send (its admission check, which answers
        # 429, runs a moment earlier): a little noisier than the limit itself
        "max_in_one_second": max_in_window(times),
        "latency_p50_s": round(percentile(latencies, 50), 2),
        "latency_p99_s": round(percentile(latencies, 99), 2),
    }


def alerts_listed(texts: list[str]) -> int:
    """Alerts a chat was told about: `N notifications` titles, else one per message."""
    return sum(int(m.group(1)) if (m := _COUNT.search(t)) else 1 for t in texts)


async def burst(h: Harness, tg: RemoteTelegram, config: Config) -> dict[str, Any]:
    await add_alerts(h, [BURST_CHAT], 9.65, per_chat=config.burst)
    fired_at = time.monotonic()
    await h.price("LINK", 9.7)
    deadline = fired_at + 60
    while time.monotonic() < deadline:
        texts = [text for _, text in await tg.ask("texts", BURST_CHAT)]
        if alerts_listed(texts) >= config.burst:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(4.0)  # more than the coalescing gap: late extras would show
    messages: list[tuple[float, str]] = await tg.ask("texts", BURST_CHAT)
    times = [t for t, _ in messages]
    return {
        "alerts": config.burst,
        "messages": len(messages),
        "alerts_listed": alerts_listed([text for _, text in messages]),
        "seconds": round(times[-1] - fired_at, 2) if times else None,
        "min_gap_s": round(min(b - a for a, b in pairwise(times)), 2) if len(times) > 1 else None,
        "longest_chars": max((len(text) for _, text in messages), default=0),
    }


async def run(redis: Redis, config: Config) -> dict[str, Any]:
    prefix = f"bench-tg-{uuid.uuid4().hex[:8]}"
    tg = RemoteTelegram()
    try:
        remote = await tg.start()
        async with telegram_app(redis, prefix, remote=remote) as h:
            gc.freeze()  # as `altbot run` does after start-up (bot/cli.py)
            result = await flood(h, tg, config)
            result["burst"] = await burst(h, tg, config)
            result["too_many_requests"] = await tg.ask("too_many_requests")
            result["retry_afters_seen"] = h.app.telegram.limiter.retry_afters
            result["pending_after"] = (await h.app.worker.depth())[1]
    finally:
        gc.unfreeze()
        await tg.stop()
        await delete_prefix(redis, Keys(prefix))
    result["burst_messages"] = result["burst"]["messages"]
    result["key_prefix"] = prefix  # deleted above; kept so a check can prove it
    result["config"] = asdict(config)
    result["machine"] = machine_facts(await redis.info("server"))
    b = result["burst"]
    result["targets"] = {
        "msgs_per_s": check(result["msgs_per_s"], at_least=TARGET_RATE),
        "too_many_requests": check(result["too_many_requests"], at_most=0),
        "lost": check(result["lost"], at_most=0),
        "duplicated": check(result["duplicated"], at_most=0),
        "burst_messages": check(b["messages"], at_most=MAX_BURST_MESSAGES),
        "burst_alerts_listed": check(b["alerts_listed"], at_least=b["alerts"]),
    }
    return result


def report(section: dict[str, Any]) -> str:
    rows = target_rows(section, HEADLINE)
    b = section["burst"]
    return "\n".join(
        [
            f"telegram delivery — {section['chats']:,} chats at once, then "
            f"{b['alerts']} alerts for one chat (fake Bot API enforcing flood limits)",
            table(("metric", "value", "target", ""), rows),
            f"flood took {section['seconds']} s; burst: {b['messages']} messages listing "
            f"{b['alerts_listed']} alerts in {b['seconds']} s, min gap {b['min_gap_s']} s, "
            f"longest {b['longest_chars']} chars",
        ]
    )


def main(url: str, *, quick: bool, out: Path) -> int:
    """Run, print, merge into results.json (a quick run never overwrites full numbers)."""
    config = Config.quick() if quick else Config()
    section = NAME if config.chats == FULL_CHATS else f"{NAME}_quick"
    minutes = config.chats / TARGET_RATE / 60
    print(f"telegram benchmark: {config.chats:,} chats (about {minutes:.0f} min)...", flush=True)
    result = asyncio.run(run_with_redis(url, lambda r: run(r, config)))
    merge_section(section, result, out)
    print(report(result))
    print(f"\nwritten to {out} under {section!r}")
    return 0
