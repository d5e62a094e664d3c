"""Telegram end to end: menus, onboarding, buttons (incl. forged ones), snooze, groups and
their admins, the allow-list, /stats and webhook mode — real App + PTB, fake Bot API."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from fakes.tg_harness import shown, telegram_app

GROUP = -100777
ADMIN, MEMBER = 7, 8


def buttons(message: object) -> list[tuple[str, str]]:
    markup = getattr(message, "reply_markup", None) or {}
    return [
        (b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row
    ]


async def test_menu_start_and_help(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix, admin_chat_ids=[4242]) as h:
        private = {c["command"] for c in h.tg.my_commands["all_private_chats"]}
        groups = {c["command"] for c in h.tg.my_commands["all_group_chats"]}
        assert {"start", "help", "coin", "alert", "alerts", "delete"} <= private
        assert private == groups and "stats" not in private
        assert "stats" in {c["command"] for c in h.tg.my_commands["chat:4242"]}
        start = await h.say(42, "/start")
        assert "Information, not advice" in shown(start)
        assert [label for label, _ in buttons(start)] == ["/coin LINK", "/regime", "/help"]
        help_ = await h.say(43, "/help")
        for spec in h.app.core.menu():  # operator commands are listed to operators only
            assert (f"e.g. {spec.example}" in shown(help_)) != spec.operator_only, spec.name


async def test_buttons_work_and_forged_or_stale_ones_get_a_polite_answer(
    redis: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    async with telegram_app(redis, prefix) as h:
        coin = await h.say(42, "/coin LINK")
        data = dict(buttons(coin))
        assert data["Refresh"] == "coin:LINK" and data["Alert +40%"].startswith("mk:LINK:40:")
        answer, refreshed = await h.press_for_reply(42, "coin:LINK", coin.message_id)
        assert answer.text is None and "LINK/USDT" in shown(refreshed)
        _, created = await h.press_for_reply(42, data["Alert +150%"], coin.message_id)
        assert "Alert #1 set: LINK/USDT +150%" in shown(created)
        before = len(h.posts(42))
        forged = ["del:999999", "nope:1", "mk:LINK:77:n", "mk:../x:40:n", "del:", "💥:x", "a" * 64]
        for data in forged:
            answer = await h.press(42, data, coin.message_id)
            assert answer.text and len(answer.text) <= 200, data
        assert "No alert #999999 in this chat" in (h.tg.sent[-7].text or "")
        # a query Telegram no longer knows: answering it fails with 400, quietly
        stale = h.tg.callback_update(42, "nope:1", message_id=coin.message_id)
        h.tg.callback_ids.pop(stale["callback_query"]["id"])
        h.tg.push_update(stale)
        await h.quiet(42, seconds=1.5)
        assert len(h.posts(42)) == before  # toasts only, nothing posted in the chat
        listing = await h.say(42, "/alerts")
        assert ("Delete #1", "del:1") in buttons(listing)
        _, deleted = await h.press_for_reply(42, "del:1", listing.message_id)
        assert "Deleted alert #1" in shown(deleted)
    assert not [r for r in caplog.records if "telegram update failed" in r.getMessage()]


async def test_fired_repeat_alert_can_be_snoozed_for_an_hour(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix) as h:
        await h.say(42, "/alert LINK above 9.5 repeat cooldown 1m")
        await h.tick("LINK", 9.2)
        await h.tick("LINK", 9.6)
        fired = (await h.tg.wait_for(2, chat_id=42, timeout=10))[1]
        assert buttons(fired) == [("Delete #1", "del:1"), ("Snooze 1h", "snz:1")]
        _, snoozed = await h.press_for_reply(42, "snz:1", fired.message_id)
        assert "snoozed until" in shown(snoozed)
        h.clock.advance(120)  # past the 1m cooldown, inside the snooze
        await h.tick("LINK", 9.3)
        assert await h.tick("LINK", 9.7) == 0
        await h.quiet(42, seconds=1.5)
        listing = await h.say(42, "/alerts")
        assert "snoozed until" in shown(listing)
        h.clock.advance(3600)  # the hour is over: the alert speaks again
        await h.tick("LINK", 9.3)
        assert await h.tick("LINK", 9.7) == 1
        await h.tg.wait_for(lambda _: len(h.posts(42)) == 5, timeout=10)
        assert "crossed above 9.5" in shown(h.posts(42)[-1])
        gone = await h.press(42, "snz:2", fired.message_id)  # no such alert: polite
        assert "No alert #2" in (gone.text or "")


async def test_group_commands_only_admins_change_alerts(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix) as h:
        h.tg.add_chat(GROUP, "supergroup", title="Desk")
        h.tg.set_member_status(GROUP, ADMIN, "administrator")
        h.tg.set_member_status(GROUP, MEMBER, "member")
        kw = {"chat_type": "supergroup"}
        refused = await h.say(GROUP, "/alert LINK above 9.5", user_id=MEMBER, **kw)
        assert "Only this group's admins" in shown(refused)
        assert await h.app.alerts.list(f"tg:{GROUP}") == []
        created = await h.say(GROUP, "/alert@altbot_test_bot LINK above 9.5", user_id=ADMIN, **kw)
        assert "Alert #1 set" in shown(created)
        listing = await h.say(GROUP, "/alerts", user_id=MEMBER, **kw)  # reading is for all
        assert "#1 LINK/USDT above 9.5" in shown(listing)
        answer = await h.press(GROUP, "del:1", listing.message_id, user_id=MEMBER)
        assert "Only this group's admins" in (answer.text or "")
        assert len(await h.app.alerts.list(f"tg:{GROUP}")) == 1
        # not for us, or not a command: the bot stays silent in groups
        h.tg.push_command(GROUP, "/coin@someotherbot LINK", user_id=MEMBER, **kw)
        h.tg.push_command(GROUP, "/weather Paris", user_id=MEMBER, **kw)
        h.tg.push_text(GROUP, "LINK to the moon", user_id=MEMBER, **kw)
        await h.quiet(GROUP, seconds=2.0)
        _, deleted = await h.press_for_reply(GROUP, "del:1", listing.message_id, user_id=ADMIN)
        assert "Deleted alert #1" in shown(deleted)
        member_checks = h.tg.requests_to("getChatMember")
        assert len(member_checks) == 2  # one per user: cached afterwards


async def test_allow_list_and_admin_stats(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix, allowed_chat_ids=[42], admin_chat_ids=[4242]) as h:
        refusal = await h.say(99, "/coin LINK")
        assert "private" in shown(refusal)
        h.tg.push_command(99, "/coin LINK")
        await h.quiet(99, seconds=1.5)  # one refusal, then silence
        assert "LINK/USDT" in shown(await h.say(42, "/coin LINK"))
        assert "for the bot's admins" in shown(await h.say(42, "/stats"))
        await h.say(42, "/alert LINK above 9.5")
        await h.say(4242, "/alert LINK above 9.9")
        await h.price("LINK", 9.6)
        await h.tg.wait_for(4, chat_id=42, timeout=10)
        stats = shown(await h.say(4242, "/stats"))
        assert "Users: 2\n" in stats and "Active alerts: 1\n" in stats
        assert "Fired today (UTC): 1\n" in stats and "Delivery queue: 0 in flight" in stats
        assert "Last exchange poll: " in stats and "s ago" in stats


async def test_webhook_mode_checks_the_secret(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix, webhook=True) as h:
        hook = h.app.telegram.webhook
        assert h.tg.webhook["url"] == hook.url and h.tg.webhook["secret_token"] == hook.secret
        assert "/telegram/" in hook.url and len(hook.url.rsplit("/", 1)[1]) == 32
        wrong = await h.tg.deliver_via_webhook(h.tg.command_update(42, "/coin LINK"), "nope")
        missing = await h.tg.deliver_via_webhook(
            h.tg.command_update(42, "/coin LINK"), omit_secret=True
        )
        assert (wrong, missing) == (403, 403)
        ok = await h.tg.deliver_via_webhook(h.tg.command_update(42, "/coin LINK"))
        assert ok == 200
        (reply,) = await h.tg.wait_for(1, chat_id=42, timeout=10)
        assert "LINK/USDT" in shown(reply)
        await h.quiet(42, seconds=1.0)  # the rejected updates were never handled
        assert h.tg.requests_to("getUpdates") == []  # no long polling in webhook mode
        assert hook.rejected == 2 and hook.received == 1
