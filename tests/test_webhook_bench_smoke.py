"""The webhook benchmark at smoke size: structure and the exactly-once count, never timings."""

from __future__ import annotations

from redis.asyncio import Redis

from bench import webhook_bench


async def test_webhook_bench_delivers_each_event_once_and_cleans_up(redis: Redis) -> None:
    before = {k async for k in redis.scan_iter(match="benchwh*")}
    result = await webhook_bench.run(redis, jobs=300, chats=5, naive=False)
    assert result["webhooks_delivered_once"] is True
    assert result["webhook_duplicates"] == 0 and result["webhook_fanout_rereads_written"] == 0
    assert result["targets"]["webhooks_delivered_once"]["pass"] is True
    assert {k async for k in redis.scan_iter(match="benchwh*")} == before
    assert "webhooks_delivered_once" in webhook_bench.report(result)
