"""/subscribe, /unsubscribe, /subscriptions and their buttons through the real command core."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from alerts.storage.subscriptions import SIGNALS
from bot.app import App
from handlers.chat.core import CommandCore
from handlers.chat.reply import Reply, Request
from tests.replay import replay_app


@pytest.fixture
def app(redis: Redis, prefix: str) -> App:
    return replay_app(redis, prefix)


async def ask(core: CommandCore, text: str, chat: str = "tg:1", **kw: object) -> Reply:
    reply = await core.handle(Request(chat, chat, text, **kw))  # type: ignore[arg-type]
    assert reply is not None
    return reply


async def test_subscribe_unsubscribe_subscriptions_with_undo(app: App) -> None:
    core = app.core
    reply = await ask(core, "/subscribe r2k")
    assert reply.title == "✅ Subscribed to r2k"
    assert reply.buttons[0][0].label == "Undo" and reply.buttons[0][0].data == "subs:rm:r2k"
    assert await app.subscriptions.subscribers("r2k") == ["tg:1"]
    listing = await ask(core, "/subscriptions")
    assert listing.title == "Signal subscriptions (1/4)"
    assert listing.lines[0].startswith("✅ r2k") and listing.lines[1].startswith("▫️ regime")
    undo = await core.handle_callback(Request("tg:1", "tg:1", ""), "subs:rm:r2k")
    assert undo.title == "🔕 Unsubscribed from r2k"
    assert await app.subscriptions.of("tg:1") == []
    everything = await ask(core, "/subscribe")
    assert everything.title == "✅ Subscribed to r2k, regime, altseason, targets"
    again = await ask(core, "/subscribe regime")
    assert again.title == "Already subscribed to regime"
    gone = await ask(core, "/unsubscribe")
    assert gone.title == "🔕 Unsubscribed from r2k, regime, altseason, targets"
    assert gone.buttons[0][0].data == "subs:add:r2k,regime,altseason,targets"
    for name in SIGNALS:
        assert await app.subscriptions.subscribers(name) == []
    restored = await core.handle_callback(Request("tg:1", "tg:1", ""), gone.buttons[0][0].data)
    assert restored.title.startswith("✅ Subscribed to r2k")
    assert await app.subscriptions.of("tg:1") == list(SIGNALS)
    nothing = await ask(core, "/unsubscribe targets", chat="tg:9")
    assert nothing.title == "This chat was not subscribed to targets"


async def test_unknown_signal_names_list_the_valid_ones(app: App) -> None:
    reply = await ask(app.core, "/subscribe moon")
    assert reply.tone == "error" and "no signal called 'moon'" in reply.title
    assert reply.lines == ["Valid: r2k, regime, altseason, targets (or none for all)."]
    reply = await ask(app.core, "/unsubscribe r2k,nope")
    assert "'nope'" in reply.title
    assert await app.subscriptions.of("tg:1") == []


async def test_group_members_who_are_not_admins_cannot_change_subscriptions(app: App) -> None:
    core = app.core
    member = {"is_group": True, "is_admin": False}
    for text in ("/subscribe", "/unsubscribe r2k"):
        refused = await ask(core, text, chat="tg:-100", **member)
        assert refused.tone == "error" and "admins" in refused.title
    forged = await core.handle_callback(Request("tg:-100", "u", "", True, False), "subs:add:r2k")
    assert forged.tone == "error" and "admins" in forged.title
    assert await app.subscriptions.of("tg:-100") == []
    listing = await ask(core, "/subscriptions", chat="tg:-100", **member)  # reading is fine
    assert listing.title == "Signal subscriptions (0/4)"
    admin = await ask(core, "/subscribe r2k", chat="tg:-100", is_group=True, is_admin=True)
    assert admin.title == "✅ Subscribed to r2k"
