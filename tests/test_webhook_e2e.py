"""/webhook end to end: real App + PTB against the fake Bot API, the real engine firing,
the App's webhook worker POSTing to an aiohttp receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re

from redis.asyncio import Redis

from alerts.domain.webhooks import verify
from fakes.tg_harness import Harness, shown, telegram_app
from fakes.webhook_receiver import NameMap, WebhookReceiver
from tests.test_delivery import until
from tests.test_engine_conditions import condition_alert

CHAT = 5151
OPEN = {"webhook_allow_private": True, "webhook_allow_http": True}


async def add(h: Harness, url: str, *extra: str) -> str:
    """`/webhook add`, returning the secret the reply shows once."""
    text = shown(await h.say(CHAT, " ".join(["/webhook add", url, *extra])))
    found = re.search(r"keep it safe\): (\S+)", text)
    assert found, text
    return found.group(1)


async def test_a_fired_alert_reaches_the_chat_and_the_webhook_once_signed(
    redis: Redis, prefix: str
) -> None:
    receiver = await WebhookReceiver().start()
    try:
        async with telegram_app(redis, prefix, **OPEN) as h:
            secret = await add(h, f"{receiver.url}/hook?token=abc")
            listed = shown(await h.say(CHAT, "/webhook list"))
            assert "/hook?…" in listed and secret not in listed and "token" not in listed
            alert_id = await h.alert(CHAT, "LINK", 9.5)
            before = len(h.tg.messages_to(CHAT))
            assert await h.tick("LINK", 9.6) == 1  # through the real engine's claim script
            await h.tg.wait_for(before + 1, chat_id=CHAT, timeout=15)  # the chat's message
            assert "crossed above 9.5" in (h.tg.messages_to(CHAT)[-1].text or "")

            async def arrived() -> bool:
                return len(receiver.received) >= 1

            await until(arrived, "the webhook POST")
            await h.quiet(CHAT, seconds=1.5)
            (got,) = receiver.received
            ts, sig = got.headers["X-Altbot-Timestamp"], got.headers["X-Altbot-Signature"]
            assert verify(secret, ts, sig, got.body, float(ts))
            assert got.json["alert_id"] == alert_id and got.json["type"] == "alert"
            assert got.json["condition"] == "above 9.5" and got.json["value"] == 9.6
    finally:
        await receiver.stop()


async def test_a_500_then_200_receiver_gets_the_alert_once_after_the_retry(
    redis: Redis, prefix: str
) -> None:
    receiver = await WebhookReceiver(statuses=[500]).start()
    try:
        async with telegram_app(redis, prefix, **OPEN) as h:
            h.app.webhook.worker.backoff = (0.2,)  # fast retries for the test
            await add(h, f"{receiver.url}/flaky")
            await h.alert(CHAT, "LINK", 9.5)
            assert await h.tick("LINK", 9.6) == 1

            async def retried() -> bool:
                return len(receiver.received) >= 2

            await until(retried, "the retried POST")
            await asyncio.sleep(1.0)
            first, second = receiver.received
            assert first.json["event_id"] == second.json["event_id"]
            assert len(receiver.received) == 2
    finally:
        await receiver.stop()


async def test_refusals_say_exactly_why(redis: Redis, prefix: str) -> None:
    dns = NameMap({"intranet.example": "10.0.0.1"})
    async with telegram_app(redis, prefix, webhook_resolver=dns) as h:
        for url, why in (
            ("http://127.0.0.1/x", "http:// URLs are refused — use https"),
            ("http://169.254.169.254/", "http:// URLs are refused — use https"),
            ("https://169.254.169.254/", "cloud metadata address (169.254.169.254)"),
            ("https://[::1]/x", "loopback address (::1)"),
            ("https://intranet.example/x", "that host resolves to a private address (10.0.0.1)"),
        ):
            assert why in shown(await h.say(CHAT, f"/webhook add {url}"))
        assert "No webhooks yet" in shown(await h.say(CHAT, "/webhook list"))
        assert "/webhook add URL" in shown(await h.say(CHAT, "/help"))


async def test_remove_asks_first_and_test_sends_a_test_event(redis: Redis, prefix: str) -> None:
    receiver = await WebhookReceiver().start()
    try:
        async with telegram_app(redis, prefix, **OPEN) as h:
            await add(h, f"{receiver.url}/t", "signals")
            assert "Test event queued" in shown(await h.say(CHAT, "/webhook test"))

            async def arrived() -> bool:
                return len(receiver.received) == 1

            await until(arrived, "the test event")
            assert receiver.received[0].json["type"] == "test"
            asked = shown(await h.say(CHAT, "/webhook remove 1"))
            assert "Remove webhook #1" in asked
            (hook,) = await h.app.webhook.webhooks.of(f"tg:{CHAT}")
            await h.press_for_reply(CHAT, f"whrm:{hook.id}:yes")
            assert await h.app.webhook.webhooks.of(f"tg:{CHAT}") == []
    finally:
        await receiver.stop()


async def test_an_on_close_indicator_alert_posts_its_bar_close_time(
    redis: Redis, prefix: str
) -> None:
    receiver = await WebhookReceiver().start()
    try:
        async with telegram_app(redis, prefix, **OPEN) as h:
            await add(h, f"{receiver.url}/bars")
            alert = condition_alert(900, "rsi14 1h above 70", chat=f"tg:{CHAT}")
            await h.app.engine.create(alert, quota=50)
            for value, close in ((65.0, 3600), (71.5, 7200)):  # the second bar close crosses
                await h.app.engine.evaluate("LINK/USDT", "rsi14@1h", value, close, close)

            async def arrived() -> bool:
                return len(receiver.received) == 1

            await until(arrived, "the indicator alert's POST")
            doc = receiver.received[0].json
            assert doc["alert_id"] == 900 and doc["value"] == 71.5
            assert doc["bar_time"] == "1970-01-01T02:00:00.000Z"
            assert doc["condition"].startswith("rsi14 1h above 70")
    finally:
        await receiver.stop()
