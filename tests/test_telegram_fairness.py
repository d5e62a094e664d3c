"""Telegram under load, end to end (real App + PTB + Redis, fake Bot API enforcing limits):
a flooding chat never delays another chat's answer and gets one refusal per window;
paid broadcasts carry `allow_paid_broadcast`, personal alerts never do."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from alerts.domain.chat import COMMANDS_PER_MINUTE
from alerts.storage.subscriptions import Signal
from fakes.tg_harness import telegram_app

FLOOD = 60


async def test_a_flooding_chat_never_delays_another_chats_answer(
    redis: Redis, prefix: str
) -> None:
    async with telegram_app(redis, prefix, enforce_limits=True) as h:
        for _ in range(FLOOD):
            h.tg.push_command(301, "/coin LINK")
        answer = await h.say(302, "/help", wait=30)
        assert "/coin" in answer.text
        # answered while the flooding chat was still waiting for its own replies (1/s)
        assert len(h.posts(301)) < COMMANDS_PER_MINUTE + 1
        await h.tg.wait_for(COMMANDS_PER_MINUTE + 1, chat_id=301, timeout=90)
        await h.quiet(301, seconds=2.5)
        texts = h.tg.texts_to(301)
        assert len(texts) == COMMANDS_PER_MINUTE + 1  # 20 answers and one refusal, then silence
        assert sum("Slow down" in text for text in texts) == 1
        assert h.tg.too_many_requests == 0


async def test_paid_broadcast_marks_signals_only(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix, telegram_paid_broadcast=True) as h:
        await h.say(401, "/subscribe r2k")
        await h.alert(402, "LINK", 9.5)
        signal = Signal("r2k", "test-record", "R2K at a record", ["A new all-time high."])
        assert await h.app.subscriptions.publish(signal, time.time()) == 1
        await h.price("LINK", 9.6)
        _, broadcast = await h.tg.wait_for(2, chat_id=401, method="sendMessage", timeout=10)
        (personal,) = await h.tg.wait_for(1, chat_id=402, method="sendMessage", timeout=10)
        assert "R2K at a record" in (broadcast.text or "")
        assert broadcast.params.get("allow_paid_broadcast") in (True, "true", "True")
        assert "allow_paid_broadcast" not in personal.params


async def test_broadcasts_are_free_unless_paid_broadcast_is_on(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix) as h:
        await h.say(403, "/subscribe r2k")
        signal = Signal("r2k", "test-record-free", "R2K at a record", ["A new all-time high."])
        assert await h.app.subscriptions.publish(signal, time.time()) == 1
        _, broadcast = await h.tg.wait_for(2, chat_id=403, method="sendMessage", timeout=10)
        assert "allow_paid_broadcast" not in broadcast.params
