"""The alert-engine benchmark (issue 4): a million alerts in the real Redis, the real engine.

Phases, all under one throwaway key prefix that is deleted at the end:
1. load the population with the engine's create script, pipelined (creation rate);
2. memory: `INFO memory` delta per alert, plus exact MEMORY USAGE of the prefix by key kind;
3. quiet ticks: per symbol, back and forth inside a gap of the level indexes (verified
   empty with ZCOUNT), timing `Engine.evaluate` from the client;
4. the naive baseline on the same kind of tick: read every alert record and compare;
5. fire rounds: N alerts inside a band of that gap, one tick across it (the naive scan
   is the oracle for how many must fire);
6. drain the outbox with the real `DeliveryWorker` into a counting sink.
"""

from __future__ import annotations

import gc
import os
import time
import uuid
from dataclasses import asdict, dataclass
from statistics import median
from typing import Any

from redis.asyncio import Redis

from alerts.domain.alert import Alert, AlertKind, AlertState, Direction, Series
from alerts.domain.jobs import Job
from alerts.storage.engine import Engine
from alerts.storage.keys import BUCKET_SHIFT, Keys
from alerts.storage.outbox import DeliveryWorker
from bench import redis_memory as mem
from bench.population import MARKETS, Population, load, reserve_ids
from bench.results import check, machine_facts, percentile, table, target_rows

NAME = "engine"
FULL_ALERTS = 1_000_000
QUICK_ALERTS = 100_000
TARGET_BYTES_PER_ALERT = 250
TARGET_NOFIRE_MS = 1.0
TARGET_SPEEDUP = 1000
TARGET_FIRE_MS = 200
DRAIN_POOL = 1024
HEADLINE = (
    "alerts", "bytes_per_alert", "nofire_tick_ms_p50", "nofire_tick_ms_p99",
    "naive_scan_ms_p50", "speedup", "fire10k_ms", "create_per_s", "drain_per_s",
)  # fmt: skip


def _kinds(test: Any) -> frozenset[str]:
    return frozenset(k for k in AlertKind if test(Alert(0, "", "", k, 0.0, 0.0, 0)))


# Crossing kinds and their directions, from the model (not restated here).
PRICE_KINDS = _kinds(lambda a: a.series == Series.PRICE and a.kind is not AlertKind.MOVE)
DOWN_KINDS = _kinds(lambda a: a.direction == Direction.DOWN)


@dataclass(frozen=True, slots=True)
class Config:
    alerts: int = FULL_ALERTS
    ticks: int = 1000  # quiet ticks per symbol
    naive_ticks: int = 3
    fire_size: int = 10_000
    fire_rounds: int = 3
    batch: int = 5000
    seed: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.fire_rounds <= len(MARKETS):
            raise ValueError(f"fire_rounds must be 1..{len(MARKETS)} (one symbol per round)")

    @classmethod
    def quick(cls) -> Config:
        return cls(alerts=QUICK_ALERTS, ticks=300, fire_rounds=1)


class BenchError(RuntimeError):
    """A premise of the benchmark failed (e.g. a tick meant to be quiet would fire)."""


@dataclass(frozen=True, slots=True)
class Gap:
    """An open price interval with no alert level in it (either index)."""

    lo: float
    hi: float

    def at(self, x: float) -> float:
        return self.lo + (self.hi - self.lo) * x


async def quiet_gap(redis: Redis, keys: Keys, symbol: str, price: float) -> Gap:
    """The nearest levels below and above `price` over both indexes."""
    below: list[float] = []
    above: list[float] = []
    for direction in (Direction.UP, Direction.DOWN):
        index = keys.index(symbol, Series.PRICE, direction)
        low = await redis.zrevrangebyscore(index, price, "-inf", start=0, num=1, withscores=True)
        high = await redis.zrangebyscore(
            index, f"({price!r}", "+inf", start=0, num=1, withscores=True
        )
        below += [float(pair[1]) for pair in low]
        above += [float(pair[1]) for pair in high]
    return Gap(max(below, default=price * 0.99), min(above, default=price * 1.01))


