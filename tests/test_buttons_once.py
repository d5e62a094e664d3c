"""State-changing buttons act once: double taps and redelivered callbacks through the real
PTB transport against the fake Bot API (real App, Redis, engine and delivery worker)."""

from __future__ import annotations

from redis.asyncio import Redis

from fakes.tg_harness import Harness, shown, telegram_app
from tests.test_telegram_interaction import buttons

CHAT = 42
# what a repeated press of the first alert button hears (the copy may race the first one)
REPEATED = (
    "⚠️ This button already set alert #1. See /alerts.",
    "⚠️ Working on it: that button was just pressed.",
)


async def answers_after(h: Harness, before: int, count: int) -> list[str]:
    """The toasts of the next `count` callback answers (None for a silent answer)."""
    done = await h.tg.wait_for(before + count, method="answerCallbackQuery", timeout=10)
    return [m.text or "" for m in done[before : before + count]]


def answered(h: Harness) -> int:
    return len([m for m in h.tg.sent if m.method == "answerCallbackQuery"])


async def fired_once_alert(h: Harness) -> tuple[int, str]:
    """Set `LINK above 9.5`, cross it, and return (alert id, its Re-arm button data)."""
    await h.say(CHAT, "/alert LINK above 9.5")
    await h.tick("LINK", 9.2)
    await h.tick("LINK", 9.6)
    fired = (await h.tg.wait_for(lambda _: len(h.posts(CHAT)) == 2, timeout=10, chat_id=CHAT))[-1]
    (rearm,) = buttons(fired)
    await h.tick("LINK", 9.2)  # below the level again, so re-arming it is accepted
    return fired.message_id or 1, rearm[1]


async def test_rearm_pressed_three_times_creates_one_alert(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix) as h:
        message_id, data = await fired_once_alert(h)
        assert data == "rearm:1"
        _, first = await h.press_for_reply(CHAT, data, message_id)
        assert "Alert #2 set: LINK/USDT above 9.5" in shown(first)
        for _ in range(2):
            again = await h.press(CHAT, data, message_id)
            assert again.text == "⚠️ Already re-armed as #2. See /alerts."
        assert [a.id for a in await h.app.alerts.list(f"tg:{CHAT}")] == [2]
        # three taps at the same moment on another fired alert: still one new alert
        await h.tick("LINK", 9.6)  # #2 fires
        await h.tg.wait_for(lambda _: len(h.posts(CHAT)) == 4, timeout=10, chat_id=CHAT)
        await h.tick("LINK", 9.2)
        before, posts = answered(h), len(h.posts(CHAT))
        for _ in range(3):
            h.tg.push_callback(CHAT, "rearm:2", message_id=message_id)
        toasts = await answers_after(h, before, 3)
        await h.tg.wait_for(lambda _: len(h.posts(CHAT)) == posts + 1, chat_id=CHAT)
        assert sorted(toasts)[0] == ""  # the press that won posts the new alert
        assert all("re-armed as #3" in t or "just pressed" in t for t in sorted(toasts)[1:])
        assert [a.id for a in await h.app.alerts.list(f"tg:{CHAT}")] == [3]
        await h.quiet(CHAT, seconds=1.0)
        assert len(h.posts(CHAT)) == posts + 1


async def test_a_redelivered_alert_button_update_creates_one_alert(
    redis: Redis, prefix: str
) -> None:
    async with telegram_app(redis, prefix) as h:
        coin = await h.say(CHAT, "/coin LINK")
        data = dict(buttons(coin))
        plus40, plus150 = data["Alert +40%"], data["Alert +150%"]
        assert plus40.startswith("mk:LINK:40:") and len(plus40.encode()) <= 64
        update = h.tg.callback_update(CHAT, plus40, message_id=coin.message_id or 1)
        before, posts = answered(h), len(h.posts(CHAT))
        for _ in range(3):  # Telegram sends the same update again (its offset was not confirmed)
            h.tg.push_update(update)
        toasts = await answers_after(h, before, 3)
        assert sorted(toasts)[0] == ""  # the update handled first posts the alert
        assert all(toast in REPEATED for toast in sorted(toasts)[1:])
        alerts = await h.app.alerts.list(f"tg:{CHAT}")
        assert [(a.id, a.kind) for a in alerts] == [(1, "pu")]
        await h.tg.wait_for(lambda _: len(h.posts(CHAT)) > posts, chat_id=CHAT)
        assert "Alert #1 set: LINK/USDT +40%" in shown(h.posts(CHAT)[posts])
        _, other = await h.press_for_reply(CHAT, plus150, coin.message_id or 1)  # its own nonce
        assert "Alert #2 set: LINK/USDT +150%" in shown(other)
        refreshed = await h.say(CHAT, "/coin LINK")  # fresh buttons act again
        assert dict(buttons(refreshed))["Alert +40%"] != plus40
        old_style = await h.press(CHAT, "mk:LINK:40", coin.message_id or 1)  # before nonces
        assert "no longer valid" in (old_style.text or "")
        assert len(await h.app.alerts.list(f"tg:{CHAT}")) == 2


