"""Engine cost bounded by design (issue 14): move ticks flat in the number of sizes,
tick history bounded per symbol. Real engine, real scripts, throwaway Redis.

1. History: 10 ticks/s for 25 h simulated into one symbol through the real bucket
   fold (quick: 1 tick/s, the same buckets), MEMORY USAGE of its keys; beside it the
   legacy layout (every tick in a sorted set) at 1 tick/s.
2. Move ticks: a population of price alerts plus move alerts over every window with
   N distinct sizes (N = 100, then 10,000: same alert count), 24 h of history per
   symbol, then ticks at 10/s per symbol that move less than the smallest size
   (verified: nothing fires), timing `Engine.evaluate_moves` from the client.
3. The naive baseline in the same run: the old per-group scan (every (window, size)
   group re-reads its window of the legacy tick list) on one tick, 100 sizes.
"""

from __future__ import annotations

import gc
import math
import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from redis.asyncio import Redis

from alerts.domain.alert import Alert
from alerts.domain.moves import WINDOWS, move_pct
from alerts.storage.engine import Engine
from alerts.storage.keys import BUCKET_SECONDS, HISTORY_CHUNKS, TICK_HISTORY_SECONDS, Keys
from bench import redis_memory as mem
from bench.population import MARKETS, Population, load, reserve_ids
from bench.results import check, machine_facts, percentile, table

