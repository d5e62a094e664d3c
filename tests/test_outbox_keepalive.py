"""A job that waits long for its send slot stays with its worker: no second send.

With one budget per token shared by every replica, a job can wait in a worker longer
than DELIVERY_CLAIM_IDLE_SECONDS; the worker keeps its claim fresh, so another
replica's XAUTOCLAIM does not take it over and send it again.
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from alerts.storage.keys import Keys
from alerts.storage.outbox import DeliveryWorker, Job

IDLE_MS = 1500


async def test_a_job_held_past_the_claim_idle_time_is_not_taken_over(
    redis: Redis, keys: Keys
) -> None:
    release = asyncio.Event()
    sends: list[str] = []

    async def slow(chat: str, jobs: list[Job]) -> None:  # waits for its slot
        sends.append(chat)
        await release.wait()

    async def fast(chat: str, jobs: list[Job]) -> None:
        sends.append(chat)

    holder = DeliveryWorker(  # its read-ahead full: the read loop waits meanwhile
        redis, keys, slow, consumer="holder", claim_idle_ms=IDLE_MS, max_inflight=1
    )
    other = DeliveryWorker(redis, keys, fast, consumer="other", claim_idle_ms=IDLE_MS)
    await holder.ensure_group()
    fields = {"t": "signal", "chat": "tg:1", "at": "0", "title": "Held", "body": "x"}
    await redis.xadd(keys.outbox, fields)  # type: ignore[arg-type]
    running = asyncio.create_task(holder.run())
    try:
        while not sends:
            await asyncio.sleep(0.01)
        for _ in range(3):  # well past the idle time, several takeover attempts
            await asyncio.sleep(IDLE_MS / 1000)
            assert await other.reclaim_once() == 0
        release.set()
        while (await holder.depth())[1]:
            await asyncio.sleep(0.01)
    finally:
        holder.request_stop()
        await asyncio.wait_for(running, 10)
    assert sends == ["tg:1"]


