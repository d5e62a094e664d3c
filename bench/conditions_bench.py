"""Condition alerts at scale (issue 16): a bar close costs O(log N + fired) per series.

1. 200,000 indicator and multi-condition alerts over the five coins x five timeframes,
   written as users write them (`/alert` words through the real grammar), loaded with
   the engine's own create script.
2. Bar closes: every series in use (the registry the bar feed reads) gets a run of
   closes, a random walk that crosses some of its alerts' levels now and then; each
   close is one `Engine.evaluate` call, timed from the client (fired alerts included).
3. The naive baseline in the same run: one close of a series evaluated by reading every
   alert on that series and checking it (what a per-alert loop costs).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from alerts.domain.alert import Alert, AlertKind
from alerts.domain.grammar import conditions_of, parse_alert_args
from alerts.domain.indicators import BarSeries, Timeframe
from alerts.domain.market import Candle
from alerts.storage.bar_series import BarSeriesRegistry
from alerts.storage.engine import Engine
from alerts.storage.keys import Keys
from alerts.usecases.alerts import AlertService
from bench.population import MARKETS, Population, load, reserve_ids
from bench.redis_memory import delete_prefix
from bench.redis_server import run_with_redis
from bench.results import check, machine_facts, merge_keys, percentile, table
from bot.feeds.indicators import values_at

NAME = "conditions"
TARGET_BAR_CLOSE_P99_MS = 20.0
COINS = ("AVAX/USDT", "BCH/USDT", "ADA/USDT", "LINK/USDT", "HBAR/USDT")
FRAMES = [t.value for t in Timeframe]
# What traders pick, with the spread of parameters they use (the popular pairs first).
CROSSES = ("ema9 {tf} crosses {way} ema21", "ema12 {tf} crosses {way} ema26",
           "ema20 {tf} crosses {way} ema50", "sma50 {tf} crosses {way} sma200",
           "price {tf} crosses {way} sma200", "price {tf} crosses {way} ema50",
           "macd {tf} crosses {way} signal", "macd(8,21,5) {tf} crosses {way} signal")
BANDS = ("bb20", "bb(20,2.5)", "bb(50,2)")
RSI = ("rsi14", "rsi14", "rsi14", "rsi7", "rsi21")
MASS_FIRE = 1000  # alerts on one series crossing at once: the stress row
HEADLINE = ("alerts", "series", "bar_closes", "bar_close_p50_ms", "bar_close_p99_ms",
            "fired", "max_fired_in_one_close", "naive_bar_close_ms", "speedup_vs_naive",
            "mass_fire_1000_ms", "indicator_compute_ms_per_series")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Config:
    alerts: int = 200_000
    closes: int = 40  # timed bar closes per series
    seed: int = 16

    @classmethod
    def quick(cls) -> Config:
        return cls(alerts=20_000, closes=15)


def words_for(rng: random.Random, price: float) -> str:
    """One alert as a user types it: levels, crosses, bands, or two/three joined by and."""
    tf, way = rng.choice(FRAMES), rng.choice(("above", "below"))
    roll = rng.random()
    if roll < 0.35:
        level = rng.randint(55, 95) if way == "above" else rng.randint(5, 45)
        return f"{rng.choice(RSI)} {tf} {way} {level}"
    if roll < 0.60:
        return rng.choice(CROSSES).format(tf=tf, way=way)
    if roll < 0.75:
        return f"{rng.choice(BANDS)} {tf} breaks {rng.choice(('upper', 'lower'))}"
    level = rng.randint(5, 45)
    target = round(price * rng.uniform(1.02, 1.4), 4)
    extra = rng.choice(("", " and volume 2x", f" and macd {tf} crosses above signal"))
    return f"above {target} and rsi14 {tf} below {level}{extra}"


def make(pop: Population, alert_id: int, chat: str, symbol: str) -> Alert:
    price = MARKETS[symbol][0]
    words = words_for(pop.rng, price).split() + pop.options()
    spec = parse_alert_args(words)
    kind, level, window = AlertService._resolve(spec, price)
    return Alert(
        id=alert_id, chat=chat, symbol=symbol, kind=kind, level=level, ref=price,
        created=pop.now, cooldown=spec.cooldown if spec.repeat else 0, window=window,
        cond=spec.condition_words,
    )  # fmt: skip


def start_value(series: str) -> float:
    """Where a series' walk starts: RSI mid-range, spreads just off zero."""
    return 50.0 if series.startswith("rsi") else 0.5


def walk(rng: random.Random, series: str, n: int) -> list[float]:
    """Bar values: RSI moves a few points a bar, spreads drift across zero now and then."""
    value, out = start_value(series), []
    for _ in range(n):
        if series.startswith("rsi"):
            value = min(99.0, max(1.0, value + rng.gauss(0, 4)))
        else:
            value += rng.gauss(-0.02, 0.25)
        out.append(round(value, 6))
    return out


async def naive_close(engine: Engine, ids: list[int], series: str, value: float) -> int:
    """The per-alert loop: read every alert on the series, parse it, compare."""
    pipe = engine.redis.pipeline(transaction=False)
    for alert_id in ids:
        pipe.hget(engine.keys.bucket(alert_id), str(alert_id))
    hits = 0
    for alert_id, packed in zip(ids, await pipe.execute(), strict=True):
        if packed is None:
            continue
        alert = Alert.unpack(alert_id, packed)
        for c in conditions_of(alert.cond):
            hits += c.series == series and c.holds(value)
    return hits


