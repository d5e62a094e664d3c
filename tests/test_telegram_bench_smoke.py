"""The Telegram delivery benchmark at toy size: its plumbing and checks, not its timings."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from alerts.storage.keys import Keys
from bench import telegram_bench
from bench.redis_memory import prefix_keys


@pytest.mark.slow
async def test_tiny_telegram_bench_delivers_everything_once(redis: Redis) -> None:
    config = telegram_bench.Config(chats=40, burst=60, timeout_s=60)
    section = await telegram_bench.run(redis, config)
    assert section["delivered"] == 40 and section["lost"] == section["duplicated"] == 0
    assert section["too_many_requests"] == 0 and section["pending_after"] == 0
    assert section["burst"]["alerts_listed"] == 60 and section["burst"]["messages"] <= 5
    assert all(isinstance(t["pass"], bool) for t in section["targets"].values())
    assert all(name in telegram_bench.report(section) for name in telegram_bench.HEADLINE)
    assert await prefix_keys(redis, Keys(section["key_prefix"])) == []  # cleaned up
