"""The engine-cost benchmark at toy size: structure and correctness only, never timings."""

from __future__ import annotations

from redis.asyncio import Redis

from bench import engine_cost_bench

CONFIG = engine_cost_bench.Config(
    alerts=2000, sizes=(10, 50), ticks=5, warmup=2, history_rate=0.01, naive_sizes=2,
    legacy_step=600, prefill_step=60, batch=500,
)  # fmt: skip


async def test_tiny_engine_cost_bench_is_correct_and_cleans_up(redis: Redis) -> None:
    section = await engine_cost_bench.run(redis, CONFIG)
    for name in ("move_tick_p99_ms_10_sizes", "move_tick_p99_ms_50_sizes",
                 "naive_move_tick_ms_2_sizes", "tick_history_bytes_per_symbol"):  # fmt: skip
        assert section[name] is not None, name
    assert all(isinstance(t["pass"], bool) for t in section["targets"].values())
    for sizes in ("10", "50"):  # every move alert loaded; every timed tick evaluated, none fired
        run = section["passes"][sizes]
        assert run["loaded"] == 400 and run["all"]["n"] == 5 * 7 and run["rebuilds"] == 7
    assert section["history"]["chunks"] >= 25 and section["history"]["encodings"] == ["listpack"]
    assert section["naive"]["groups"] == 2 * 5
    prefix = section["config"]["prefix"]
    assert [k async for k in redis.scan_iter(match=f"{prefix}:*")] == []
    assert "move_tick_p99_ms_10_sizes" in engine_cost_bench.report(section)
