"""Sustained load (issue 8): a million alerts, a tick every 100 ms for 60 s, delivery running.

Each tick moves all 7 symbols by a random walk of σ 0.005% per 100 ms tick (about
4.6% a day, a volatile crypto day, so alerts really fire), evaluates them with the
real engine while a real
`DeliveryWorker` drains the outbox into a counting sink. Recorded: tick-to-enqueue
latency (all 7 evaluations of one tick, claims and outbox appends included),
outbox lag (jobs appended but not yet delivered), Redis memory, and CPU of this
process and of Redis over the run.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import time
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from alerts.domain.alert import Series
from alerts.domain.jobs import Job
from alerts.storage.engine import Engine
from alerts.storage.keys import Keys
from alerts.storage.outbox import DeliveryWorker
from bench import redis_memory as mem
from bench.engine_bench import DRAIN_POOL, roomy_client
from bench.population import MARKETS, Population, load, reserve_ids
from bench.results import check, machine_facts, percentile, table

NAME = "sustained"
TARGET_TICK_P99_MS = 100.0  # a tick must be evaluated before the next one arrives


@dataclass(frozen=True)
class Config:
    alerts: int = 1_000_000
    seconds: float = 60.0
    tick_interval: float = 0.1
    step_sigma: float = 0.00005
    seed: int = 8

    @classmethod
    def quick(cls) -> Config:
        return cls(alerts=100_000, seconds=10.0)


async def _redis_cpu(redis: Redis) -> float:
    info = await redis.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


async def run(redis: Redis, config: Config) -> dict[str, Any]:
    keys = Keys(f"benchs{uuid.uuid4().hex[:10]}")
    engine = Engine(redis, keys)
    worker_redis = roomy_client(redis, DRAIN_POOL)
    delivered = 0

    async def sink(chat: str, jobs: list[Job]) -> None:
        nonlocal delivered
        delivered += len(jobs)

    worker = DeliveryWorker(worker_redis, keys, sink)
    try:
        await mem.settle(redis)
        mem_before = await mem.used_memory(redis)
        pop = Population(config.seed)
        first = await reserve_ids(engine, config.alerts)
        await load(engine, pop.alerts(first, config.alerts))
        await worker.ensure_group()
        mem_loaded = await mem.used_memory(redis)
        rng = random.Random(config.seed)
        prices = {s: m[0] for s, m in MARKETS.items()}
        tick_ts = float(time.time())
        for symbol, price in prices.items():  # the first value only sets the baseline
            await engine.evaluate(symbol, Series.PRICE, price, tick_ts, int(tick_ts))
        drain = asyncio.create_task(worker.run(reclaim_every=5.0))
        latencies: list[float] = []
        lags: list[int] = []
        fired = 0
        cpu0, rcpu0 = resource.getrusage(resource.RUSAGE_SELF), await _redis_cpu(redis)
        wall0 = time.perf_counter()
        next_at = wall0
        while time.perf_counter() - wall0 < config.seconds:
            tick_ts += config.tick_interval
            start = time.perf_counter()
            for symbol in prices:
                prices[symbol] *= 1 + rng.gauss(0.0, config.step_sigma)
                fired += await engine.evaluate(
                    symbol, Series.PRICE, prices[symbol], tick_ts, int(time.time())
                )
            latencies.append((time.perf_counter() - start) * 1000)
            lags.append(fired - delivered)  # appended to the outbox, not yet delivered
            next_at += config.tick_interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        wall = time.perf_counter() - wall0
        cpu1, rcpu1 = resource.getrusage(resource.RUSAGE_SELF), await _redis_cpu(redis)
        settle_deadline = time.monotonic() + 60
        while delivered < fired and time.monotonic() < settle_deadline:
            await asyncio.sleep(0.05)
        worker.request_stop()
        await asyncio.wait_for(drain, 10)
        mem_after = await mem.used_memory(redis)
        p99 = percentile(latencies, 99)
        proc_cpu = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)
        return {
            "alerts": config.alerts,
            "seconds": round(wall, 1),
            "ticks": len(latencies),
            "tick_interval_ms": config.tick_interval * 1000,
            "fired": fired,
            "delivered": delivered,
            "tick_to_enqueue_ms_p50": round(percentile(latencies, 50), 3),
            "tick_to_enqueue_ms_p99": round(p99, 3),
            "tick_to_enqueue_ms_max": round(max(latencies), 3),
            "outbox_lag_max_jobs": max(lags, default=0),
            "outbox_lag_final_jobs": fired - delivered,
            "redis_memory_loaded_mb": round((mem_loaded - mem_before) / 2**20, 1),
            "redis_memory_growth_during_run_mb": round((mem_after - mem_loaded) / 2**20, 2),
            "cpu_bot_process_pct": round(100 * proc_cpu / wall, 1),
            "cpu_redis_pct": round(100 * (rcpu1 - rcpu0) / wall, 1),
            "checks": {"tick_to_enqueue_ms_p99": check(p99, at_most=TARGET_TICK_P99_MS)},
            "machine": machine_facts(await redis.info("server")),
            "loadavg_at_start": os.getloadavg(),
        }
    finally:
        await worker_redis.aclose()
        await mem.delete_prefix(redis, keys)


def report(section: dict[str, Any]) -> str:
    rows = [
        [k, section[k]]
        for k in (
            "alerts", "seconds", "ticks", "fired", "delivered", "tick_to_enqueue_ms_p50",
            "tick_to_enqueue_ms_p99", "tick_to_enqueue_ms_max", "outbox_lag_max_jobs",
            "outbox_lag_final_jobs", "redis_memory_loaded_mb", "redis_memory_growth_during_run_mb",
            "cpu_bot_process_pct", "cpu_redis_pct",
        )
    ]  # fmt: skip
    return "sustained load\n" + table(["metric", "value"], rows)