async def run(redis: Redis, config: Config) -> dict[str, Any]:
    keys = Keys(f"bench-cond-{time.time_ns()}")
    engine, registry = Engine(redis, keys), BarSeriesRegistry(redis, keys)
    pop = Population(config.seed)
    rng = random.Random(config.seed)
    first = await reserve_ids(engine, config.alerts)
    by_series: dict[tuple[str, str], list[int]] = defaultdict(list)
    alerts = []
    for i, chat in enumerate(pop.chats(config.alerts)):
        alert = make(pop, first + i, chat, COINS[i % len(COINS)])
        alerts.append(alert)
        for c in conditions_of(alert.cond):
            by_series[(alert.symbol, c.series)].append(alert.id)
    for symbol in COINS:
        await registry.register(symbol, {s for sym, s in by_series if sym == symbol})
    loaded = await load(engine, iter(alerts))
    series = [(symbol, key) for symbol in COINS for key in await registry.in_use(symbol)]
    timings: list[float] = []
    fired = most = 0
    for symbol, key in series:
        values = walk(rng, key, config.closes + 1)
        await engine.evaluate(symbol, key, values[0], 1, 1)  # the baseline value
        for n, value in enumerate(values[1:], start=2):
            start = time.perf_counter()
            now_fired = await engine.evaluate(symbol, key, value, n * 3600, n * 3600)
            timings.append((time.perf_counter() - start) * 1000)
            fired, most = fired + now_fired, max(most, now_fired)
    busiest = max(by_series, key=lambda s: len(by_series[s]))
    start = time.perf_counter()
    await naive_close(engine, by_series[busiest], busiest[1], 50.0)
    naive_ms = (time.perf_counter() - start) * 1000
    mass_ms = await mass_fire(engine, pop, await reserve_ids(engine, MASS_FIRE))
    compute_ms = compute_per_series([key for _, key in series])
    await delete_prefix(redis, keys)
    p50, p99 = percentile(timings, 50), percentile(timings, 99)
    result: dict[str, Any] = {
        "alerts": loaded.created,
        "series": len(series),
        "bar_closes": len(timings),
        "bar_close_p50_ms": round(p50, 3),
        "bar_close_p99_ms": round(p99, 3),
        "fired": fired,
        "max_fired_in_one_close": most,
        "mass_fire_1000_ms": round(mass_ms, 2),
        "indicator_compute_ms_per_series": round(compute_ms, 4),
        "naive_bar_close_ms": round(naive_ms, 2),
        "naive_series_alerts": len(by_series[busiest]),
        "speedup_vs_naive": round(naive_ms / p50, 1) if p50 else None,
        "config": asdict(config) | {"prefix": keys.prefix},
        "machine": machine_facts(await redis.info()),
    }
    result["targets"] = {
        "bar_close_p99_ms": check(p99, at_most=TARGET_BAR_CLOSE_P99_MS),
        "alerts": check(loaded.created, at_least=config.alerts * 0.99),
    }
    return result


def compute_per_series(keys: list[str]) -> float:
    """TA-Lib time per series at one bar close: every distinct series of the run over
    enough random-walk bars for the longest warm-up, the way the bar feed computes them."""
    distinct = sorted({BarSeries.from_key(k) for k in keys}, key=lambda s: s.key)
    span = 3600
    count = max(s.bars_needed for s in distinct) + 1
    rng, price, candles = random.Random(7), 10.0, []
    for i in range(count):
        price *= 1 + rng.gauss(0, 0.01)
        candles.append(Candle(i * span, price, price, price, price))
    start = time.perf_counter()
    for tf in {s.timeframe for s in distinct}:
        values_at([s for s in distinct if s.timeframe is tf], candles, span)
    return (time.perf_counter() - start) * 1000 / len(distinct)


async def mass_fire(engine: Engine, pop: Population, first: int) -> float:
    """The stress row: MASS_FIRE once-alerts of distinct chats on one series, one close
    crossing them all (the O(fired) part of a bar close, measured on its own)."""
    symbol, key = "LINK/USDT", "ema9-ema21@4h~"  # a series the population never uses
    alerts = []
    for i, chat in enumerate(pop.chats(MASS_FIRE)):
        alert = make(pop, first + i, chat, symbol)
        alerts.append(dataclasses.replace(
            alert, kind=AlertKind.CONDITION_UP, level=0.0, cooldown=0,
            cond="ema9 4h crosses above ema21 intrabar",
        ))  # fmt: skip
    await load(engine, iter(alerts))
    await engine.evaluate(symbol, key, -0.1, 1, 1)
    start = time.perf_counter()
    fired = await engine.evaluate(symbol, key, 0.1, 2, 2)
    elapsed = (time.perf_counter() - start) * 1000
    if fired != MASS_FIRE:
        raise RuntimeError(f"mass fire claimed {fired} of {MASS_FIRE}")
    return elapsed


def report(result: dict[str, Any]) -> str:
    targets = result.get("targets", {})
    rows = [
        (name, result.get(name), targets.get(name, {}).get("target", ""),
         targets.get(name, {}).get("pass", ""))
        for name in (*HEADLINE, "webhooks_delivered_once")
        if name in result
    ]  # fmt: skip
    return table(("metric", "value", "target", "pass"), rows)


def main(url: str, *, quick: bool, out: Path) -> int:
    """Run, print, merge the keys into results.json (a quick run never overwrites full ones)."""
    config = Config.quick() if quick else Config()
    section = NAME if not quick else f"{NAME}_quick"
    print(f"conditions benchmark: {config.alerts:,} condition alerts...", flush=True)
    result = asyncio.run(run_with_redis(url, lambda r: run(r, config)))
    merge_keys(section, result, out)
    print(report(result))
    print(f"\nwritten to {out} under {section!r}")
    return 0
