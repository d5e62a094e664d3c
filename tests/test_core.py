"""The command core end to end over the demo replay feeds, the real store and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.app import App
from bot.feeds.replay import ReplayExchange
from handlers.chat.reply import Reply, Request
from tests.replay import ask, replay_app


@pytest.fixture
async def app(redis: Redis, prefix: str) -> AsyncIterator[App]:
    application = replay_app(redis, prefix, alert_quota_per_chat=3)
    await application.worker.ensure_group()
    await application.poller.run_once()
    yield application
    await application.stop()


async def test_coin_reply_has_price_change_volume_and_age(app: App) -> None:
    reply = await ask(app, "/coin link")
    fields = dict(reply.fields)
    snap = await app.store.snapshot("LINK/USDT")
    assert snap is not None
    assert fields["Price"].startswith(f"{snap.price:.3f}"[:4])
    assert fields["24h"].endswith("%") and "USDT" in fields["Volume 24h"]
    assert fields["Data age"] == "0s"
    assert "not advice" in (reply.footer or "")


async def test_stale_data_is_said_and_alerts_are_refused(app: App) -> None:
    exchange = app.exchange
    assert isinstance(exchange, ReplayExchange)
    exchange.now += 10 * app.settings.poll_interval_seconds  # no poll for a while
    reply = await ask(app, "/coin LINK")
    assert "STALE" in dict(reply.fields)["Data age"]
    assert any("Stale" in line for line in reply.lines)
    refused = await ask(app, "/alert LINK above 99")
    assert refused.tone == "error" and "No fresh price" in refused.title


async def test_alert_already_true_is_refused_with_price_and_hint(app: App) -> None:
    reply = await ask(app, "/alert LINK above 1")
    assert reply.tone == "error" and "already at" in reply.title
    assert reply.lines and "/alert LINK above" in reply.lines[0]


async def test_quota_isolation_and_delete(app: App) -> None:
    for level in (20, 21, 22):
        assert "✅" in (await ask(app, f"/alert LINK above {level}")).title
    over = await ask(app, "/alert LINK above 23")
    assert "already has 3 alerts" in over.title
    mine = await ask(app, "/alerts")
    assert mine.title.startswith("Your alerts (3/3)")
    theirs = await ask(app, "/alerts", chat="tg:2")
    assert theirs.title == "No alerts yet"
    alert_id = mine.buttons[0][0].data.split(":")[1]
    for attempt in (f"/delete {alert_id}",):
        assert "No alert" in (await ask(app, attempt, chat="tg:2")).title
    forged = await app.core.handle_callback(Request("tg:2", "tg:2", ""), f"del:{alert_id}")
    assert "No alert" in forged.title
    assert "Deleted" in (await ask(app, f"/delete {alert_id}")).title
    confirm = await ask(app, "/delete all")
    yes = confirm.buttons[0][0].data
    assert yes.startswith("delall:yes:")
    assert "✅" in (await ask(app, "/alert LINK above 24")).title  # set after the question
    done = await app.core.handle_callback(Request("tg:1", "tg:1", ""), yes)
    assert done.title == "🗑 Deleted 2 alerts."
    again = await app.core.handle_callback(Request("tg:1", "tg:1", ""), yes)
    assert again.tone == "error" and again.title == "⚠️ Those alerts are already deleted."
    assert [a.level for a in await app.alerts.list("tg:1")] == [24.0]


async def test_group_members_cannot_change_alerts(app: App) -> None:
    reply = await ask(app, "/alert LINK above 20", chat="tg:-100", is_group=True, is_admin=False)
    assert "admins" in reply.title
    ok = await ask(app, "/coin LINK", chat="tg:-100", is_group=True, is_admin=False)
    assert ok.tone != "error"


async def test_bad_input_gets_short_errors(app: App) -> None:
    assert await app.core.handle(Request("tg:1", "u", "just chatting")) is None
    for text in ("/coin", "/coin 💥", "/coin " + "A" * 10_000, "/nope", "/alert LINK sideways"):
        reply = await ask(app, text)
        assert reply.tone == "error" and len(reply.plain_text()) < 600


async def test_per_chat_rate_limit_refuses_once_then_stays_silent(app: App) -> None:
    req = Request(chat="tg:77", user="tg:77", text="/coin LINK")
    replies = [await app.core.handle(req) for _ in range(25)]
    assert all(r is not None and r.tone != "error" for r in replies[:20])
    refusal = replies[20]
    assert refusal is not None and "Slow down" in refusal.title
    assert replies[21:] == [None] * 4  # one refusal per window, then silence
    assert (await ask(app, "/coin LINK", chat="tg:78")).tone != "error"  # other chats unaffected


async def test_regime_reply_cites_numbers_and_caveat(app: App) -> None:
    reply = await ask(app, "/regime")
    assert reply.title.startswith("Regime: ")
    assert any(line.startswith("R2K ") for line in reply.lines)
    assert "not a forecast" in (reply.footer or "")


async def test_alert_fires_once_through_outbox(app: App) -> None:
    pushed: list[Reply] = []

    async def push(chat: str, reply: Reply, *_: object) -> None:
        pushed.append(reply)

    app.dispatch.attach("tg", push)
    assert "✅" in (await ask(app, "/alert LINK above 9.5")).title
    exchange = app.exchange
    assert isinstance(exchange, ReplayExchange)
    for _ in range(24):
        exchange.advance(app.settings.poll_interval_seconds)
        await app.poller.run_exchange_once()
        await app.worker.run_once(block_ms=None)
    assert len(pushed) == 1
    assert "crossed above 9.5" in pushed[0].lines[0]
    assert pushed[0].buttons[0][0].data.startswith("rearm:")


async def test_other_chats_cannot_rearm_or_snooze_by_forged_callbacks(app: App) -> None:
    async def push(chat: str, reply: Reply, *_: object) -> None:
        return None

    app.dispatch.attach("tg", push)
    created = await ask(app, "/alert LINK above 9.5 repeat")
    alert_id = created.title.split("#")[1].split(" ")[0]
    once = await ask(app, "/alert LINK above 9.6")
    once_id = once.title.split("#")[1].split(" ")[0]
    exchange = app.exchange
    assert isinstance(exchange, ReplayExchange)
    for _ in range(24):
        exchange.advance(app.settings.poll_interval_seconds)
        await app.poller.run_exchange_once()
        await app.worker.run_once(block_ms=None)
    intruder = Request("tg:666", "tg:666", "")
    forged = (f"rearm:{once_id}", f"snz:{alert_id}", f"del:{alert_id}", f"delall:yes:{alert_id}")
    for data in forged:
        reply = await app.core.handle_callback(intruder, data)
        assert reply.tone == "error", (data, reply.title)
    mine = await ask(app, "/alerts")
    assert f"#{alert_id}" in "\n".join(mine.lines)
    own = await app.core.handle_callback(Request("tg:1", "tg:1", ""), f"rearm:{once_id}")
    assert "already at" in own.title  # the owner reaches it: refused only as already true