NAME = "engine_cost"
TARGET_TICK_P99_MS = 2.0
TARGET_HISTORY_BYTES = 1_000_000
MIN_SIZE, MAX_SIZE = 2.0, 50.0  # % ; the quiet ticks stay well under MIN_SIZE
WOBBLE = 0.004  # the quiet path's amplitude around the start price
HEADLINE = (
    "move_tick_p99_ms_100_sizes", "move_tick_p99_ms_10000_sizes", "flatness_10000_vs_100",
    "naive_move_tick_ms_100_sizes", "speedup_vs_naive", "tick_history_bytes_per_symbol",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Config:
    alerts: int = 1_000_000
    move_share: float = 0.2
    sizes: tuple[int, ...] = (100, 10_000)
    ticks: int = 3000  # timed ticks per symbol per population, at 10/s
    warmup: int = 200  # untimed ticks first (windows rebuilt, caches warm): steady state
    history_rate: float = 10.0  # ticks/s written for the history measurement
    naive_sizes: int = 100
    legacy_step: int = 1  # seconds between ticks of the legacy layout (the issue's ~1 tick/s)
    prefill_step: int = 1  # buckets between prefilled history ticks (1: every bucket)
    batch: int = 5000
    seed: int = 14

    @classmethod
    def quick(cls) -> Config:
        return cls(alerts=100_000, ticks=400, warmup=50, history_rate=1.0, naive_sizes=10)


class BenchError(RuntimeError):
    """A premise failed (e.g. a quiet tick fired)."""


def move_alerts(pop: Population, first: int, n: int, sizes: int) -> Iterator[Alert]:
    """`n` move alerts over every window and symbol with `sizes` distinct sizes."""
    step = (MAX_SIZE - MIN_SIZE) / sizes
    symbols, weights = list(MARKETS), [m[2] for m in MARKETS.values()]
    for i, chat in enumerate(pop.chats(n)):
        symbol = pop.rng.choices(symbols, weights=weights)[0]
        size = round(MIN_SIZE + step * (i % sizes), 6)
        window = WINDOWS[(i // sizes) % len(WINDOWS)]
        yield Alert(first + i, chat, symbol, "m", size, MARKETS[symbol][0], pop.now, window=window)


def quiet_price(base: float, i: int, rng: random.Random, decimals: int = 4) -> float:
    """A path that wobbles under MIN_SIZE (moves stay below every alert's size), in the
    market's price steps as the exchange sends them."""
    wobble = WOBBLE * math.sin(i / 40) + rng.uniform(-WOBBLE / 4, WOBBLE / 4)
    return round(base * (1 + wobble), decimals)


async def fold(engine: Engine, ticks: list[tuple[str, float, float]], batch: int) -> None:
    """Write ticks through the real history fold, pipelined."""
    for start in range(0, len(ticks), batch):
        pipe = engine.redis.pipeline(transaction=False)
        for symbol, ts, price in ticks[start : start + batch]:
            await engine.history.queue(pipe, symbol, ts, price)
        await pipe.execute()


class EngineCostBench:
    def __init__(self, redis: Redis, config: Config) -> None:
        self.redis = redis
        self.config = config
        self.keys = Keys(f"bench{uuid.uuid4().hex[:10]}")
        self.pop = Population(config.seed)
        self.rng = random.Random(config.seed)
        self.clock = float(int(time.time()))  # simulated time, advanced by the ticks
        self.index = 0

    async def run(self) -> dict[str, Any]:
        try:
            return await self._run()
        finally:
            await mem.delete_prefix(self.redis, self.keys)

    async def _run(self) -> dict[str, Any]:
        cfg = self.config
        info = await self.redis.info("server")
        load_start = os.getloadavg()
        history = await self.history_bytes()
        engine = Engine(self.redis, self.keys)
        price_alerts = cfg.alerts - int(cfg.alerts * cfg.move_share)
        first = await reserve_ids(engine, price_alerts)
        loaded = await load(engine, self.pop.alerts(first, price_alerts), batch=cfg.batch)
        await self.prefill(engine)
        passes = {n: await self.move_pass(n) for n in cfg.sizes}
        naive = await self.naive()
        p99 = {n: passes[n]["all"]["p99"] for n in cfg.sizes}
        small, large = cfg.sizes[0], cfg.sizes[-1]
        section: dict[str, Any] = {
            "alerts": cfg.alerts,
            "move_alerts": int(cfg.alerts * cfg.move_share),
            f"move_tick_p99_ms_{small}_sizes": p99[small],
            f"move_tick_p99_ms_{large}_sizes": p99[large],
            f"flatness_{large}_vs_{small}": round(p99[large] / p99[small], 2),
            f"naive_move_tick_ms_{cfg.naive_sizes}_sizes": naive["ms"],
            "speedup_vs_naive": round(naive["ms"] / passes[small]["all"]["p50"]),
            "tick_history_bytes_per_symbol": history["bytes"],
        }
        section["targets"] = {
            f"move_tick_p99_ms_{n}_sizes": check(p99[n], at_most=TARGET_TICK_P99_MS)
            for n in cfg.sizes
        } | {"tick_history_bytes_per_symbol": check(history["bytes"], at_most=TARGET_HISTORY_BYTES)}
        section["all_targets_pass"] = all(t["pass"] for t in section["targets"].values())
        section["machine"] = machine_facts(info) | {
            "redis_config": await mem.server_config(self.redis),
            "loadavg_start": [round(x, 2) for x in load_start],
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        }
        section["config"] = asdict(cfg) | {"prefix": self.keys.prefix}
        section["load"] = {"price_alerts": loaded.created, "per_s": round(loaded.per_second)}
        section["history"] = history
        section["passes"] = {str(n): v for n, v in passes.items()}
        section["naive"] = naive
        return section

    async def history_bytes(self) -> dict[str, Any]:
        """One symbol, `history_rate` ticks/s for 25 h simulated, through the real fold."""
        cfg, engine, symbol = self.config, Engine(self.redis, self.keys), "MEM/USDT"
        n = int(TICK_HISTORY_SECONDS * cfg.history_rate)
        end, base = self.clock, 1.2345
        ticks = [
            (
                symbol,
                end - TICK_HISTORY_SECONDS + i / cfg.history_rate,
                quiet_price(base, i, self.rng),
            )
            for i in range(n)
        ]
        start = time.perf_counter()
        await fold(engine, ticks, cfg.batch)
        seconds = time.perf_counter() - start
        chunks = [
            k async for k in self.redis.scan_iter(match=self.keys.tick_chunk(symbol, 0)[:-1] + "*")
        ]
        if len(chunks) > HISTORY_CHUNKS:
            raise BenchError(f"{len(chunks)} history chunks, the bound is {HISTORY_CHUNKS}")
        sizes = [int(await self.redis.memory_usage(k, samples=0) or 0) for k in chunks]
        encodings = {str(await self.redis.object("encoding", k)) for k in chunks}
        legacy = self.keys.ticks(symbol)
        await self.legacy(legacy, base, end, TICK_HISTORY_SECONDS)  # the old layout, to compare
        legacy_bytes = int(await self.redis.memory_usage(legacy, samples=0) or 0)
        await self.redis.delete(legacy)
        return {
            "ticks": n, "rate_per_s": cfg.history_rate, "bytes": sum(sizes), "chunks": len(chunks),
            "encodings": sorted(encodings), "fold_per_s": round(n / seconds),
            "legacy_zset_bytes": legacy_bytes, "legacy_ticks_per_s": 1 / cfg.legacy_step,
        }  # fmt: skip

    async def prefill(self, engine: Engine) -> None:
        """24 h of quiet history per market (one tick per bucket), so windows are full."""
        ticks = []
        for symbol, (price, decimals, _) in MARKETS.items():
            for i in range(0, max(WINDOWS) // BUCKET_SECONDS, self.config.prefill_step):
                ts = self.clock - max(WINDOWS) + i * BUCKET_SECONDS
                ticks.append((symbol, ts, quiet_price(price, i, self.rng, decimals)))
        await fold(engine, ticks, self.config.batch)

    async def move_pass(self, sizes: int) -> dict[str, Any]:
        """Load the move alerts with `sizes` distinct sizes, tick quietly, time, unload."""
        cfg = self.config
        engine = Engine(self.redis, self.keys)  # fresh deques: rebuilt on the first tick
        n = int(cfg.alerts * cfg.move_share)
        first = await reserve_ids(engine, n)
        loaded = await load(engine, move_alerts(self.pop, first, n, sizes), batch=cfg.batch)
        samples: dict[str, list[float]] = {s: [] for s in MARKETS}
        gc.collect()
        for i in range(cfg.warmup + cfg.ticks):
            self.clock += 0.1  # every market ticks 10 times a second
            batch = []
            for symbol, (price, decimals, _) in MARKETS.items():
                batch.append(
                    (symbol, self.clock, quiet_price(price, self.index, self.rng, decimals))
                )
            self.index += 1
            await fold(engine, batch, cfg.batch)  # what ingest does before evaluating
            for symbol, ts, price in batch:
                start = time.perf_counter()
                fired = await engine.evaluate_moves(symbol, price, ts, int(ts))
                if i >= cfg.warmup:  # the first tick of a symbol rebuilds its windows
                    samples[symbol].append((time.perf_counter() - start) * 1000)
                if fired:
                    raise BenchError(f"{symbol}: a quiet tick fired {fired} move alerts")
        for symbol in MARKETS:
            for window in WINDOWS:
                await self.redis.unlink(self.keys.move_index(symbol, window))
        pooled = [ms for values in samples.values() for ms in values]
        stats = {"p50": round(percentile(pooled, 50), 4), "p99": round(percentile(pooled, 99), 4),
                 "max": round(max(pooled), 4), "n": len(pooled)}  # fmt: skip
        return {"all": stats, "loaded": loaded.created, "rebuilds": engine.moves.rebuilds}

    async def naive(self) -> dict[str, Any]:
        """The old evaluation on one tick: per (window, size) group, re-read its window."""
        cfg = self.config
        symbol, (base, _, _) = next(iter(MARKETS.items()))
        legacy = self.keys.ticks(symbol)
        end = self.clock
        await self.legacy(legacy, base, end, max(WINDOWS))
        step = (MAX_SIZE - MIN_SIZE) / cfg.naive_sizes
        groups = [(w, MIN_SIZE + step * i) for w in WINDOWS for i in range(cfg.naive_sizes)]
        price = quiet_price(base, self.index, self.rng)
        gc.collect()
        start = time.perf_counter()
        hits = 0
        for window, size in groups:
            members = await self.redis.zrangebyscore(legacy, end - window, "+inf")
            prices = [float(m.split(":", 1)[1]) for m in members]
            hits += bool(prices) and move_pct(min(prices), max(prices), price) >= size
        ms = (time.perf_counter() - start) * 1000
        if hits:
            raise BenchError("the naive scan says a quiet tick fires")
        ticks = int(await self.redis.zcard(legacy))
        return {"ms": round(ms, 1), "groups": len(groups), "legacy_ticks": ticks}

    async def legacy(self, key: str, base: float, end: float, seconds: int) -> None:
        """The old layout: every tick (one per `legacy_step` s) in one sorted set."""
        pipe = self.redis.pipeline(transaction=False)
        for n, i in enumerate(range(0, seconds, self.config.legacy_step)):
            ts = end - seconds + i
            pipe.zadd(key, {f"{ts!r}:{quiet_price(base, i, self.rng)!r}": ts})
            if n % self.config.batch == 0:
                await pipe.execute()
        await pipe.execute()


async def run(redis: Redis, config: Config) -> dict[str, Any]:
    return await EngineCostBench(redis, config).run()


def report(section: dict[str, Any]) -> str:
    rows = [
        (name, section.get(name), section["targets"].get(name, {}).get("target", ""),
         section["targets"].get(name, {}).get("pass", ""))
        for name in section if name in HEADLINE or name.startswith(("move_tick", "naive_move"))
    ]  # fmt: skip
    h = section["history"]
    return "\n\n".join([
        f"engine cost — {section['alerts']:,} alerts, {section['move_alerts']:,} move alerts",
        table(("metric", "value", "target", ""), rows),
        f"history: {h['ticks']:,} ticks at {h['rate_per_s']}/s in {h['chunks']} chunks "
        f"({', '.join(h['encodings'])}) = {h['bytes']:,} B; legacy sorted set at "
        f"{h['legacy_ticks_per_s']:g} tick/s: {h['legacy_zset_bytes']:,} B",
    ])  # fmt: skip
