"""The Discord transport end to end: a real App and a real discord.py client against FakeDiscord.

Market data comes from the demo replay (deterministic prices) or FakeBinance; Redis is real.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from redis.asyncio import Redis

from alerts.domain import fmt
from bot.app import App
from bot.config import Settings
from bot.feeds.exchange import CcxtExchange, ExchangeChain
from bot.feeds.index_feed import YahooIndexFeed
from bot.feeds.replay import ReplayExchange, ReplayIndex, Scenario
from fakes.binance import FakeBinance
from fakes.discord import FakeDiscord
from handlers.chat.reply import Reply, Request
from handlers.discord.ui import alert_text
from tests.discord.support import (
    ADMIN,
    ALERTS,
    CLOSED,
    EPHEMERAL,
    GENERAL,
    GUILD,
    TODAY,
    TOKEN,
    TRADER,
    answer,
    command,
    custom_ids,
    embed,
    eventually,
    option,
    press,
    price,
    running_app,
    step,
)  # fmt: skip

pytestmark = pytest.mark.timeout(60)


# ---------------------------------------------------------------------------------- tests
def test_alert_options_become_the_text_command() -> None:
    assert alert_text("LINK", "above", "9.5", True, "7d") == "/alert LINK above 9.5 repeat for 7d"
    assert alert_text("avax", "percent", "40") == "/alert avax +40%"
    assert alert_text("ADA", "percent", "-20%") == "/alert ADA -20%"
    assert alert_text("BCH", "move", " 5%  1h ") == "/alert BCH move 5% 1h"
    assert alert_text("HBAR", "volume", "3x") == "/alert HBAR volume 3x"


async def test_commands_registered_with_options_and_choices(
    fake: FakeDiscord, replay_app: App
) -> None:
    names = {c["name"] for c in fake.commands[GUILD]}
    assert names == {"coin", "regime", "alert", "alerts", "delete", "chart", "help",
                     "subscribe", "unsubscribe", "start", "webhook"}
    assert fake.global_commands == []  # DISCORD_GUILD_ID: guild sync only
    alert = fake.command("alert", GUILD)
    assert alert is not None
    opts = {o["name"]: o for o in alert["options"]}
    assert list(opts) == ["symbol", "condition", "value", "repeat", "expires", "trigger"]
    assert [o.get("required", False) for o in opts.values()] == [True, True, True] + [False] * 3
    assert opts["symbol"]["autocomplete"] is True and opts["value"]["autocomplete"] is True
    assert [c["value"] for c in opts["condition"]["choices"]] == [
        "above", "below", "percent", "move", "volume", "condition"]
    assert opts["repeat"]["type"] == 5  # boolean
    delete = fake.command("delete", GUILD)
    assert delete is not None and delete["options"][0]["autocomplete"] is True
    chart = fake.command("chart", GUILD)
    assert chart is not None
    assert [c["value"] for c in chart["options"][1]["choices"]] == ["7d", "30d", "90d", "1y"]
    sub = fake.command("subscribe", GUILD)
    assert sub is not None
    channel = next(o for o in sub["options"] if o["name"] == "channel")
    assert channel["type"] == 7 and 0 in channel["channel_types"]  # text channels
    assert fake.unknown_routes == []


async def test_coin_autocomplete_offers_watched_and_listed_coins(
    fake: FakeDiscord, redis: Redis, prefix: str
) -> None:
    async with FakeBinance() as binance:
        exchange = ExchangeChain([CcxtExchange("binance", api_url=binance.url)])
        index = YahooIndexFeed("http://127.0.0.1:9")  # never asked in this test
        async with running_app(fake, redis, prefix, exchange, index, lambda: 0.0):
            await exchange.load(["LINK/USDT"])
            iid = await fake.autocomplete("coin", [{**option("symbol", "s"), "focused": True}],
                                          user_id=TRADER, guild_id=GUILD, channel_id=GENERAL)
            cb = await fake.wait_for_callback(iid)
            assert cb.type == 8
            assert [c["value"] for c in cb.data["choices"]] == ["SOL"]
            assert cb.data["choices"][0]["name"] == "SOL — listed"
            iid = await fake.autocomplete("coin", [{**option("symbol", "l"), "focused": True}],
                                          user_id=TRADER, guild_id=GUILD, channel_id=GENERAL)
            choices = (await fake.wait_for_callback(iid)).data["choices"]
            assert choices[0] == {"name": "LINK — watched", "value": "LINK"}


async def test_coin_answers_within_3s_with_a_price_embed(
    fake: FakeDiscord, replay_app: App
) -> None:
    rec = await command(fake, "coin", option("symbol", "link"))
    assert rec.callback is not None and rec.callback.type == 4
    assert rec.callback.elapsed < 3.0
    e = embed(rec)
    snap = await replay_app.store.snapshot("LINK/USDT")
    assert snap is not None
    assert e["title"] == "LINK/USDT"
    fields = {f["name"]: f for f in e["fields"]}
    assert fields["Price"]["value"] == f"{fmt.price(snap.price)} USDT"
    assert fields["Price"]["inline"] is True and "24h" in fields
    assert e["color"] in (0x2ECC71, 0xE74C3C)  # up green / down red
    assert "not advice" in e["footer"]["text"]
    assert "coin:LINK" in custom_ids(answer(rec))
    assert not answer(rec)["flags"] & EPHEMERAL  # a public answer in the channel

    bad = await command(fake, "coin", option("symbol", "NOPE"))
    assert bad.callback is not None and bad.callback.message is not None
    assert bad.callback.message["flags"] & EPHEMERAL  # errors are shown to the caller only
    assert embed(bad)["color"] == 0xE74C3C


async def test_chart_defers_then_attaches_the_image(fake: FakeDiscord, replay_app: App) -> None:
    rec = await command(fake, "chart", option("symbol", "LINK"), option("range", "30d"))
    assert rec.callback is not None and rec.callback.type == 5  # deferred: rendering is slow
    assert rec.callback.elapsed < 3.0
    msg = answer(rec)
    [att] = msg["attachments"]
    assert fake.file_bytes(att).startswith(b"\x89PNG")
    assert msg["embeds"][0]["image"]["url"] == f"attachment://{att['filename']}"


async def test_alert_by_slash_command_fires_exactly_one_dm(
    fake: FakeDiscord, replay_app: App
) -> None:
    app = replay_app
    level = round(price(app, "LINK", 0) * 1.01, 4)
    assert price(app, "LINK", 14) > level  # the replay rallies through it
    rec = await command(fake, "alert", option("symbol", "LINK"), option("condition", "above"),
                        option("value", str(level)))
    e = embed(rec)
    assert e["title"].startswith("✅ Alert #"), e
    assert answer(rec)["flags"] & EPHEMERAL  # personal: only the caller sees it in a server
    [alert] = await app.alerts.list(f"dc:u:{TRADER}")  # owned by the caller's DM chat
    assert alert.level == level

    iid = await fake.autocomplete("delete", [{**option("id", ""), "focused": True}],
                                  user_id=TRADER, guild_id=GUILD, channel_id=GENERAL)
    choices = (await fake.wait_for_callback(iid)).data["choices"]
    assert [c["value"] for c in choices] == [str(alert.id)]
    assert choices[0]["name"].startswith(f"#{alert.id} LINK/USDT above")
    iid = await fake.autocomplete("delete", [{**option("id", ""), "focused": True}],
                                  user_id=ADMIN, guild_id=GUILD, channel_id=GENERAL)
    assert (await fake.wait_for_callback(iid)).data["choices"] == []  # not someone else's

    for _ in range(14):
        await step(app)
    dms = await fake.wait_for_messages(lambda m: bool(m["embeds"]) and "🔔" in m["embeds"][0][
        "title"], timeout=5)
    await asyncio.sleep(0.2)
    assert len(fake.dm_messages(TRADER)) == 1 and fake.dm_messages(TRADER) == dms
    [dm] = dms[0]["embeds"]
    assert dm["title"] == "🔔 LINK/USDT alert" and f"#{alert.id}" in dm["description"]
    assert custom_ids(dms[0]) == [f"rearm:{alert.id}"]
    assert await app.alerts.list(f"dc:u:{TRADER}") == []


async def test_buttons_reach_the_core_for_the_pressers_own_chat(
    fake: FakeDiscord, replay_app: App
) -> None:
    level = round(price(replay_app, "ADA", 0) * 1.2, 4)
    await command(fake, "alert", option("symbol", "ADA"), option("condition", "above"),
                  option("value", str(level)), guild=False)  # in a DM with the bot
    listing = await command(fake, "alerts", guild=False)
    [alert] = await replay_app.alerts.list(f"dc:u:{TRADER}")
    assert f"del:{alert.id}" in custom_ids(answer(listing))
    rec = await press(fake, answer(listing), f"del:{alert.id}", user=TRADER, guild=False)
    assert rec.callback is not None and rec.callback.type == 4
    assert rec.callback.data["embeds"][0]["title"].startswith(f"🗑 Deleted alert #{alert.id}")
    assert await replay_app.alerts.list(f"dc:u:{TRADER}") == []


async def test_subscribe_for_a_channel_needs_manage_server(
    fake: FakeDiscord, replay_app: App
) -> None:
    channel = option("channel", str(ALERTS))
    resolved = {"channels": {str(ALERTS): {"id": str(ALERTS), "name": "alerts", "type": 0,
                                           "permissions": str((1 << 53) - 1)}}}
    refused = await command(fake, "subscribe", channel, user=TRADER, resolved=resolved)
    assert refused.callback is not None and refused.callback.message is not None
    assert refused.callback.message["flags"] & EPHEMERAL
    assert "Manage Server" in embed(refused)["title"]
    has_subscriptions = "subscribe" in replay_app.core.commands
    if has_subscriptions:
        assert await replay_app.subscriptions.of(f"dc:c:{ALERTS}") == []

    accepted = await command(fake, "subscribe", channel, user=ADMIN, resolved=resolved)
    assert "Manage Server" not in embed(accepted)["title"]  # passed on to the core
    dm = await command(fake, "subscribe", option("signal", "r2k"), user=TRADER)
    assert "Manage Server" not in embed(dm)["title"]
    if has_subscriptions:  # the core's /subscribe (issue: signals) stores them per chat
        assert embed(accepted)["title"].startswith("✅ Subscribed")
        assert await replay_app.subscriptions.of(f"dc:c:{ALERTS}") != []
        assert await replay_app.subscriptions.of(f"dc:u:{TRADER}") == ["r2k"]


async def test_429_burst_on_channel_messages_still_delivers_every_alert_once(
    fake: FakeDiscord, replay_app: App
) -> None:
    app = replay_app
    chat = f"dc:c:{ALERTS}"
    ids = []
    for base, up in (("LINK", 1.006), ("HBAR", 1.02), ("ADA", 1.03)):
        level = round(price(app, base, 0) * up, 6)
        reply = await app.core.handle(Request(chat, f"dc:{ADMIN}", f"/alert {base} above {level}",
                                              True, True, "discord"))
        assert reply is not None and reply.title.startswith("✅"), reply
        ids.append(reply.title.split("#")[1].split()[0])
    fake.rate_limit_next(3, route_prefix=f"/channels/{ALERTS}/messages", retry_after=0.05)
    for _ in range(20):
        await step(app)
        if not await app.alerts.list(chat):
            break
    assert await app.alerts.list(chat) == []  # all three fired
    await eventually(lambda: all(f"#{i} " in str(fake.channel_messages(ALERTS)) for i in ids))
    await asyncio.sleep(0.2)  # a duplicate, if any, would arrive now
    text = [m["embeds"][0].get("description", "") for m in fake.channel_messages(ALERTS)]
    for alert_id in ids:
        assert sum(f"#{alert_id} " in t for t in text) == 1, (alert_id, text)
    assert fake.rate_limited_count == 3
    assert (await app.worker.depth())[1] == 0  # nothing left pending


async def test_pushes_spend_the_tokens_shared_global_budget(
    fake: FakeDiscord, replay_app: App, redis: Redis, prefix: str
) -> None:
    """Back-to-back pushes are spaced by the token's 50 requests/s budget in Redis, which
    another replica with the same token (a second SendBudget here) draws from too."""
    discord = replay_app.discord
    assert discord.budget is not None
    await asyncio.gather(*(discord.push(f"dc:c:{ALERTS}", Reply(f"budget {n}")) for n in range(6)))
    assert discord.budget.waits >= 1
    assert len(fake.channel_messages(ALERTS)) == 6
    names = [key async for key in redis.scan_iter(match=f"{prefix}:budget:*")]
    assert all(TOKEN not in name for name in names)  # a hash of the token names the budget


async def test_dm_403_pauses_the_chat_and_logs_once(
    fake: FakeDiscord, replay_app: App, caplog: pytest.LogCaptureFixture
) -> None:
    app = replay_app
    chat = f"dc:u:{CLOSED}"
    fake.forbid_dm(CLOSED)
    caplog.set_level(logging.WARNING, logger="alerts.storage.outbox")
    for base in ("LINK", "HBAR"):  # the second alert is crossed after the chat was paused
        level = round(price(app, base) * 1.01, 6)
        await command(fake, "alert", option("symbol", base), option("condition", "above"),
                      option("value", str(level)), user=CLOSED, guild=False)
        for _ in range(20):
            await step(app)
            if price(app, base) > level * 1.01:
                break
        await eventually(lambda: "unreachable" in caplog.text)
        assert await app.alerts.is_paused(chat)
    await asyncio.sleep(0.2)
    assert fake.dm_messages(CLOSED) == []
    outbox_log = "alerts.storage.outbox"
    logged = [r for r in caplog.records if r.name == outbox_log and chat in r.getMessage()]
    assert len(logged) == 1 and "paused" in logged[0].getMessage()
    [kept] = await app.alerts.list(chat)  # a paused chat's alerts wait; /start resumes it
    assert kept.symbol == "HBAR/USDT"
    fake.clear_faults()  # the user opened their DMs again
    await command(fake, "start", user=CLOSED, guild=False)
    assert not await app.alerts.is_paused(chat)


async def test_gateway_is_a_leader_duty_and_pushes_work_without_it(
    fake: FakeDiscord, redis: Redis, prefix: str
) -> None:
    """With leadership on (poll=True), only the lease holder holds the gateway; after it
    steps down the transport keeps a REST-only client, so pushes still work."""
    scenario = Scenario(today=TODAY)
    exchange = ReplayExchange(scenario)
    settings = Settings(
        key_prefix=prefix, http_port=0, discord_bot_token=TOKEN,  # type: ignore[arg-type]
        discord_api_url=fake.api_url, discord_gateway_url=fake.gateway_url,
        discord_guild_id=GUILD, telegram_bot_token=None, leader_lease_seconds=1,
    )
    app = App(settings, redis, exchange, ReplayIndex(scenario, exchange), clock=exchange.clock)
    try:
        await app.start(http=False, telegram=False)
        assert fake.gateway.identify_count == 0  # REST login only until the lease is held
        await fake.gateway.wait_identified(10)
        assert app.lease.is_leader
        await eventually(lambda: app.discord.client.is_ready(), 10)
        rec = await command(fake, "coin", option("symbol", "link"))
        assert rec.callback is not None and rec.callback.type in (4, 5)
        await app.lease.release()  # step down: the duties (gateway included) stop
        for task in app._tasks:
            if task.get_name() == "lease":
                task.cancel()
        await eventually(lambda: not app.discord.client.is_ready(), 10)
        await app.discord.push(f"dc:u:{TRADER}", Reply("pushed while not leading"))
        await fake.wait_for_messages(lambda m: "pushed" in str(m.get("content", "")) or
                                     any("pushed" in str(e) for e in m.get("embeds", [])))
    finally:
        await app.stop()


async def test_permanent_discord_codes_dead_letter_the_job_and_pause_the_chat(
    fake: FakeDiscord, replay_app: App, redis: Redis
) -> None:
    """50013 Missing Permissions, 10003 Unknown Channel, 50007 closed DMs: never retried."""
    app = replay_app
    fake.forbid_channel(ALERTS, 50013, "Missing Permissions")
    fake.forbid_dm(CLOSED)
    chats = {f"dc:c:{ALERTS}": "Missing Permissions", "dc:c:999999999999999999": "Unknown Channel",
             f"dc:u:{CLOSED}": "Cannot send messages to this user"}  # fmt: skip
    for chat in chats:
        job = {"t": "signal", "chat": chat, "title": "t", "body": "b", "at": "1", "tick": "1"}
        await redis.xadd(app.keys.outbox_broadcast, job)
    dead: list[dict[str, str]] = []
    for _ in range(250):
        dead = await app.worker.dead.recent(10)
        if len(dead) == len(chats):
            break
        await asyncio.sleep(0.02)
    assert sorted(d["chat"] for d in dead) == sorted(chats)
    for letter in dead:
        assert letter["dead.tries"] == "1" and chats[letter["chat"]] in letter["dead.why"]
        assert chats[letter["chat"]] in (await app.alerts.paused_reason(letter["chat"]) or "")
    assert (await app.worker.depth())[1] == 0
