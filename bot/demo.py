"""`altbot demo`: the bundled scenario replayed through the real poller, store and core.

No network and no tokens. Redis is used when one answers at REDIS_URL (under a
throwaway key prefix that is removed at exit); otherwise an in-process store is
used and the demo says that nothing persists.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from bot.app import App, connect_redis, in_process_redis, redis_answers
from bot.config import Settings
from bot.feeds.replay import (
    BREAKOUT_STEP,
    VOLUME_SPIKE_STEP,
    ReplayExchange,
    ReplayIndex,
    ReplayMarketCaps,
    Scenario,
)
from handlers.console import ConsoleTransport

SHOW_AT = {0, BREAKOUT_STEP, VOLUME_SPIKE_STEP}


async def _pick_store(settings: Settings, out: TextIO) -> tuple[Settings, App | None, object]:
    redis = connect_redis(settings.redis_url.get_secret_value())
    if await redis_answers(redis):
        prefix = f"altbot-demo-{os.getpid()}"
        print(f"Store: Redis at REDIS_URL (keys under {prefix}:*, removed at exit).", file=out)
        return settings.model_copy(update={"key_prefix": prefix}), None, redis
    await redis.aclose()
    print("Store: in-process (no Redis answered) — nothing persists after the demo.", file=out)
    return settings, None, in_process_redis()


async def run_demo(
    settings: Settings,
    *,
    script: list[str] | None = None,
    interactive: bool = True,
    out: TextIO = sys.stdout,
    steps: int = 24,
) -> App:
    """Replay the scenario, print the answers as it unfolds, then run commands."""
    import time

    scenario = Scenario(today=int(time.time()), steps=steps)
    exchange = ReplayExchange(scenario)
    index = ReplayIndex(scenario, exchange)
    print("altbot demo — a generated scenario, not market data. No network, no tokens.", file=out)
    settings, _, redis = await _pick_store(settings, out)
    caps = ReplayMarketCaps(scenario, exchange)
    app = App(settings, redis, exchange, index, clock=exchange.clock, caps=caps)  # type: ignore[arg-type]
    console = ConsoleTransport(app.core, out)
    app.dispatch.attach("console", console.push)
    await app.worker.ensure_group()
    try:
        await app.poller.run_index_once()
        await app.poller.refresh_history()
        await app.poller.run_exchange_once()
        if app.mcap_feed is not None:
            await app.mcap_feed.refresh_once()  # every 10 minutes live; once here
        console.show("/alert LINK above 9.5", await console.ask("/alert LINK above 9.5") or "")
        condition = "/alert LINK ema9 1h crosses below ema21"  # an indicator, on bar closes
        console.show(condition, await console.ask(condition) or "")
        await app.bars.run_once()  # its first value, from the last closed 1h bar
        console.show("/subscribe", await console.ask("/subscribe") or "")  # signals are pushed
        for step in range(steps + 1):
            if step:
                exchange.advance(settings.poll_interval_seconds)
                if step == BREAKOUT_STEP:
                    rows = await app.poller.run_index_once()
                    news = f"the R2K closes at a new record, {rows[-1].close:,.2f}"
                    print(f"--- poll {step}: {news} ---\n", file=out)
                if step == VOLUME_SPIKE_STEP:
                    news = "volume spikes across the watched coins"
                    print(f"--- poll {step}: {news} ---\n", file=out)
                await app.poller.run_exchange_once()
                await app.bars.run_once()
                await app.signals.run_once()  # the demo drives each loop by hand, once a poll
                await app.worker.run_once(block_ms=None)
            if step in SHOW_AT or step == steps:
                for line in ("/coin LINK", "/regime"):
                    console.show(line, await console.ask(line) or "")
        if script is not None:
            await console.run_lines(script)
        elif interactive:
            print("Type commands (/help lists them; /quit to leave).", file=out)
            await console.interactive()
    finally:
        await app.stop()
        if settings.key_prefix.startswith("altbot-demo-"):
            async for key in redis.scan_iter(match=f"{settings.key_prefix}:*"):  # type: ignore[attr-defined]
                await redis.delete(key)  # type: ignore[attr-defined]
        await redis.aclose()  # type: ignore[attr-defined]
    return app
