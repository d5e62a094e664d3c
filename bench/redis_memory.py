"""Redis memory accounting for a key prefix: INFO deltas, per-key MEMORY USAGE, encodings.

`INFO memory` counts the whole server (other clients' keys too), so the
per-key sum under the bench prefix is reported beside it, broken down by key
kind, with the encodings that explain the numbers (a hash bucket falls back
from listpack to hashtable as soon as one record exceeds hash-max-listpack-value).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from typing import Any

from redis.asyncio import Redis

from alerts.storage.keys import BUCKET_SHIFT, Keys

CONFIGS = (
    "hash-max-listpack-value", "hash-max-listpack-entries",
    "zset-max-listpack-entries", "set-max-intset-entries",
)  # fmt: skip


async def used_memory(redis: Redis) -> int:
    return int((await redis.info("memory"))["used_memory"])


async def settle(redis: Redis, patience_s: float = 60.0) -> None:
    """Wait for lazy frees (earlier UNLINKs) to finish, so they don't skew a delta."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience_s
    while loop.time() < deadline:
        if int((await redis.info("memory")).get("lazyfree_pending_objects", 0)) == 0:
            return
        await asyncio.sleep(0.2)


async def server_config(redis: Redis) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in CONFIGS:
        try:
            out.update({str(k): str(v) for k, v in (await redis.config_get(name)).items()})
        except Exception:  # CONFIG can be disabled on managed Redis
            continue
    return out


def key_kind(keys: Keys, key: str) -> str:
    """The key-schema row a key belongs to (records, index, chat set, ...)."""
    rest = key[len(keys.prefix) + 1 :]
    return rest.split(":", 1)[0]


async def prefix_keys(redis: Redis, keys: Keys, count: int = 5000) -> list[str]:
    return [k async for k in redis.scan_iter(match=keys.pattern(), count=count)]


async def keyspace(redis: Redis, keys: Keys, alerts: int, batch: int = 1000) -> dict[str, Any]:
    """Exact MEMORY USAGE (SAMPLES 0) of every key under the prefix, by kind."""
    names = await prefix_keys(redis, keys)
    sizes: dict[str, int] = defaultdict(int)
    counts: Counter[str] = Counter()
    encodings: dict[str, Counter[str]] = defaultdict(Counter)
    for i in range(0, len(names), batch):
        chunk = names[i : i + batch]
        pipe = redis.pipeline(transaction=False)
        for name in chunk:
            pipe.memory_usage(name, samples=0)
            pipe.object("encoding", name)
        answers = await pipe.execute()
        for j, name in enumerate(chunk):
            kind = key_kind(keys, name)
            sizes[kind] += int(answers[2 * j] or 0)
            counts[kind] += 1
            encodings[kind][str(answers[2 * j + 1])] += 1
    total = sum(sizes.values())
    kinds = {
        kind: {
            "keys": counts[kind],
            "bytes": sizes[kind],
            "bytes_per_alert": round(sizes[kind] / alerts, 1) if alerts else None,
            "encodings": dict(encodings[kind]),
        }
        for kind in sorted(sizes, key=lambda k: -sizes[k])
    }
    return {
        "bytes": total,
        "bytes_per_alert": round(total / alerts, 1) if alerts else None,
        "by_kind": kinds,
    }


async def record_sizes(
    redis: Redis, keys: Keys, max_id: int, limit: int, sample: int = 200, seed: int = 0
) -> dict[str, Any]:
    """Packed record lengths in a sample of buckets, against the listpack value limit."""
    buckets = list(range((max_id >> BUCKET_SHIFT) + 1))
    chosen = random.Random(seed).sample(buckets, min(sample, len(buckets)))
    pipe = redis.pipeline(transaction=False)
    for b in chosen:
        pipe.hgetall(keys.bucket(b << BUCKET_SHIFT))
    lengths: list[int] = []
    over_buckets = 0
    for bucket in await pipe.execute():
        sizes = [len(v.encode()) for v in bucket.values()]
        lengths.extend(sizes)
        over_buckets += any(s > limit for s in sizes)
    over = sum(1 for n in lengths if n > limit)
    return {
        "sampled_records": len(lengths),
        "mean_len": round(sum(lengths) / len(lengths), 1) if lengths else None,
        "max_len": max(lengths, default=None),
        "listpack_value_limit": limit,
        "records_over_limit_share": round(over / len(lengths), 4) if lengths else None,
        "buckets_with_a_record_over_limit_share": round(over_buckets / len(chosen), 4)
        if chosen
        else None,
    }


async def sample_usage(redis: Redis, names: list[str]) -> dict[str, Any]:
    """MEMORY USAGE, encoding and element count of a few named keys."""
    out: dict[str, Any] = {}
    for name in names:
        kind = str(await redis.type(name))
        size = {"hash": redis.hlen, "zset": redis.zcard, "set": redis.scard}.get(kind)
        out[name] = {
            "type": kind,
            "encoding": await redis.object("encoding", name),
            "elements": int(await size(name)) if size else None,
            "bytes": await redis.memory_usage(name, samples=0),
        }
    return out


async def delete_prefix(redis: Redis, keys: Keys, batch: int = 1000) -> int:
    """SCAN + UNLINK every key under the prefix, in batches (never FLUSHDB)."""
    deleted = 0
    while True:  # repeat the pass: a SCAN running beside deletions may miss a few keys
        found = 0
        pending: list[str] = []
        async for name in redis.scan_iter(match=keys.pattern(), count=5000):
            pending.append(name)
            found += 1
            if len(pending) >= batch:
                deleted += int(await redis.unlink(*pending))
                pending = []
        if pending:
            deleted += int(await redis.unlink(*pending))
        if not found:
            return deleted
