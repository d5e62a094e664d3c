"""The conditions benchmark at toy size: structure and correctness only, never timings."""

from __future__ import annotations

from redis.asyncio import Redis

from bench import conditions_bench


async def test_tiny_conditions_bench_evaluates_every_series_and_cleans_up(redis: Redis) -> None:
    config = conditions_bench.Config(alerts=600, closes=4)
    section = await conditions_bench.run(redis, config)
    assert section["alerts"] == 600
    assert 25 <= section["series"] <= 5 * 5 * 32  # coins x timeframes x series shapes
    assert section["bar_closes"] == section["series"] * 4
    assert section["fired"] <= section["alerts"]
    assert all(isinstance(t["pass"], bool) for t in section["targets"].values())
    prefix = section["config"]["prefix"]
    assert [k async for k in redis.scan_iter(match=f"{prefix}:*")] == []
    assert "bar_close_p99_ms" in conditions_bench.report(section)
