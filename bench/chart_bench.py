"""Chart benchmark: 20 chats ask `/chart LINK 1y` at the same moment.

The real App (command core, Redis chart cache, render process) over the demo
scenario's data; every chat has its own alert level on LINK, which used to be part
of the cache key (one render per chat). Renders are counted by the app's own
`altbot_chart_renders_total` metric. The naive baseline, measured in the same run,
renders each chat's chart in the same render process, as the old per-chat key did.
Writes `chart_*` keys of the `engine_cost` section (other benchmarks own its other keys).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bench.redis_memory import delete_prefix
from bench.redis_server import run_with_redis
from bench.results import check, machine_facts, merge_keys, percentile, table
from bot.app import App
from bot.config import Settings
from bot.feeds.replay import ReplayExchange, ReplayIndex, Scenario
from handlers.chat.charting import draw_levels, render_async, render_price_chart
from handlers.chat.reply import Request

NAME = "charts"
SECTION = "engine_cost"
CHATS = 20
SYMBOL = "LINK/USDT"
MAX_RENDERS = 2


def renders(app: App) -> int:
    return int(app.metrics.registry.get_sample_value("altbot_chart_renders_total") or 0)


async def run(redis: Redis, *, naive: bool = True) -> dict[str, Any]:
    prefix = f"benchchart{uuid.uuid4().hex[:8]}"
    scenario = Scenario(today=int(time.time()) // 86400 * 86400)
    exchange = ReplayExchange(scenario)
    settings = Settings(_env_file=None, key_prefix=prefix, http_port=0)  # type: ignore[call-arg]
    app = App(settings, redis, exchange, ReplayIndex(scenario, exchange), clock=exchange.clock)
    try:
        await app.poller.run_once()
        chats = [f"tg:{n}" for n in range(1, CHATS + 1)]
        for n, chat in enumerate(chats, 1):  # every chat its own level: the old cache key
            reply = await app.core.handle(Request(chat, chat, f"/alert LINK +{n}%"))
            assert reply is not None and reply.tone != "error", reply
        await app.core.handle(Request("tg:0", "tg:0", "/chart ADA 7d"))  # start the renderer
        before = renders(app)
        started = time.perf_counter()
        replies = await asyncio.gather(
            *(app.core.handle(Request(chat, chat, "/chart LINK 1y")) for chat in chats)
        )
        wall_ms = (time.perf_counter() - started) * 1000
        count = renders(app) - before
        ok = sum(1 for r in replies if r is not None and r.image is not None)
        result: dict[str, Any] = {
            "chart_renders_for_20": count,
            "chart_replies_with_image_for_20": ok,
            "chart_wall_ms_for_20": round(wall_ms, 1),
        }
        shared = await app.store.chart(next(iter(await _chart_names(app))))
        assert shared is not None
        levels = [(lv, label) for lv, label in await _levels(app, chats[0])]
        overlay = []
        for _ in range(20):
            t = time.perf_counter()
            await asyncio.to_thread(draw_levels, shared, levels)
            overlay.append((time.perf_counter() - t) * 1000)
        result["chart_overlay_ms_p50"] = round(percentile(overlay, 50), 2)
        if naive:
            candles = await app.store.daily(SYMBOL)
            t = time.perf_counter()
            for _ in chats:  # one render per chat, one after another in the render process
                await render_async(render_price_chart, SYMBOL, candles, range_days=365)
            naive_ms = (time.perf_counter() - t) * 1000
            result["chart_renders_for_20_naive"] = CHATS
            result["chart_wall_ms_for_20_naive"] = round(naive_ms, 1)
            result["chart_wall_speedup_vs_naive"] = round(naive_ms / wall_ms, 1)
        result["targets"] = {"chart_renders_for_20": check(count, at_most=MAX_RENDERS)}
        result["chart_machine"] = machine_facts(await redis.info("server"))
        return result
    finally:
        await app.stop()
        await delete_prefix(redis, app.keys)


async def _chart_names(app: App) -> list[str]:
    pattern = app.keys.chart(f"price:{SYMBOL}:1y:*")
    return [key.split(":chart:", 1)[1] async for key in app.redis.scan_iter(match=pattern)]


async def _levels(app: App, chat: str) -> list[tuple[float, str]]:
    return [(a.level, f"#{a.id}") for a in await app.alerts.list(chat)]


def report(result: dict[str, Any]) -> str:
    names = [k for k in result if k.startswith("chart_") and k != "chart_machine"]
    target = result["targets"]["chart_renders_for_20"]
    rows = [(k, result[k], target["target"] if k == "chart_renders_for_20" else "") for k in names]
    return table(("metric", "value", "target"), rows) + f"\npass: {target['pass']}"


def main(url: str, *, quick: bool, out: Path) -> int:
    """Run and merge the chart keys into `engine_cost` (quick: no naive baseline)."""
    print(f"chart benchmark: {CHATS} chats ask /chart LINK 1y at once...", flush=True)
    result = asyncio.run(run_with_redis(url, lambda r: run(r, naive=not quick)))
    section = SECTION if not quick else f"{SECTION}_quick"
    merge_keys(section, result, out)
    print(report(result))
    print(f"\nwritten to {out} under {section!r}")
    return 0
