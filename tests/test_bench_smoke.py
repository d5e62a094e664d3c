"""The engine benchmark at toy size: structure and correctness only, never timings."""

from __future__ import annotations

import json
from pathlib import Path

from redis.asyncio import Redis

from alerts.storage.keys import Keys
from bench import engine_bench
from bench.redis_memory import prefix_keys
from bench.results import merge_section

CONFIG = engine_bench.Config(
    alerts=2000, ticks=20, naive_ticks=2, fire_size=200, fire_rounds=2, batch=500
)


async def test_tiny_engine_bench_is_correct_and_cleans_up(redis: Redis, keys: Keys) -> None:
    section = await engine_bench.EngineBench(redis, CONFIG, prefix=keys.prefix).run()

    for name in engine_bench.HEADLINE:
        assert section[name] is not None, name
    assert section["alerts"] == section["load"]["created"] == 2000
    assert all(isinstance(t["pass"], bool) for t in section["targets"].values())
    assert section["machine"]["redis_version"]
    # every quiet tick was evaluated (the bench raises if one fired or was skipped)
    assert section["nofire"]["all"]["n"] == 20 * len(section["nofire"]["per_symbol"])
    # each fire tick claimed exactly its band: what the naive scan says, one job per alert
    for r in section["fire_rounds"]:
        assert r["band_alerts"] == r["naive_expected"] == r["fired"] == r["jobs_appended"] == 200
        assert r["exact"]
    assert {r["direction"] for r in section["fire_rounds"]} == {"up", "down"}
    drain = section["drain"]
    assert drain["delivered"] == drain["jobs"] == 400
    assert drain["pending_after"] == 0
    assert await prefix_keys(redis, keys) == []  # the run deleted its keys
    table = engine_bench.report(section)
    assert all(name in table for name in engine_bench.HEADLINE)


def test_results_merge_keeps_other_sections(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"telegram": {"sent_per_s": 30}, "engine": {"alerts": 1}}))
    merge_section("engine", {"alerts": 2000}, path)
    data = json.loads(path.read_text())
    assert data == {"telegram": {"sent_per_s": 30}, "engine": {"alerts": 2000}}
