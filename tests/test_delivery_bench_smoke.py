"""The delivery benchmark at toy size: its plumbing and checks, not its timings."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from alerts.storage.keys import Keys
from bench import delivery_bench
from bench.redis_memory import prefix_keys


@pytest.mark.slow
async def test_tiny_delivery_bench_runs_every_phase(redis: Redis) -> None:
    config = delivery_bench.Config(
        lone=5, subscribers=40, personal=3, poison=20, personal_spacing_s=0.1,
        retry_backoff=(0.2, 0.4),
    )  # fmt: skip
    section = await delivery_bench.run(redis, config)
    details = section["delivery_a_details"]
    assert details["lone"]["alerts"] == 5 and details["broadcast"]["subscribers"] == 40
    assert details["poison"]["dead_lettered"] == 40 and section["poison_attempts_max"] == 3
    assert all(isinstance(t["pass"], bool) for t in section["delivery_a_targets"].values())
    assert "lone_alert_p99_ms" in delivery_bench.report(section)
    assert await prefix_keys(redis, Keys(details["key_prefix"])) == []  # cleaned up