async def naive_scan(
    redis: Redis, keys: Keys, symbol: str, prev: float, new: float, max_id: int, batch: int = 256
) -> int:
    """The baseline: read every alert record and compare prev/new price in Python."""
    fired = 0
    up = new > prev
    for start in range(0, (max_id >> BUCKET_SHIFT) + 1, batch):
        pipe = redis.pipeline(transaction=False)
        for b in range(start, min(start + batch, (max_id >> BUCKET_SHIFT) + 1)):
            pipe.hgetall(keys.bucket(b << BUCKET_SHIFT))
        for bucket in await pipe.execute():
            for record in bucket.values():
                f = record.split("|")
                if f[1] != symbol or f[11] != AlertState.ARMED or f[2] not in PRICE_KINDS:
                    continue
                level = float(f[3])
                if (f[2] in DOWN_KINDS) != up and (
                    prev < level <= new if up else new <= level < prev
                ):
                    fired += 1
    return fired


def roomy_client(redis: Redis, max_connections: int) -> Redis:
    """A client with the same connection settings and a larger connection pool."""
    pool = redis.connection_pool
    kwargs = dict(pool.connection_kwargs)
    return Redis(
        connection_pool=type(pool)(
            connection_class=pool.connection_class, max_connections=max_connections, **kwargs
        )
    )


def _stats(samples: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(samples, 50), 4),
        "p99": round(percentile(samples, 99), 4),
        "max": round(max(samples), 4),
        "n": len(samples),
    }