async def test_snooze_delete_undo_and_unwatch_pressed_twice_act_once(
    redis: Redis, prefix: str
) -> None:
    async with telegram_app(redis, prefix) as h:
        await h.say(CHAT, "/alert LINK above 9.5 repeat cooldown 1m")
        await h.tick("LINK", 9.2)
        await h.tick("LINK", 9.6)
        fired = (await h.tg.wait_for(lambda _: len(h.posts(CHAT)) == 2, chat_id=CHAT))[-1]
        mid = fired.message_id or 1
        _, snoozed = await h.press_for_reply(CHAT, "snz:1", mid)
        assert "snoozed until" in shown(snoozed)
        until = (await h.app.alerts.get_own(f"tg:{CHAT}", 1)).snoozed_until
        h.clock.advance(600)  # ten minutes later the same button again: the first hour stands
        again = await h.press(CHAT, "snz:1", mid)
        assert (again.text or "").startswith("⚠️ Alert #1 is already snoozed until")
        assert (await h.app.alerts.get_own(f"tg:{CHAT}", 1)).snoozed_until == until

        _, deleted = await h.press_for_reply(CHAT, "del:1", mid)
        assert "Deleted alert #1" in shown(deleted)
        gone = await h.press(CHAT, "del:1", mid)
        assert "No alert #1 in this chat" in (gone.text or "")

        sub = await h.say(CHAT, "/subscribe r2k")
        undo = dict(buttons(sub))["Undo"]
        posts = len(h.posts(CHAT))
        for _ in range(3):
            await h.press(CHAT, undo, sub.message_id or 1)
        await h.tg.wait_for(lambda _: len(h.posts(CHAT)) == posts + 3, chat_id=CHAT)
        texts = [shown(m) for m in h.posts(CHAT)[posts:]]
        assert texts[0].startswith("🔕 Unsubscribed from r2k")
        assert all(t.startswith("This chat was not subscribed to r2k") for t in texts[1:])
        assert await h.app.subscriptions.of(f"tg:{CHAT}") == []

        watched = await h.say(CHAT, "/watch add SOL")
        remove = dict(buttons(watched))["Remove SOL"]
        _, removed = await h.press_for_reply(CHAT, remove, watched.message_id or 1)
        assert "Removed SOL/USDT" in shown(removed)
        twice = await h.press(CHAT, remove, watched.message_id or 1)
        assert "SOL/USDT is not on this chat's watchlist" in (twice.text or "")
        assert await h.app.watchlists.of(f"tg:{CHAT}") == []
        watchers = await h.app.redis.hget(h.app.keys.watchers, "SOL/USDT")
        assert watchers in (None, "0")  # the reference count went down once, not twice


async def test_a_webhook_redelivery_of_a_press_acts_once(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix, webhook=True) as h:
        assert await h.tg.deliver_via_webhook(h.tg.command_update(CHAT, "/coin LINK")) == 200
        (coin,) = await h.tg.wait_for(1, chat_id=CHAT, timeout=10)
        press = h.tg.callback_update(
            CHAT, dict(buttons(coin))["Alert +150%"], message_id=coin.message_id or 1
        )
        for _ in range(2):  # Telegram posts the update again when it saw no 200 in time
            assert await h.tg.deliver_via_webhook(press) == 200
        first, second = sorted(await answers_after(h, 0, 2))
        assert first == "" and second in REPEATED
        alerts = await h.app.alerts.list(f"tg:{CHAT}")
        assert [(a.id, a.kind) for a in alerts] == [(1, "pu")]
