"""Delivery under trouble, end to end: real App + real PTB + Redis against the fake Bot API.

Leading-edge coalescing, personal alerts before a queued broadcast, permanent and
transient errors ending in the dead-letter stream (never retried forever, the outbox
trimmed past them), and a group upgraded to a supergroup taking its state along.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from alerts.domain.jobs import Job
from alerts.storage.digests import Schedule
from alerts.storage.keys import OUTBOX_GROUP, Keys
from alerts.storage.outbox import DeliveryWorker
from alerts.storage.subscriptions import Signal
from fakes.tg_harness import Harness, telegram_app
from handlers.chat.reply import Request

OLD_GROUP, NEW_GROUP = -4001, -1_001_234_567_890


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 15.0) -> None:
    """Wait for an outcome the App's background loops produce (not a timing assertion)."""
    for _ in range(int(seconds / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not true after {seconds}s: {what}")


async def dead_letters(h: Harness) -> list[dict[str, str]]:
    return await h.app.worker.dead.recent(100)


async def test_a_lone_alert_goes_out_at_once_and_later_ones_join_the_next_message(
    redis: Redis, prefix: str
) -> None:
    async with telegram_app(redis, prefix) as h:
        for level in (9.3, 9.4, 9.5):
            await h.alert(1101, "LINK", level)
        assert await h.tick("LINK", 9.35) == 1
        # the first message reaches the chat API with nothing else fired: no waiting for company
        (first,) = await h.tg.wait_for(1, chat_id=1101, timeout=10)
        assert await h.tick("LINK", 9.45) == 1  # these fire while the chat's slot is busy
        assert await h.tick("LINK", 9.55) == 1
        await h.tg.wait_for(2, chat_id=1101, timeout=10)
        await h.quiet(1101, seconds=3.5)
        first, second = h.tg.messages_to(1101)
        assert "crossed above 9.3" in (first.text or "") and "notifications" not in first.text
        assert "2 notifications" in (second.text or "")
        assert "above 9.4" in second.text and "above 9.5" in second.text


async def test_a_personal_alert_overtakes_a_queued_broadcast(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix) as h:
        subscribers = [f"tg:{2_000_001 + i}" for i in range(150)]
        for chat in subscribers:
            await h.app.subscriptions.subscribe(chat, ["r2k"])
        await h.alert(1201, "LINK", 9.5)
        signal = Signal("r2k", "test-record", "R2K record close", ["a line"])
        assert await h.app.subscriptions.publish(signal, h.clock()) == len(subscribers)
        assert await h.tick("LINK", 9.6) == 1  # fired while ~150 broadcast jobs wait
        await h.tg.wait_for(1, chat_id=1201, timeout=20)
        sent = [m for m in h.tg.sent if m.method == "sendMessage"]
        position = next(i for i, m in enumerate(sent) if m.chat_id == 1201)
        # behind at most the sends already inside the transport (the gate's permits)
        assert position < 40, position
        await h.tg.wait_for(len(subscribers) + 1, method="sendMessage", timeout=30)
        await h.quiet(seconds=1.0)
        for chat in subscribers:
            assert len(h.tg.texts_to(int(chat[3:]))) == 1


async def test_a_group_without_posting_rights_is_dead_lettered_once_and_paused(
    redis: Redis, prefix: str, keys: Keys
) -> None:
    async with telegram_app(redis, prefix) as h:
        for level in (9.3, 9.4, 9.5):
            await h.alert(-5001, "LINK", level)
        h.tg.forbid_posting(-5001)
        await h.price("LINK", 9.6)

        async def buried() -> bool:
            return len(await dead_letters(h)) == 3

        await until(buried, "three dead letters")
        dead = await dead_letters(h)
        assert {d["dead.tries"] for d in dead} == {"1"}  # permanent: never retried
        assert all("not enough rights" in d["dead.why"].lower() for d in dead)
        reason = await h.app.alerts.paused_reason("tg:-5001")
        assert reason is not None and "not enough rights" in reason.lower()
        listing = await h.app.core.handle(Request("tg:-5001", "tg:1", "/alerts"))
        assert listing is not None and reason in "\n".join(listing.lines)  # told how to resume
        assert "/start" in listing.lines[-1]
        await h.app.worker.trim()
        assert await redis.xlen(keys.outbox) == 0  # nothing holds trimming back
        assert (await h.app.worker.depth())[1] == 0


async def test_transient_failures_are_retried_three_times_then_dead_lettered(
    redis: Redis, prefix: str, keys: Keys
) -> None:
    async with telegram_app(redis, prefix) as h:
        h.app.worker.retry_backoff = (0.2, 0.4)
        await h.alert(1301, "LINK", 9.5)
        await redis.xadd(keys.outbox, {"t": "signal", "chat": "dc:u:77", "title": "x",
                                       "body": "y", "at": "1", "tick": "1"})  # fmt: skip
        h.tg.set_outage(502, methods="sendMessage")
        await h.price("LINK", 9.6)

        async def buried() -> bool:
            return len(await dead_letters(h)) == 2

        await until(buried, "both jobs dead-lettered")
        dead = {d["dead.why"]: d for d in await dead_letters(h)}
        assert dead["no transport"]["dead.tries"] == "3"  # e.g. the Discord token was removed
        [(why, gateway)] = [(w, d) for w, d in dead.items() if w != "no transport"]
        assert gateway["dead.tries"] == "3" and "Bad Gateway" in why
        assert not await h.app.alerts.is_paused("tg:1301")  # transient: the chat stays on
        h.tg.set_outage(None)
        await h.app.worker.trim()
        assert await redis.xlen(keys.outbox) == 0
        assert h.app.services.stats is not None
        assert (await h.app.services.stats()).dead_letters == 2  # /stats shows it
        _, details = await h.app.health_check()
        assert details["dead_letters"] == 2
        assert h.app.metrics.dead_letters._value.get() == 2  # altbot_dead_letters


async def test_a_group_upgraded_to_a_supergroup_takes_its_state_along(
    redis: Redis, prefix: str
) -> None:
    old, new = f"tg:{OLD_GROUP}", f"tg:{NEW_GROUP}"
    async with telegram_app(redis, prefix) as h:
        fires = await h.alert(OLD_GROUP, "LINK", 9.5)
        stays = await h.alert(OLD_GROUP, "LINK", 12.0)
        await h.app.subscriptions.subscribe(old, ["r2k", "regime"])
        assert await h.app.watchlists.add(old, "SOL/USDT") == "added"
        digests = h.app.services.digests
        assert digests is not None
        await digests.set(old, Schedule(8, 30, "Europe/Berlin"), h.clock())
        h.tg.migrate_chat(OLD_GROUP, NEW_GROUP)
        await h.price("LINK", 9.6)
        [moved] = await h.tg.wait_for(1, chat_id=NEW_GROUP, timeout=10)
        assert f"#{fires} LINK/USDT crossed above 9.5" in (moved.text or "")
        await h.quiet(NEW_GROUP, seconds=3.5)  # re-sent there once
        assert h.tg.messages_to(OLD_GROUP) == []
        assert [a.id for a in await h.app.alerts.list(new)] == [stays]
        assert await h.app.alerts.list(old) == []
        assert await h.app.subscriptions.of(new) == ["r2k", "regime"]
        assert await h.app.subscriptions.subscribers("r2k") == [new]
        assert await h.app.watchlists.of(new) == ["SOL/USDT"]
        assert await h.app.watchlists.of(old) == []
        assert await redis.hget(h.app.keys.watchers, "SOL/USDT") == "1"
        assert await digests.get(old) is None
        assert (await digests.get(new)) is not None


async def test_the_migration_service_message_moves_the_group(redis: Redis, prefix: str) -> None:
    old, new = f"tg:{OLD_GROUP}", f"tg:{NEW_GROUP}"
    async with telegram_app(redis, prefix) as h:
        alert_id = await h.alert(OLD_GROUP, "LINK", 12.0)
        h.tg.migrate_chat(OLD_GROUP, NEW_GROUP, announce=True)

        async def moved() -> bool:
            return [a.id for a in await h.app.alerts.list(new)] == [alert_id]

        await until(moved, "the alert listed in the new supergroup")
        assert await h.app.alerts.list(old) == []
        record = await h.app.alerts.get_own(new, alert_id)
        assert record.chat == new


async def test_trimming_goes_past_a_job_waiting_for_its_retry(
    redis: Redis, prefix: str, keys: Keys
) -> None:
    async with telegram_app(redis, prefix) as h:
        h.app.worker.retry_backoff = (600.0, 600.0)  # the failed job stays parked meanwhile
        await h.alert(1401, "LINK", 9.5)
        await h.alert(1402, "LINK", 9.7)
        h.tg.block_chat(1401, 502, "Bad Gateway")  # transient for this chat only
        await h.tick("LINK", 9.6)

        async def parked() -> bool:
            rows = await redis.xpending_range(keys.outbox, OUTBOX_GROUP, "-", "+", 10, "retry")
            return len(rows) == 1

        await until(parked, "chat 1401's job parked for a retry")
        assert await h.tick("LINK", 9.8) == 1  # a later job, delivered and acknowledged
        await h.tg.wait_for(1, chat_id=1402, timeout=10)
        await until(lambda: _no_pending_but(redis, keys, 1), "chat 1402's job acknowledged")
        await h.app.worker.trim()
        [(_, fields)] = await redis.xrange(keys.outbox)
        assert fields["rec"].startswith("tg:1401|")  # only the parked job is left


async def _no_pending_but(redis: Redis, keys: Keys, count: int) -> bool:
    return int((await redis.xpending(keys.outbox, OUTBOX_GROUP))["pending"]) == count


async def test_a_job_held_long_in_flight_is_not_reclaimed_by_another_worker(
    redis: Redis, keys: Keys
) -> None:
    """In flight longer than the claim idle time (a slow chat API): renewal keeps it ours."""
    release, calls = asyncio.Event(), []

    async def slow(chat: str, jobs: list[Job]) -> None:
        calls.append(chat)
        await release.wait()

    async def sink(chat: str, jobs: list[Job]) -> None:
        calls.append(f"reclaimed {chat}")

    holder = DeliveryWorker(redis, keys, slow, consumer="holder", claim_idle_ms=3000)
    other = DeliveryWorker(redis, keys, sink, consumer="other", claim_idle_ms=3000)
    await holder.ensure_group()
    job = {"t": "signal", "chat": "x:1", "title": "t", "body": "b", "at": "1", "tick": "1"}
    await redis.xadd(keys.outbox, job)
    running = asyncio.create_task(holder.run())
    for _ in range(100):
        if calls:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(4.5)  # longer than the claim idle time
    assert await other.reclaim_once() == 0
    release.set()
    holder.request_stop()
    await running
    assert calls == ["x:1"]
    assert (await redis.xpending(keys.outbox, OUTBOX_GROUP))["pending"] == 0
