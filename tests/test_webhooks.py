"""Webhooks against real aiohttp receivers on 127.0.0.1 and the real Redis.

The one faked part is DNS (the network edge): `NameMap` answers names with chosen
addresses, so "a name resolving to 10.0.0.1" and rebinding can be shown without a DNS
server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from alerts.domain.alert import Alert, AlertKind
from alerts.domain.jobs import BROADCAST, Job, JobField, JobKind, Notice, notice_fields
from alerts.domain.webhooks import WebhookRefused, verify
from alerts.storage.chat_migration import ChatMigration
from alerts.storage.dead_letters import DeadLetters
from alerts.storage.keys import Keys
from alerts.storage.webhook_queue import WebhookQueue
from alerts.storage.webhooks import WebhookFanout, Webhooks
from alerts.usecases.webhooks import WebhookService
from bench.webhook_bench import fired_job
from fakes.webhook_receiver import NameMap, WebhookReceiver
from handlers.webhook.sender import WebhookSender
from handlers.webhook.worker import WebhookWorker, event_of

CHAT = "tg:4242"


@dataclass
class World:
    redis: Redis
    keys: Keys
    webhooks: Webhooks
    service: WebhookService
    worker: WebhookWorker
    names: NameMap
    receiver: WebhookReceiver

    async def fire(self, alert_id: int, job_id: str = "") -> Job:
        """A fired-alert job as the engine writes it, fanned out as the delivery worker does."""
        job = fired_job(job_id or f"{alert_id}-0", alert_id, CHAT)
        await WebhookFanout(self.redis, self.keys)([job])
        return job

    async def deliver(self) -> None:
        """Read and send until nothing is left (retries included)."""
        for _ in range(200):
            started = await self.worker.run_once(block_ms=None)
            await self.worker.drain()
            if not started and not await self.worker.queue.waiting():
                return
            if not started:
                await self.worker.queue.release_due(float("inf"))
        raise AssertionError("webhook jobs never settled")


@pytest.fixture
async def world(redis: Redis, keys: Keys) -> AsyncIterator[World]:
    receiver = await WebhookReceiver().start()
    names = NameMap({"public.example": "93.184.216.34", "internal.example": "10.0.0.1"})
    world = await make_world(redis, keys, receiver, names, allow=True)
    yield world
    await world.worker.sender.close()
    await receiver.stop()


async def make_world(
    redis: Redis, keys: Keys, receiver: WebhookReceiver, names: NameMap, *, allow: bool,
    consumer: str = "test-consumer",
) -> World:  # fmt: skip
    sender = WebhookSender(names, allow_private=allow, allow_http=allow)
    webhooks = Webhooks(redis, keys)
    queue = WebhookQueue(redis, keys, consumer, DeadLetters(redis, keys))
    await queue.ensure_group()
    worker = WebhookWorker(
        queue, webhooks, sender, exchange="binance", backoff=(0.0, 0.0), failure_limit=50
    )
    service = WebhookService(webhooks, sender.check_url, lambda: 1_700_000_000.0)
    return World(redis, keys, webhooks, service, worker, names, receiver)


async def test_a_fired_alert_arrives_signed_once_with_the_schema(world: World) -> None:
    hook = await world.service.add(CHAT, world.receiver.url + "/in", signals=False)
    job = await world.fire(11)
    await world.deliver()
    (got,) = world.receiver.received
    ts, sig = got.headers["X-Altbot-Timestamp"], got.headers["X-Altbot-Signature"]
    assert verify(hook.secret, ts, sig, got.body, float(ts))
    doc = got.json
    assert doc["event_id"] == f"a{job.job_id}-w{hook.id}" and doc["type"] == "alert"
    assert (doc["alert_id"], doc["symbol"], doc["value"]) == (11, "LINK/USDT", 9.6)
    assert doc["condition"] == "above 9.5" and doc["exchange"] == "binance"
    assert doc["bar_time"] is None and doc["sent_at"].endswith("Z")


async def test_reading_a_job_again_fans_out_and_sends_nothing_twice(world: World) -> None:
    await world.service.add(CHAT, world.receiver.url + "/a", signals=False)
    await world.service.add(CHAT, world.receiver.url + "/b", signals=False)
    job = await world.fire(12)
    assert await WebhookFanout(world.redis, world.keys)([job]) == 0  # re-read: no new jobs
    await world.deliver()
    assert sorted(r.path for r in world.receiver.received) == ["/a", "/b"]
    # a copy of a delivered job read again (a crash before its ack) is not sent again
    (entry,) = await world.redis.xrange(world.keys.outbox_webhook, count=1)
    await world.worker.process((entry[0], dict(entry[1])))
    assert len(world.receiver.received) == 2


async def test_a_job_left_pending_by_a_crashed_worker_is_sent_once(world: World) -> None:
    await world.service.add(CHAT, world.receiver.url + "/c", signals=False)
    await world.fire(13)
    assert len(await world.worker.queue.read(10, None)) == 1  # read, then "crash"
    assert await world.worker.reclaim_once(idle_ms=0) == 1
    await world.worker.drain()
    assert await world.worker.reclaim_once(idle_ms=0) == 0
    assert len(world.receiver.received) == 1


async def test_a_500_then_200_receiver_gets_the_event_once_after_the_retry(world: World) -> None:
    await world.service.add(CHAT, world.receiver.url + "/r", signals=False)
    world.receiver.statuses = [500]
    await world.fire(14)
    await world.deliver()
    first, second = world.receiver.received
    assert first.json["event_id"] == second.json["event_id"]  # the same event, retried
    hook = (await world.webhooks.of(CHAT))[0]
    assert hook.failures == 0  # a success resets the count
    assert await world.redis.exists(world.keys.sent(f"webhook:{first.json['event_id']}"))


async def test_redirects_are_not_followed_and_retries_end_in_dead_letters(world: World) -> None:
    await world.service.add(CHAT, world.receiver.url + "/moved", signals=False)
    world.receiver.statuses = [302, 302, 302]
    await world.fire(15)
    await world.deliver()
    assert len(world.receiver.received) == 3 and world.receiver.landed == 0
    (dead,) = await world.worker.queue.dead.recent(5)
    assert "HTTP 302 redirect (not followed)" in dead["dead.why"]
    assert (await world.webhooks.of(CHAT))[0].failures == 3


async def test_signals_go_only_to_webhooks_that_opted_in(world: World) -> None:
    await world.service.add(CHAT, world.receiver.url + "/alerts", signals=False)
    await world.service.add(CHAT, world.receiver.url + "/all", signals=True)
    notice = Notice("R2K record close", ["a line"])
    fields = notice_fields(JobKind.SIGNAL, CHAT, notice, 1.0, 1.0, name="r2k", event="e1")
    job = Job.from_fields("5-0", fields, BROADCAST)
    assert await WebhookFanout(world.redis, world.keys)([job]) == 1
    await world.deliver()
    (got,) = world.receiver.received
    assert got.path == "/all" and got.json["type"] == "signal"
    assert got.json["condition"].startswith("R2K record close")


async def test_at_most_three_webhooks_per_chat(world: World) -> None:
    for i in range(3):
        await world.service.add(CHAT, f"{world.receiver.url}/{i}", signals=False)
    with pytest.raises(Exception, match="already has 3 webhooks"):
        await world.service.add(CHAT, world.receiver.url + "/4", signals=False)
    await world.service.remove(CHAT, (await world.webhooks.of(CHAT))[0].id)
    added = await world.service.add(CHAT, world.receiver.url + "/4", signals=False)
    assert added.number == 3 and added.id == 4  # ids are never reused


async def test_fifty_failures_in_a_row_disable_the_webhook_and_tell_the_chat_once(
    world: World,
) -> None:
    await world.service.add(CHAT, world.receiver.url + "/down", signals=False)
    world.worker.backoff = ()  # one attempt per job: 60 jobs make 60 failures
    world.receiver.statuses = [500] * 100
    for i in range(60):
        await world.fire(100 + i)
    await world.deliver()
    assert len(world.receiver.received) == 50  # the rest were dropped unsent
    (hook,) = await world.webhooks.of(CHAT)
    assert hook.disabled == "50 failed deliveries in a row"
    notices = await world.redis.xrange(world.keys.outbox)
    assert len(notices) == 1 and "Webhook #1 disabled" in notices[0][1][JobField.TITLE]
    assert await world.fire(200) and await world.redis.xlen(world.keys.outbox_webhook) == 60


async def test_a_group_upgraded_to_a_supergroup_keeps_its_webhooks(world: World) -> None:
    hook = await world.service.add(CHAT, world.receiver.url + "/m", signals=False)
    await ChatMigration(world.redis, world.keys).move(CHAT, "tg:-1009")
    assert await world.webhooks.of(CHAT) == []
    (moved,) = await world.webhooks.of("tg:-1009")
    assert (moved.id, moved.secret) == (hook.id, hook.secret)


REFUSED_URLS = {
    "http://127.0.0.1/x": "http:// URLs are refused — use https",
    "https://127.0.0.1/x": "that address is a loopback address (127.0.0.1)",
    "https://169.254.169.254/latest": "that address is a cloud metadata address (169.254.169.254)",
    "https://[::1]/x": "that address is a loopback address (::1)",
    "https://internal.example/x": "that host resolves to a private address (10.0.0.1)",
    "https://nowhere.example/x": "nowhere.example does not resolve",
}


@pytest.mark.parametrize("url,message", sorted(REFUSED_URLS.items()))
async def test_disallowed_urls_are_refused_at_creation(
    redis: Redis, keys: Keys, url: str, message: str
) -> None:
    names = NameMap({"internal.example": "10.0.0.1"})
    world = await make_world(redis, keys, WebhookReceiver(), names, allow=False)
    with pytest.raises(WebhookRefused) as err:
        await world.service.add(CHAT, url, signals=False)
    assert message in err.value.message
    assert await world.webhooks.of(CHAT) == []


async def test_a_name_rebound_to_a_private_address_is_not_sent_and_counts_as_failure(
    redis: Redis, keys: Keys
) -> None:
    names = NameMap({"rebind.example": "93.184.216.34"})
    world = await make_world(redis, keys, WebhookReceiver(), names, allow=False)
    await world.service.add(CHAT, "https://rebind.example/hook", signals=False)
    names.names["rebind.example"] = "10.0.0.1"  # public at creation, private at send
    world.worker.backoff = ()
    await world.fire(21)
    await world.deliver()
    (dead,) = await world.worker.queue.dead.recent(5)
    assert "that host resolves to a private address (10.0.0.1)" in dead["dead.why"]
    assert (await world.webhooks.of(CHAT))[0].failures == 1
    await world.worker.sender.close()


async def test_a_literal_private_address_stored_earlier_is_refused_at_send(
    redis: Redis, keys: Keys
) -> None:
    receiver = await WebhookReceiver().start()
    open_world = await make_world(redis, keys, receiver, NameMap({}), allow=True)
    await open_world.service.add(CHAT, receiver.url + "/x", signals=False)
    strict = await make_world(redis, keys, receiver, NameMap({}), allow=False)
    strict.worker.backoff = ()
    await strict.fire(22)
    await strict.deliver()
    assert receiver.received == []
    (dead,) = await strict.worker.queue.dead.recent(5)
    assert "http:// URLs are refused" in dead["dead.why"]
    await receiver.stop()
    await open_world.worker.sender.close()
    await strict.worker.sender.close()


def condition_job(words: str, tick_ts: float) -> Job:
    alert = Alert(31, CHAT, "LINK/USDT", AlertKind.CONDITION_UP, 70.0, 0.0, 0, cond=words)
    fields = {
        JobField.KIND.value: JobKind.FIRE.value, JobField.ALERT_ID.value: "31",
        JobField.RECORD.value: alert.pack(), JobField.VALUE.value: "71.3",
        JobField.AT.value: repr(tick_ts + 2), JobField.TICK_TS.value: repr(tick_ts),
        JobField.HOOK_EVENT.value: "a1-0-w1",
    }  # fmt: skip
    return Job.from_fields("1-0", fields)


def test_bar_time_is_the_bar_close_of_on_close_alerts_only() -> None:
    close = 1_765_069_200.0  # 01:00 UTC: the 1h bar's close, the tick that fired it
    on_close = event_of(condition_job("rsi14 1h above 70", close), "binance", close + 3)
    assert on_close.bar_time == close and on_close.condition.startswith("rsi14 1h above 70")
    intrabar = event_of(condition_job("rsi14 1h above 70 intrabar", close), "binance", close)
    assert intrabar.bar_time is None
    price = fired_job("2-0", 2, CHAT).payload | {JobField.HOOK_EVENT.value: "a2-0-w1"}
    assert event_of(Job.from_fields("2-0", price), "binance", close).bar_time is None


async def test_two_replicas_never_post_to_one_url_at_once(redis: Redis, keys: Keys) -> None:
    receiver = await WebhookReceiver(delay=0.05).start()
    names = NameMap({})
    one = await make_world(redis, keys, receiver, names, allow=True, consumer="replica-1")
    two = await make_world(redis, keys, receiver, names, allow=True, consumer="replica-2")
    try:
        await one.service.add(CHAT, receiver.url + "/both", signals=False)
        for alert_id in range(20, 32):
            await one.fire(alert_id)
        one.worker.read_ahead = two.worker.read_ahead = 1  # both replicas hold jobs at once
        await asyncio.gather(one.deliver(), two.deliver())
        assert receiver.max_in_flight == 1  # one request in flight per URL, across replicas
        ids = receiver.event_ids()
        assert len(ids) == len(set(ids)) == 12  # every event once
    finally:
        await one.worker.sender.close()
        await two.worker.sender.close()
        await receiver.stop()
