"""The `altbot` command: run, demo (more subcommands join as features land)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging

log = logging.getLogger("altbot")


async def run(settings: Settings) -> None:
    """Live mode: poll the real feeds, serve every transport whose token is set."""
    from bot.app import App, connect_redis, redis_answers
    from bot.exchange import build_exchange
    from bot.index_feed import YahooIndexFeed
    from handlers.console import ConsoleTransport

    redis = connect_redis(settings.redis_url.get_secret_value())
    if not await redis_answers(redis):
        raise ConfigError("REDIS_URL: no Redis answers there (start one, or fix the URL)")
    exchange = build_exchange(settings)
    index = YahooIndexFeed(settings.index_api_url)
    app = App(settings, redis, exchange, index)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await app.start()
    log.info("altbot running; health on :%s", app.health.bound_port)
    try:
        if settings.telegram_bot_token is None and settings.discord_bot_token is None:
            print("No chat token set: console mode on live data (/quit to stop).")
            console = ConsoleTransport(app.core)
            done = asyncio.create_task(console.interactive())
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait({done, waiter}, return_when=asyncio.FIRST_COMPLETED)
            for task in (done, waiter):
                task.cancel()
        else:
            await stop.wait()
    finally:
        log.info("shutting down")
        await app.stop()
        await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="altbot", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="run the bot on live data")
    demo = sub.add_parser("demo", help="offline replay with the console chat")
    demo.add_argument("--script", help="file of commands to run after the replay, then exit")
    demo.add_argument("--steps", type=int, default=24, help="polls to replay (default 24)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"altbot: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format, settings.secrets())
    try:
        if args.cmd == "run":
            asyncio.run(run(settings))
        elif args.cmd == "demo":
            from bot.demo import run_demo

            if args.cmd == "demo" and settings.log_level == "INFO":
                logging.getLogger().setLevel(logging.WARNING)
            script = None
            if args.script:
                with open(args.script, encoding="utf-8") as fh:
                    script = fh.read().splitlines()
            elif not sys.stdin.isatty():
                script = sys.stdin.read().splitlines()
            asyncio.run(run_demo(settings, script=script, steps=args.steps))
    except ConfigError as exc:
        print(f"altbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
