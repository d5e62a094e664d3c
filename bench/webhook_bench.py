"""Webhook benchmark: 10,000 fired-alert jobs fanned out to webhooks and POSTed once each.

50 chats with one webhook each (one URL per chat, so one request in flight per URL
still leaves 50 in parallel) on an aiohttp receiver on 127.0.0.1. Jobs are fanned out
in the delivery worker's batches, every batch twice (a re-read must write nothing),
while the real webhook worker sends them. `webhooks_delivered_once` holds when every
event id arrived exactly once. Latency is the request's: signed (`sent_at`) to received.
The naive baseline, in the same run, is the same worker with one job in flight (a plain
read, send, acknowledge loop) over 1,000 jobs.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from alerts.domain.alert import Alert, AlertKind
from alerts.domain.jobs import Job, JobField, JobKind
from alerts.storage.dead_letters import DeadLetters
from alerts.storage.keys import Keys
from alerts.storage.webhook_queue import WebhookQueue
from alerts.storage.webhooks import WebhookFanout, Webhooks
from bench.redis_memory import delete_prefix
from bench.redis_server import run_with_redis
from bench.results import check, machine_facts, merge_keys, percentile, table
from fakes.webhook_receiver import WebhookReceiver
from handlers.webhook.sender import WebhookSender
from handlers.webhook.worker import READ_AHEAD, WebhookWorker

NAME = "webhooks"
SECTION = "conditions"  # the merger folds it into issue 16's section
JOBS = 10_000
CHATS = 50
BATCH = 200  # the delivery worker's read batch
NAIVE_JOBS = 1_000


def fired_job(job_id: str, alert_id: int, chat: str) -> Job:
    alert = Alert(alert_id, chat, "LINK/USDT", AlertKind.ABOVE, 9.5, 9.0, 0)
    fields = {
        JobField.KIND.value: JobKind.FIRE.value, JobField.ALERT_ID.value: str(alert_id),
        JobField.RECORD.value: alert.pack(), JobField.VALUE.value: "9.6",
        JobField.AT.value: "1.0", JobField.TICK_TS.value: "1.0",
    }  # fmt: skip
    return Job.from_fields(job_id, fields)


async def run(
    redis: Redis, jobs: int = JOBS, chats: int = CHATS, naive: bool = True
) -> dict[str, Any]:
    receiver, wall, rewritten = await _deliver(redis, jobs, chats, READ_AHEAD)
    counts = Counter(receiver.event_ids())
    latencies = [
        (r.at - datetime.fromisoformat(r.json["sent_at"]).timestamp()) * 1000
        for r in receiver.received
    ]
    once = len(counts) == jobs and set(counts.values()) == {1}
    result: dict[str, Any] = {
        "webhook_jobs": jobs,
        "webhook_urls": chats,
        "webhooks_delivered_once": once,
        "webhook_fanout_rereads_written": rewritten,
        "webhook_duplicates": sum(n - 1 for n in counts.values()),
        "webhook_throughput_per_s": round(len(receiver.received) / wall, 1),
        "webhook_request_p99_ms": round(percentile(latencies, 99), 2) if latencies else None,
        "webhook_wall_s": round(wall, 2),
    }
    if naive:  # the same worker with one job in flight: a plain read-send-ack loop
        serial, serial_wall, _ = await _deliver(redis, NAIVE_JOBS, chats, 1)
        rate = len(serial.received) / serial_wall
        result["webhook_throughput_per_s_naive"] = round(rate, 1)
        result["webhook_throughput_speedup_vs_naive"] = round(
            result["webhook_throughput_per_s"] / rate, 2
        )
    result["targets"] = {"webhooks_delivered_once": check(float(once), at_least=1)}
    result["webhook_machine"] = machine_facts(await redis.info("server"))
    return result


async def _deliver(
    redis: Redis, jobs: int, chats: int, read_ahead: int
) -> tuple[WebhookReceiver, float, int]:
    """Fan out `jobs` fired alerts (each batch twice) while a worker sends them; returns
    the receiver, the wall time until all arrived, and what the re-reads wrote."""
    keys = Keys(f"benchwh-{uuid.uuid4().hex[:8]}")
    receiver = await WebhookReceiver().start()
    sender = WebhookSender(allow_private=True, allow_http=True)
    webhooks = Webhooks(redis, keys)
    queue = WebhookQueue(redis, keys, "bench", DeadLetters(redis, keys))
    worker = WebhookWorker(queue, webhooks, sender, exchange="binance", read_ahead=read_ahead)
    fanout = WebhookFanout(redis, keys)
    try:
        await queue.ensure_group()
        names = [f"bench:{i}" for i in range(chats)]
        for i, chat in enumerate(names):
            await webhooks.add(chat, f"{receiver.url}/h{i}", signals=False, now=time.time())
        loop = asyncio.create_task(worker.run())
        started = time.perf_counter()
        written = rewritten = 0
        for start in range(0, jobs, BATCH):
            batch = [fired_job(f"{n + 1}-0", n + 1, names[n % chats])
                     for n in range(start, min(jobs, start + BATCH))]  # fmt: skip
            written += await fanout(batch)
            rewritten += await fanout(batch)  # read again: must write nothing
        while len(receiver.received) < jobs and time.perf_counter() - started < 300:
            await asyncio.sleep(0.02)
        wall = time.perf_counter() - started
        await asyncio.sleep(0.5)  # anything sent twice would arrive now
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
        assert written == jobs, (written, jobs)
        return receiver, wall, rewritten
    finally:
        await sender.close()
        await receiver.stop()
        await delete_prefix(redis, keys)


def report(result: dict[str, Any]) -> str:
    names = [k for k in result if k.startswith("webhook") and k != "webhook_machine"]
    return table(("metric", "value"), [(k, result[k]) for k in names])


def main(url: str, *, quick: bool, out: Path) -> int:
    """Run and merge the webhook keys into `conditions` (quick: 1,000 jobs, no baseline)."""
    jobs = 1_000 if quick else JOBS
    print(f"webhook benchmark: {jobs:,} jobs to {CHATS} local webhooks...", flush=True)
    result = asyncio.run(run_with_redis(url, lambda r: run(r, jobs, naive=not quick)))
    section = SECTION if not quick else f"{SECTION}_quick"
    merge_keys(section, result, out)
    print(report(result))
    print(f"\nwritten to {out} under {section!r}")
    return 0
