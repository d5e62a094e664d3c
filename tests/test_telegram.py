"""Telegram end to end: real App + real PTB + Redis against the fake Bot API and exchange.

Delivery: prices, alerts firing exactly once, 429 bursts, 403/400 pausing and /start
resuming, coalescing, long messages.
"""

from __future__ import annotations

from redis.asyncio import Redis

from alerts.domain import fmt
from alerts.storage.keys import OUTBOX_GROUP, Keys
from fakes.tg_harness import telegram_app
from handlers.chat.reply import Reply
from handlers.telegram.delivery import MAX_MESSAGE_CHARS


async def test_coin_reply_carries_the_exchange_price_change_and_volume(
    redis: Redis, prefix: str
) -> None:
    async with telegram_app(redis, prefix) as h:
        h.binance.set_price("LINK/USDT", 9.37, change_pct=4.25, quote_volume=61_500_000)
        await h.poll()
        reply = await h.say(42, "/coin LINK")
        assert reply.method == "sendMessage" and reply.parse_mode == "HTML"
        assert "LINK/USDT" in reply.text
        assert f"Price: <b>{fmt.price(9.37)} USDT</b>" in reply.text
        assert f"24h: <b>{fmt.pct(4.25)}</b>" in reply.text
        assert f"Volume 24h: <b>{fmt.volume(61_500_000, 'USDT')}</b>" in reply.text
        labels = [b["text"] for row in reply.reply_markup["inline_keyboard"] for b in row]
        assert "Refresh" in labels and "Alert +40%" in labels and "Alert +150%" in labels


async def test_alert_reaches_its_chat_exactly_once(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix) as h:
        created = await h.say(42, "/alert LINK above 9.5")
        assert "Alert #1 set" in created.text
        await h.price("LINK", 9.6)
        fired = await h.tg.wait_for(2, chat_id=42, timeout=10)
        assert "LINK/USDT crossed above 9.5" in fired[1].text
        assert fired[1].reply_markup["inline_keyboard"][0][0]["callback_data"] == "rearm:1"
        for price in (9.7, 9.4, 9.8, 9.6):  # back and forth: a once-alert is gone
            await h.price("LINK", price)
        await h.quiet(42)
        assert len(h.tg.messages_to(42)) == 2
        assert h.tg.messages_to(43) == []


async def test_429_bursts_delay_but_deliver_every_alert_once(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix) as h:
        chats = list(range(501, 511))
        for chat in chats:
            await h.alert(chat, "LINK", 9.5)
        h.tg.fail_next(4, 429, retry_after=1, methods="sendMessage")
        await h.price("LINK", 9.6)
        await h.tg.wait_for(len(chats), method="sendMessage", timeout=30)
        await h.quiet()
        assert h.tg.too_many_requests == 4
        assert h.app.telegram.limiter.retry_afters == 4
        for chat in chats:
            texts = h.tg.texts_to(chat)
            assert len(texts) == 1 and "LINK/USDT crossed above 9.5" in texts[0], (chat, texts)
        assert (await h.app.worker.depth())[1] == 0  # nothing left pending


async def test_blocked_chat_is_paused_not_deleted_and_start_resumes_it(
    redis: Redis, prefix: str, keys: Keys
) -> None:
    async with telegram_app(redis, prefix) as h:
        await h.alert(601, "LINK", 9.5)
        second = await h.alert(601, "LINK", 9.8)
        await h.alert(602, "LINK", 9.5)  # "chat not found" is handled the same way
        h.tg.block_chat(601)
        h.tg.block_chat(602, 400)
        await h.price("LINK", 9.6)
        await h.quiet(seconds=2.5)
        assert await h.app.alerts.is_paused("tg:601") and await h.app.alerts.is_paused("tg:602")
        assert (await h.app.worker.depth())[1] == 0  # the undeliverable job was settled
        await h.price("LINK", 9.9)  # crosses 9.8 while paused: kept, not fired, not lost
        assert [a.id for a in await h.app.alerts.list("tg:601")] == [second]
        h.tg.unblock_chat(601)
        welcome = await h.say(601, "/start")
        assert "altbot" in welcome.text and "were paused; they are back on" in welcome.text
        assert not await h.app.alerts.is_paused("tg:601")
        await h.price("LINK", 9.7)
        await h.price("LINK", 9.9)
        fired = await h.tg.wait_for(2, chat_id=601, timeout=10)
        assert "crossed above 9.8" in fired[1].text
        assert await h.app.alerts.is_paused("tg:602")  # still paused: it never came back


