"""The per-token send budget in the real Redis: shared by replicas, per chat, 429 pauses.

Two `SendBudget`s on separate Redis clients stand for two replicas sending with one
token. Assertions count waits (the budget's own counter), never elapsed time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from alerts.domain.delivery import TELEGRAM, Budget, SendClass
from alerts.storage.keys import BUDGET_OVERALL, BUDGET_PAUSE, Keys, token_id
from alerts.storage.send_budget import SendBudget
from tests.conftest import REDIS_URL

TOKEN = "123456789:budget-test-token"
SLOW = Budget(per_second=5.0)  # 200 ms apart: a second send right away must wait
CHATTY = Budget(per_second=1000.0, burst=100, chat_seconds=1.0, group_seconds=3.1)


@pytest.fixture
async def other_client() -> AsyncIterator[Redis]:
    """A second connection, as another replica would have."""
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


async def test_two_replicas_share_one_overall_budget(
    redis: Redis, other_client: Redis, keys: Keys
) -> None:
    first = SendBudget(redis, keys, TOKEN, SLOW)
    second = SendBudget(other_client, keys, TOKEN, SLOW)
    await first.acquire()
    assert first.waits == 0
    await second.acquire()  # the slot the first replica took is gone for both
    assert second.waits >= 1


async def test_another_token_has_its_own_budget(redis: Redis, keys: Keys) -> None:
    await SendBudget(redis, keys, TOKEN, SLOW).acquire()
    other = SendBudget(redis, keys, "987654321:another-token", SLOW)
    await other.acquire()
    assert other.waits == 0


async def test_a_busy_chat_waits_for_its_spacing_and_others_do_not(
    redis: Redis, keys: Keys
) -> None:
    budget = SendBudget(redis, keys, TOKEN, CHATTY)
    await budget.acquire("42")
    await budget.acquire("43")
    await budget.acquire("-100", group=True)
    assert budget.waits == 0
    await budget.acquire("42")  # 1 s since its last message has not passed
    assert budget.waits >= 1


async def test_a_chat_waiting_for_its_spacing_does_not_hold_up_other_chats(
    redis: Redis, keys: Keys
) -> None:
    budget = SendBudget(redis, keys, TOKEN, CHATTY)
    await budget.acquire("42")
    order: list[str] = []

    async def send(chat: str) -> None:
        await budget.acquire(chat)
        order.append(chat)

    busy = asyncio.create_task(send("42"))  # queued first, but must wait ~1 s
    await asyncio.sleep(0)
    await asyncio.gather(*(send(str(chat)) for chat in range(100, 110)))
    assert not busy.done()  # ten other chats went out while chat 42 waited
    await busy
    assert order[-1] == "42" and len(order) == 11


async def test_a_429_pause_holds_every_replica_and_is_never_shortened(
    redis: Redis, other_client: Redis, keys: Keys
) -> None:
    first = SendBudget(redis, keys, TOKEN, TELEGRAM)
    second = SendBudget(other_client, keys, TOKEN, TELEGRAM)
    await first.pause(0.3)
    await first.pause(0.01)  # a shorter retry_after never cuts the pause short
    pause_key = keys.budget(token_id(TOKEN), BUDGET_PAUSE)
    assert int(await redis.pttl(pause_key)) > 100
    await second.acquire("42")
    assert second.waits >= 1
    assert int(await redis.pttl(pause_key)) < 0  # waited out, the key expired


async def test_paid_broadcasts_spend_their_own_budget_personal_keeps_its_own(
    redis: Redis, keys: Keys
) -> None:
    paid = Budget(per_second=1000.0, burst=100)
    budget = SendBudget(redis, keys, TOKEN, SLOW, paid_broadcast=paid)
    await budget.acquire("1", send_class=SendClass.PERSONAL)
    for chat in range(2, 12):  # ten broadcasts right after a personal message: no wait
        await budget.acquire(str(chat), send_class=SendClass.BROADCAST)
    assert budget.waits == 0
    await budget.acquire("12", send_class=SendClass.PERSONAL)  # 5/s: must wait
    assert budget.waits >= 1


async def test_budget_keys_name_a_hash_of_the_token_never_the_token(
    redis: Redis, keys: Keys, prefix: str
) -> None:
    budget = SendBudget(redis, keys, TOKEN, Budget(per_second=0.5, chat_seconds=1.0))
    await budget.acquire("42")
    await budget.pause(0.5)
    names = [key async for key in redis.scan_iter(match=f"{prefix}:budget:*")]
    assert keys.budget(token_id(TOKEN), BUDGET_OVERALL) in names and len(names) == 3
    assert all(TOKEN not in name and TOKEN.split(":")[1] not in name for name in names)
    for name in names:  # nothing is kept for ever
        assert int(await redis.pttl(name)) > 0


def test_send_class_of_a_message() -> None:
    assert SendClass.of(["signal", "signal"]) is SendClass.BROADCAST
    assert SendClass.of(["signal", "fire"]) is SendClass.PERSONAL
    assert SendClass.of(["digest"]) is SendClass.PERSONAL
    assert SendClass.of([]) is SendClass.PERSONAL
