"""The chart benchmark without its naive baseline: structure and correctness, never timings."""

from __future__ import annotations

import json
from pathlib import Path

from redis.asyncio import Redis

from bench import chart_bench
from bench.results import merge_keys


async def test_chart_bench_counts_one_shared_render_and_cleans_up(redis: Redis) -> None:
    before = {k async for k in redis.scan_iter(match="benchchart*")}
    result = await chart_bench.run(redis, naive=False)
    assert result["chart_renders_for_20"] == 1
    assert result["chart_replies_with_image_for_20"] == 20
    assert result["targets"]["chart_renders_for_20"]["pass"] is True
    assert {k async for k in redis.scan_iter(match="benchchart*")} == before
    assert "chart_renders_for_20" in chart_bench.report(result)


def test_merge_keys_keeps_the_other_benchmarks_keys(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    other = {"move_tick_p99_ms_100_sizes": 0.4, "targets": {"move": {"pass": True}}}
    merge_keys("engine_cost", other, out)
    mine = {"chart_renders_for_20": 1, "targets": {"chart": {"pass": True}}}
    merge_keys("engine_cost", mine, out)
    section = json.loads(out.read_text())["engine_cost"]
    assert section["move_tick_p99_ms_100_sizes"] == 0.4 and section["chart_renders_for_20"] == 1
    assert set(section["targets"]) == {"move", "chart"}
