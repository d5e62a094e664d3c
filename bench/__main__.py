"""`python -m bench`: run the benchmarks, print tables, merge results into bench/results.json."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path

from bench import (
    chart_bench,
    conditions_bench,
    delivery_bench,
    delivery_budget_bench,
    engine_bench,
    engine_cost_bench,
    realtime_bench,
    sustained_bench,
    telegram_bench,
    webhook_bench,
)
from bench.redis_server import deployed_redis, run_with_redis
from bench.results import RESULTS_PATH, merge_section

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def engine_config(args: argparse.Namespace) -> engine_bench.Config:
    config = engine_bench.Config.quick() if args.quick else engine_bench.Config()
    if args.alerts is not None:
        config = dataclasses.replace(config, alerts=args.alerts)
    return config


def run_sustained(url: str, *, quick: bool, out: Path) -> int:
    """Issue 8's sustained load, against the same deploy-configured Redis."""
    config = sustained_bench.Config.quick() if quick else sustained_bench.Config()
    print(
        f"sustained load: {config.alerts:,} alerts, {config.seconds:.0f} s of ticks...", flush=True
    )

    with deployed_redis(url) as (sustained_url, redis_config):
        result = asyncio.run(
            run_with_redis(sustained_url, lambda r: sustained_bench.run(r, config))
        )
    result["redis_config"] = redis_config
    merge_section("sustained" if not quick else "sustained_quick", result, out)
    print(sustained_bench.report(result))
    return 0


def run_engine_cost(url: str, *, quick: bool, out: Path) -> int:
    """Issue 14's engine cost (moves flat in sizes, bounded history), deploy-configured Redis."""
    config = engine_cost_bench.Config.quick() if quick else engine_cost_bench.Config()
    print(f"engine cost: {config.alerts:,} alerts, sizes {config.sizes}...", flush=True)
    with deployed_redis(url) as (cost_url, redis_config):
        result = asyncio.run(run_with_redis(cost_url, lambda r: engine_cost_bench.run(r, config)))
    result["redis_config"] = redis_config
    section = engine_cost_bench.NAME + ("_quick" if quick else "")
    # Other parts of issue 14 (chart renders) record their keys in this section too: keep them.
    data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    previous = data.get(section, {}) if isinstance(data, dict) else {}
    result["targets"] = previous.get("targets", {}) | result["targets"]
    result["all_targets_pass"] = all(t["pass"] for t in result["targets"].values())
    merge_section(section, previous | result, out)
    print(engine_cost_bench.report(result))
    print(f"\nwritten to {out} under {section!r}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="smoke size (100k alerts, fewer ticks)"
    )
    parser.add_argument("--alerts", type=int, help="number of alerts (default 1,000,000)")
    parser.add_argument(
        "--only",
        choices=[
            engine_bench.NAME,
            sustained_bench.NAME,
            telegram_bench.NAME,
            realtime_bench.NAME,
            chart_bench.NAME,
            engine_cost_bench.NAME,
            delivery_budget_bench.NAME,
            delivery_bench.NAME,
            conditions_bench.NAME,
            webhook_bench.NAME,
        ],
        help="run one benchmark",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_PATH, help="results file to merge into")
    args = parser.parse_args(argv)
    url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    if args.only == telegram_bench.NAME:
        return telegram_bench.main(url, quick=args.quick, out=args.out)
    if args.only == sustained_bench.NAME:
        return run_sustained(url, quick=args.quick, out=args.out)
    if args.only == realtime_bench.NAME:
        return realtime_bench.main(url, quick=args.quick, out=args.out)
    if args.only == chart_bench.NAME:
        return chart_bench.main(url, quick=args.quick, out=args.out)
    if args.only == engine_cost_bench.NAME:
        return run_engine_cost(url, quick=args.quick, out=args.out)
    if args.only == delivery_budget_bench.NAME:
        return delivery_budget_bench.main(url, quick=args.quick, out=args.out)
    if args.only == delivery_bench.NAME:
        return delivery_bench.main(url, quick=args.quick, out=args.out)
    if args.only == conditions_bench.NAME:
        return conditions_bench.main(url, quick=args.quick, out=args.out)
    if args.only == webhook_bench.NAME:
        return webhook_bench.main(url, quick=args.quick, out=args.out)
    config = engine_config(args)
    # A smaller run never overwrites the full-size numbers.
    section = "engine" if config.alerts == engine_bench.FULL_ALERTS else "engine_quick"
    print(
        f"engine benchmark: {config.alerts:,} alerts (this takes a while at full size)...",
        flush=True,
    )
    with deployed_redis(url) as (engine_url, redis_config):
        print(f"engine benchmark against {redis_config}", flush=True)
        result = asyncio.run(run_with_redis(engine_url, lambda r: engine_bench.run(r, config)))
    result["redis_config"] = redis_config
    merge_section(section, result, args.out)
    print(engine_bench.report(result))
    print(f"\nwritten to {args.out} under {section!r}")
    if args.only is None:
        run_engine_cost(url, quick=args.quick, out=args.out)
        run_sustained(url, quick=args.quick, out=args.out)
        telegram_bench.main(url, quick=args.quick, out=args.out)
        realtime_bench.main(url, quick=args.quick, out=args.out)
        chart_bench.main(url, quick=args.quick, out=args.out)
        delivery_budget_bench.main(url, quick=args.quick, out=args.out)
        delivery_bench.main(url, quick=args.quick, out=args.out)
        conditions_bench.main(url, quick=args.quick, out=args.out)
        webhook_bench.main(url, quick=args.quick, out=args.out)
    return 0  # a missed target is reported (FAIL rows), not an error of the run


if __name__ == "__main__":
    sys.exit(main())
