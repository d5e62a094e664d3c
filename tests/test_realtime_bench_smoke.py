"""The realtime latency benchmark at toy size: structure and exactness only, never timings."""

from __future__ import annotations

from redis.asyncio import Redis

from alerts.storage.keys import Keys
from bench import realtime_bench, realtime_report
from bench.redis_memory import prefix_keys

CONFIG = realtime_bench.Config(
    alerts=2000, crossings=20, telegram_crossings=4, rest_crossings=8, rest_interval=0.3,
    spacing=0.03, telegram_spacing=0.05, rest_spacing=0.1,
)  # fmt: skip


async def test_tiny_realtime_bench_fires_each_probe_once_and_cleans_up(
    redis: Redis, keys: Keys
) -> None:
    section = await realtime_bench.RealtimeBench(redis, CONFIG, prefix=keys.prefix).run()

    assert section["alerts"] == 2000
    for phase, n in (("ws", 20), ("telegram", 4), ("rest", 8)):
        result = section[phase]
        assert result["crossings"] == result["delivered"] == n, phase
        assert result["exact"], f"{phase}: a probe fired twice or not at all"
        assert result["latency"]["n"] == n
    assert section["rest"]["poll_wait"]["n"] > 0  # REST latencies split at the poll
    assert section["rest_default_interval"]["poll_interval_s"] == 10.0
    assert section["ws"]["flushes"] > 0
    assert isinstance(section["targets"]["ws_p99_ms"]["pass"], bool)
    assert await prefix_keys(redis, keys) == []  # the run deleted its keys
    assert all(name in realtime_report.report(section) for name in realtime_report.HEADLINE)