async def test_alerts_of_one_chat_firing_together_arrive_in_at_most_two_messages(
    redis: Redis, prefix: str
) -> None:
    """Leading edge: the first goes out at once, what fires meanwhile joins the next one."""
    async with telegram_app(redis, prefix) as h:
        await h.alert(701, "LINK", 9.5)
        await h.alert(701, "ADA", 0.95)
        await h.alert(701, "AVAX", 36)
        for level in range(30):
            await h.alert(702, "LINK", 9.3 + level / 200)
        h.binance.set_price("ADA/USDT", 0.96)
        h.binance.set_price("AVAX/USDT", 36.5)
        await h.price("LINK", 9.6)
        await h.tg.wait_for(lambda _: sum(t.count("crossed") for t in h.tg.texts_to(701)) >= 3,
                            timeout=10)  # fmt: skip
        await h.tg.wait_for(1, chat_id=702, timeout=10)
        await h.quiet(seconds=3.5)
        texts = h.tg.texts_to(701)
        assert 1 <= len(texts) <= 2
        for base in ("LINK", "ADA", "AVAX"):
            assert sum(f"{base}/USDT crossed" in t for t in texts) == 1, (base, texts)
        (burst,) = h.tg.texts_to(702)
        assert "30 notifications" in burst and "…and 5 more alerts fired: LINK/USDT ×5" in burst
        assert len(burst) <= MAX_MESSAGE_CHARS


async def test_a_second_burst_waits_for_the_gap_and_is_coalesced(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix) as h:
        for level in (9.3, 9.4, 9.5, 9.6, 9.7):
            await h.alert(711, "LINK", level)
        await h.price("LINK", 9.35)
        first = await h.tg.wait_for(1, chat_id=711, timeout=10)
        for price in (9.45, 9.55, 9.65, 9.75):  # four more ticks in quick succession
            assert await h.tick("LINK", price) == 1
        await h.tg.wait_for(2, chat_id=711, timeout=10)
        await h.quiet(711)
        first, second = h.tg.messages_to(711)
        assert "4 notifications" in second.text
        assert second.time - first.time >= h.app.telegram.coalesce.gap - 0.1


async def test_long_messages_are_split_cleanly(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix) as h:
        lines = [f'line {i:03d} <tag> & "quotes" {"x" * 40}' for i in range(120)]
        huge = "&<>" * 1500  # one line of 4500 chars, escaping to 18000
        await h.app.telegram.push("tg:801", Reply("Long one", [*lines, huge], footer="end"))
        sent = await h.tg.wait_for(1, chat_id=801)
        await h.quiet(801, seconds=1.5)
        sent = h.tg.messages_to(801)
        assert len(sent) >= 7
        assert all(
            m.method == "sendMessage" and len(m.text or "") <= MAX_MESSAGE_CHARS for m in sent
        )
        # the fake parsed every chunk's HTML (or it would have answered 400)
        plain = "".join(m.message["text"] for m in sent if m.message)
        for line in lines:
            assert line in plain
        assert plain.count("&<>") == 1500
        assert sent[-1].message["text"].endswith("end")


async def test_delivery_leaves_no_pending_jobs(redis: Redis, prefix: str, keys: Keys) -> None:
    async with telegram_app(redis, prefix) as h:
        await h.alert(901, "LINK", 9.5)
        await h.price("LINK", 9.6)
        await h.tg.wait_for(1, chat_id=901)
        await h.quiet(901, seconds=1.0)
        pending = await redis.xpending(keys.outbox, OUTBOX_GROUP)
        assert pending["pending"] == 0