class EngineBench:
    """One run of every phase; `run()` always deletes the prefix's keys."""

    def __init__(self, redis: Redis, config: Config, prefix: str | None = None) -> None:
        self.redis = redis
        self.config = config
        self.keys = Keys(prefix or f"bench{uuid.uuid4().hex[:10]}")
        self.engine = Engine(redis, self.keys)
        self.pop = Population(config.seed)
        # The worker fans out one Redis call per chat of a read (up to `batch` at once),
        # beyond redis-py's default pool of 100: give it a pool that cannot run dry.
        self.worker_redis = roomy_client(redis, DRAIN_POOL)
        self.worker = DeliveryWorker(self.worker_redis, self.keys, self._sink)
        self.sunk = 0
        self.gaps: dict[str, Gap] = {}
        self.last: dict[str, float] = {}
        self._tick = float(self.pop.now)

    async def _sink(self, chat: str, jobs: list[Job]) -> None:
        self.sunk += len(jobs)

    def next_tick(self) -> float:
        self._tick += 1.0
        return self._tick

    async def _evaluate(self, symbol: str, value: float) -> tuple[float, int]:
        """Client wall time (ms) of one `Engine.evaluate` and the number fired."""
        tick, now = self.next_tick(), int(time.time())
        start = time.perf_counter()
        fired = await self.engine.evaluate(symbol, Series.PRICE, value, tick, now)
        elapsed = (time.perf_counter() - start) * 1000
        self.last[symbol] = value
        return elapsed, fired

    async def run(self) -> dict[str, Any]:
        try:
            return await self._run()
        finally:
            await self.worker_redis.aclose()
            await mem.delete_prefix(self.redis, self.keys)

    async def _run(self) -> dict[str, Any]:
        cfg = self.config
        info = await self.redis.info("server")
        load_start = os.getloadavg()  # other work on the machine shows up in the timings
        await mem.settle(self.redis)
        before = await mem.used_memory(self.redis)
        first = await reserve_ids(self.engine, cfg.alerts)
        loaded = await load(self.engine, self.pop.alerts(first, cfg.alerts), batch=cfg.batch)
        if loaded.refused:
            raise BenchError(f"{loaded.refused} alerts refused while loading (quota?)")
        await mem.settle(self.redis)
        delta = await mem.used_memory(self.redis) - before
        memory = await self.memory(delta, first + cfg.alerts - 1)
        nofire = await self.nofire()
        naive = await self.naive(first + cfg.alerts - 1)
        fire = await self.fire()
        drain = await self.drain(sum(r["jobs_appended"] for r in fire))
        p50, p99 = nofire["all"]["p50"], nofire["all"]["p99"]
        naive_p50 = naive["p50"]
        fire_ms = round(median(r["ms"] for r in fire), 2)
        section: dict[str, Any] = {
            "alerts": cfg.alerts,
            "bytes_per_alert": memory["info_bytes_per_alert"],
            "nofire_tick_ms_p50": p50,
            "nofire_tick_ms_p99": p99,
            "naive_scan_ms_p50": naive_p50,
            "speedup": round(naive_p50 / p50) if p50 else None,
            "fire10k_ms": fire_ms,
            "create_per_s": round(loaded.per_second),
            "drain_per_s": drain["per_s"],
        }
        section["targets"] = {
            "bytes_per_alert": check(section["bytes_per_alert"], at_most=TARGET_BYTES_PER_ALERT),
            "nofire_tick_ms_p50": check(p50, at_most=TARGET_NOFIRE_MS),
            "nofire_tick_ms_p99": check(p99, at_most=TARGET_NOFIRE_MS),
            "speedup": check(section["speedup"], at_least=TARGET_SPEEDUP),
            "fire10k_ms": check(fire_ms, at_most=TARGET_FIRE_MS),
        }
        section["all_targets_pass"] = all(t["pass"] for t in section["targets"].values())
        section["machine"] = machine_facts(info) | {
            "redis_config": await mem.server_config(self.redis),
            "loadavg_start": [round(x, 2) for x in load_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        }
        section["config"] = asdict(cfg) | {"chats": self.pop.chats_made, "prefix": self.keys.prefix}
        section["load"] = {"created": loaded.created, "seconds": round(loaded.seconds, 2)}
        section["memory"] = memory
        section["nofire"] = nofire
        section["naive"] = naive
        section["fire_rounds"] = fire
        section["drain"] = drain
        return section

    async def memory(self, delta: int, max_id: int) -> dict[str, Any]:
        cfg = self.config
        limit = int((await mem.server_config(self.redis)).get("hash-max-listpack-value", 64))
        symbol = next(iter(MARKETS))
        samples = [
            self.keys.bucket(0),
            self.keys.index(symbol, Series.PRICE, Direction.UP),
            self.keys.index(symbol, Series.PRICE, Direction.DOWN),
        ]
        return {
            "info_used_memory_delta": delta,
            "info_bytes_per_alert": round(delta / cfg.alerts, 1),
            "keyspace": await mem.keyspace(self.redis, self.keys, cfg.alerts),
            "records": await mem.record_sizes(self.redis, self.keys, max_id, limit, seed=cfg.seed),
            "samples": await mem.sample_usage(self.redis, samples),
        }

    async def nofire(self) -> dict[str, Any]:
        """Ticks inside a verified-empty gap: back and forth, every one really evaluated."""
        for symbol, (price, _, _) in MARKETS.items():
            gap = await quiet_gap(self.redis, self.keys, symbol, price)
            for direction in (Direction.UP, Direction.DOWN):
                index = self.keys.index(symbol, Series.PRICE, direction)
                if await self.redis.zcount(index, f"({gap.lo!r}", f"({gap.hi!r}"):
                    raise BenchError(f"{symbol}: levels inside the quiet gap {gap}")
            self.gaps[symbol] = gap
            await self._evaluate(symbol, gap.at(0.45))  # first value: nothing to compare yet
        samples: dict[str, list[float]] = {s: [] for s in MARKETS}
        evaluated = self.engine.evaluations
        gc.collect()
        for i in range(self.config.ticks):
            for symbol, gap in self.gaps.items():
                ms, fired = await self._evaluate(symbol, gap.at(0.55 if i % 2 == 0 else 0.45))
                if fired:
                    raise BenchError(f"{symbol}: a quiet tick fired {fired} alerts")
                samples[symbol].append(ms)
        if self.engine.evaluations - evaluated != self.config.ticks * len(MARKETS):
            raise BenchError("some quiet ticks were skipped instead of evaluated")
        if await self.redis.xlen(self.keys.outbox):
            raise BenchError("quiet ticks appended delivery jobs")
        pooled = [ms for values in samples.values() for ms in values]
        out: dict[str, Any] = {
            s: _stats(v) | {"gap": [self.gaps[s].lo, self.gaps[s].hi]} for s, v in samples.items()
        }
        return {"all": _stats(pooled), "per_symbol": out}

    async def naive(self, max_id: int) -> dict[str, Any]:
        """The full scan on the same quiet moves (read-only: it never claims)."""
        times: list[float] = []
        symbols = list(self.gaps)
        for i in range(self.config.naive_ticks):
            symbol = symbols[i % len(symbols)]
            gap, prev = self.gaps[symbol], self.last[symbol]
            new = gap.at(0.45) if prev > gap.at(0.5) else gap.at(0.55)
            start = time.perf_counter()
            fired = await naive_scan(self.redis, self.keys, symbol, prev, new, max_id)
            times.append((time.perf_counter() - start) * 1000)
            if fired:
                raise BenchError(f"{symbol}: the naive scan says a quiet tick fires {fired}")
        return {"p50": round(median(times), 2), "ms": [round(t, 2) for t in times]}

    async def fire(self) -> list[dict[str, Any]]:
        """Per round: a band of alerts inside a quiet gap, then one tick across the band."""
        cfg = self.config
        await self.worker.ensure_group()
        rounds: list[dict[str, Any]] = []
        symbols = list(self.gaps)
        for r in range(cfg.fire_rounds):
            symbol, up = symbols[r % len(symbols)], r % 2 == 0
            gap = self.gaps[symbol]
            lo, hi, target = (0.6, 0.9, 0.95) if up else (0.1, 0.4, 0.05)
            first = await reserve_ids(self.engine, cfg.fire_size)
            band = self.pop.band(first, symbol, gap.at(lo), gap.at(hi), cfg.fire_size, up)
            loaded = await load(self.engine, iter(band), batch=cfg.batch)
            max_id = first + cfg.fire_size - 1
            prev, new = self.last[symbol], gap.at(target)
            expected = await naive_scan(self.redis, self.keys, symbol, prev, new, max_id)
            jobs_before = int(await self.redis.xlen(self.keys.outbox))
            gc.collect()
            ms, fired = await self._evaluate(symbol, new)
            jobs = int(await self.redis.xlen(self.keys.outbox)) - jobs_before
            rounds.append({
                "symbol": symbol, "direction": str(Direction.UP if up else Direction.DOWN),
                "band_alerts": loaded.created,
                "naive_expected": expected, "fired": fired, "jobs_appended": jobs,
                "exact": fired == expected == loaded.created == cfg.fire_size == jobs,
                "ms": round(ms, 2),
            })  # fmt: skip
        return rounds

    async def drain(self, jobs: int) -> dict[str, Any]:
        """The real worker reads, groups per chat, marks sent and acks into a counting sink."""
        self.sunk = 0
        idle = 0
        gc.collect()
        start = time.perf_counter()
        while self.sunk < jobs and idle < 3:
            idle = idle + 1 if await self.worker.run_once(block_ms=None) == 0 else 0
        seconds = time.perf_counter() - start
        length, pending = await self.worker.depth()
        return {
            "jobs": jobs,
            "delivered": self.sunk,
            "pending_after": pending,
            "stream_length": length,
            "seconds": round(seconds, 3),
            "per_s": round(self.sunk / seconds) if seconds else None,
            "worker_batch": self.worker.batch,
            "worker_pool_max_connections": DRAIN_POOL,
        }


async def run(redis: Redis, config: Config) -> dict[str, Any]:
    return await EngineBench(redis, config).run()


def report(section: dict[str, Any]) -> str:
    """The printed tables: headline vs targets, quiet ticks per symbol, memory by key kind."""
    rows = target_rows(section, HEADLINE)
    parts = [
        f"alert engine — {section['alerts']:,} alerts",
        table(("metric", "value", "target", ""), rows),
    ]
    per = section["nofire"]["per_symbol"]
    parts.append(
        table(
            ("quiet tick", "p50 ms", "p99 ms", "max ms"),
            [(s, v["p50"], v["p99"], v["max"]) for s, v in per.items()],
        )
    )
    kinds = section["memory"]["keyspace"]["by_kind"]
    space_rows = [
        (kind, v["keys"], v["bytes"], v["bytes_per_alert"], v["encodings"])
        for kind, v in kinds.items()
    ]
    parts.append(table(("key kind", "keys", "bytes", "bytes/alert", "encodings"), space_rows))
    rec, space = section["memory"]["records"], section["memory"]["keyspace"]
    parts.append(
        f"keyspace total {space['bytes_per_alert']} B/alert (MEMORY USAGE); "
        f"records mean {rec['mean_len']} B, {rec['records_over_limit_share']:.1%} over the "
        f"{rec['listpack_value_limit']} B listpack value limit"
    )
    fires = ", ".join(
        f"{r['symbol']} {r['direction']} {r['fired']} in {r['ms']} ms"
        for r in section["fire_rounds"]
    )
    parts.append(f"fire rounds: {fires}")
    return "\n\n".join(parts)
