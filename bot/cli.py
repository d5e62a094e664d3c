"""The `altbot` command: run, demo (more subcommands join as features land)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
from typing import Any

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging

log = logging.getLogger("altbot")


async def run(settings: Settings) -> None:
    """Live mode: poll the real feeds, serve every transport whose token is set."""
    from bot.app import App, connect_redis, redis_answers
    from bot.feeds.index_feed import YahooIndexFeed
    from bot.sources import build_exchange, build_market_caps
    from handlers.console import ConsoleTransport

    redis = connect_redis(settings.redis_url.get_secret_value())
    if not await redis_answers(redis):
        raise ConfigError("REDIS_URL: no Redis answers there (start one, or fix the URL)")
    exchange = build_exchange(settings)
    index = YahooIndexFeed(settings.index_api_url)
    app = App(settings, redis, exchange, index, caps=build_market_caps(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await app.start()
    # The start-up heap (ccxt, PTB, ...) leaves the cyclic GC's view: a full collection then
    # takes a few ms instead of ~100 ms, and send pacing never stalls behind one.
    gc.freeze()
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


def add_backtest_parser(sub: Any) -> None:
    bt = sub.add_parser("backtest", help="R2K breakout backtest over exchange + index history")
    bt.add_argument("--json", action="store_true", help="print JSON instead of the table")
    bt.add_argument("--days", type=int, default=3000, help="days of crypto history (3000)")


async def backtest(settings: Settings, *, as_json: bool, days: int) -> int:
    """Load the history (cached in Redis for a day), run the backtest, print it."""
    from alerts.domain.backtest import run_backtest
    from alerts.domain.market import MarketError
    from alerts.storage.keys import Keys
    from alerts.storage.market_store import MarketStore
    from bot.app import connect_redis, in_process_redis, redis_answers
    from bot.feeds.history import load_history
    from bot.feeds.index_feed import YahooIndexFeed
    from bot.sources import build_exchange

    if days < 1:
        print("altbot: --days must be at least 1", file=sys.stderr)
        return 2
    redis = connect_redis(settings.redis_url.get_secret_value())
    if not await redis_answers(redis):
        await redis.aclose()
        print("altbot: no Redis at REDIS_URL, so nothing is cached", file=sys.stderr)
        redis = in_process_redis()
    exchange, index = build_exchange(settings), YahooIndexFeed(settings.index_api_url)
    store = MarketStore(redis, Keys(settings.key_prefix))
    symbols = settings.universe.coin_symbols
    try:
        history = await load_history(
            exchange, index, store, symbols, btc=f"BTC/{settings.quote}", days=days
        )
    except MarketError as exc:
        print(f"altbot: could not load the history: {exc}", file=sys.stderr)
        return 1
    finally:
        await exchange.close()
        await index.close()
        await redis.aclose()
    result = run_backtest(history)
    print(result.to_json() if as_json else result.table())
    return 0


def bench(settings: Settings, *, quick: bool) -> int:
    """`python -m bench` in the source checkout (bench/ is not an installed package)."""
    import os
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    if not (root / "bench" / "__main__.py").is_file():
        print("altbot: the benchmarks live in the source checkout (bench/)", file=sys.stderr)
        return 2
    env = {**os.environ, "REDIS_URL": settings.redis_url.get_secret_value()}
    argv = [sys.executable, "-m", "bench", *(["--quick"] if quick else [])]
    return subprocess.call(argv, cwd=root, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="altbot", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("run", help="run the bot on live data")
    demo = sub.add_parser("demo", help="offline replay with the console chat")
    demo.add_argument("--script", help="file of commands to run after the replay, then exit")
    demo.add_argument("--steps", type=int, default=24, help="polls to replay (default 24)")
    add_backtest_parser(sub)
    bench_cmd = sub.add_parser("bench", help="alert-engine benchmark on REDIS_URL (make bench)")
    bench_cmd.add_argument("--quick", action="store_true", help="100k alerts instead of 1M")
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
        elif args.cmd == "backtest":
            return asyncio.run(backtest(settings, as_json=args.json, days=args.days))
        elif args.cmd == "bench":
            return bench(settings, quick=args.quick)
    except ConfigError as exc:
        print(f"altbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
