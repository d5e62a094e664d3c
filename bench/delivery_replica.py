"""One altbot replica as its own OS process, for the shared-budget benchmark.

The real App (delivery worker in the outbox consumer group, PTB transport, the token's
send budget in Redis) on the demo's replay feeds; only replica 0 long-polls Telegram,
as the leader would. Prints `ready` once started; SIGTERM stops it gracefully. With
`naive`, the replica keeps to the limits on its own only (the baseline: no shared budget).

    python -m bench.delivery_replica REDIS_URL PREFIX TELEGRAM_URL TOKEN INDEX [naive]
"""

from __future__ import annotations

import asyncio
import gc
import signal
import sys

from bot.app import App, connect_redis
from bot.config import Settings
from bot.feeds.replay import ReplayExchange, ReplayIndex, Scenario

TODAY = 1_764_000_000


async def serve(
    redis_url: str, prefix: str, tg_url: str, token: str, index: int, naive: bool
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, key_prefix=prefix, http_port=0, redis_url=redis_url,
        telegram_bot_token=token, telegram_api_url=tg_url, log_level="WARNING",
    )  # fmt: skip
    redis = connect_redis(redis_url)
    scenario = Scenario(today=TODAY)
    exchange = ReplayExchange(scenario)
    app = App(settings, redis, exchange, ReplayIndex(scenario, exchange), clock=exchange.clock)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await app.start(poll=False, http=False)
    if index != 0:  # one poller per token, as under leadership
        await app.telegram.stop_polling()
    if naive:
        app.telegram.limiter.budget = None
    gc.freeze()  # as `altbot run` does after start-up
    print("ready", flush=True)
    await stop.wait()
    await app.stop()
    await redis.aclose()


if __name__ == "__main__":
    url, key_prefix, api, bot_token, number = sys.argv[1:6]
    asyncio.run(serve(url, key_prefix, api, bot_token, int(number), "naive" in sys.argv[6:]))
