"""Proves FakeDiscord against a REAL, unmodified discord.py client.

If these pass, tests that drive altbot's Discord front-end through the fake exercise the
same code paths (command tree, interaction callbacks, follow-ups, 429 retries, 403 mapping)
that run against Discord itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from fakes.discord import FakeDiscord

TOKEN = "fake-token.for-tests"
GUILD, GENERAL, ALERTS = 100000000000000001, 100000000000000010, 100000000000000011
TRADER, CLOSED_DMS, ADMIN = 200000000000000001, 200000000000000002, 200000000000000003
pytestmark = pytest.mark.timeout(30)


class AlertBot(commands.Bot):
    """A small bot shaped like altbot's Discord side: slash commands + a background sender."""

    def __init__(self) -> None:
        # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE
        # before firing on_ready (default 2 s) -- shortened to keep tests fast.
        super().__init__(command_prefix=commands.when_mentioned,
                         intents=discord.Intents.default(), guild_ready_timeout=0.1)
        self.outbox: asyncio.Queue[tuple[str, int, str]] = asyncio.Queue()
        self.sent: list[discord.Message] = []
        self.send_errors: list[Exception] = []
        self.responses: list[discord.InteractionCallbackResponse[Any]] = []
        self.responded = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._add_commands()

    def _add_commands(self) -> None:
        @self.tree.command(name="ping", description="Liveness check")
        async def ping(interaction: discord.Interaction) -> None:
            self.responses.append(await interaction.response.send_message("pong"))
            self.responded.set()

        @self.tree.command(name="echo", description="Echo a coin name")
        @app_commands.describe(text="Text to echo")
        async def echo(interaction: discord.Interaction, text: str) -> None:
            await interaction.response.send_message(text)

        @echo.autocomplete("text")
        async def echo_complete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            coins = ["BTC", "ETH", "LINK", "ADA"]
            return [app_commands.Choice(name=c, value=c) for c in coins if current.upper() in c]

        @self.tree.command(name="slow", description="Deferred answer")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await asyncio.sleep(0.1)
            await interaction.followup.send("done slowly", file=discord.File(
                io.BytesIO(b"\x89PNG fake chart"), filename="chart.png"))

    async def setup_hook(self) -> None:
        self._sender = asyncio.create_task(self._send_loop())

    async def _send_loop(self) -> None:
        """Background delivery, like alert fan-out: channel posts and DMs."""
        while True:
            kind, target, text = await self.outbox.get()
            try:
                if kind == "channel":
                    channel = self.get_channel(target)
                    assert isinstance(channel, discord.TextChannel)
                    self.sent.append(await channel.send(text))
                else:
                    user = await self.fetch_user(target)
                    self.sent.append(await user.send(text))
            except Exception as exc:
                self.send_errors.append(exc)
            finally:
                self.outbox.task_done()

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        await super().close()


@pytest.fixture(autouse=True)
def no_client_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail if discord.py logged an error (e.g. it could not parse a payload we sent)."""
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")  # .records: teardown
    errors = [r for r in records if r.name.startswith("discord") and r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as fake:
        fake.add_guild(GUILD, "altbot-lab", channels=[GENERAL, {"id": ALERTS, "name": "alerts"}],
                       members=[(TRADER, "trader", 0), (ADMIN, "admin", 0x8)])
        fake.add_user(CLOSED_DMS, "private-person")
        yield fake


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord) -> AsyncIterator[AlertBot]:
    """Log a real bot in against the fake; always close it, bounded by timeouts."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    bot = AlertBot()
    task: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(bot.login(TOKEN), 5)
        task = asyncio.create_task(bot.connect())
        await asyncio.wait_for(bot.wait_until_ready(), 5)
        yield bot
    finally:
        await asyncio.wait_for(bot.close(), 5)
        if task is not None:
            await asyncio.wait_for(task, 5)
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[AlertBot]:
    async with running(fake) as bot:
        yield bot


async def test_login_ready_and_guild_cache(fake: FakeDiscord, bot: AlertBot) -> None:
    assert bot.user is not None and bot.user.id == fake.bot_id
    assert bot.application_id == fake.app_id
    guild = bot.get_guild(GUILD)
    assert guild is not None and guild.name == "altbot-lab"
    alerts = bot.get_channel(ALERTS)
    assert isinstance(alerts, discord.TextChannel) and alerts.name == "alerts"
    assert alerts.permissions_for(guild.me).send_messages
    assert fake.gateway.identify_count == 1
    [session] = fake.gateway.sessions
    # discord.py asks for zlib-stream (zstd-stream if `zstandard` is installed, which the fake
    # answers with plain text frames; the client accepts those too)
    if discord.utils._ActiveDecompressionContext.COMPRESSION_TYPE == "zlib-stream":
        assert session.zlib_stream is not None
    assert fake.unknown_routes == []


async def test_sync_stores_commands_with_options(fake: FakeDiscord, bot: AlertBot) -> None:
    synced = await bot.tree.sync()
    assert sorted(c.name for c in synced) == ["echo", "ping", "slow"]
    echo = fake.command("echo")
    assert echo is not None and echo["id"] == str(next(c.id for c in synced if c.name == "echo"))
    [opt] = echo["options"]
    assert opt["name"] == "text" and opt["type"] == 3 and opt["autocomplete"] is True
    assert {c.name for c in await bot.tree.fetch_commands()} == {"echo", "ping", "slow"}

    bot.tree.copy_global_to(guild=discord.Object(GUILD))
    await bot.tree.sync(guild=discord.Object(GUILD))
    assert [c["name"] for c in fake.commands[GUILD]] == ["ping", "echo", "slow"]
    assert fake.unknown_routes == []


async def test_ping_answers_pong_within_3s(fake: FakeDiscord, bot: AlertBot) -> None:
    await bot.tree.sync()
    iid = await fake.invoke_command("ping", [], user_id=TRADER, guild_id=GUILD,
                                    channel_id=GENERAL)
    cb = await fake.wait_for_callback(iid, timeout=3.0)
    assert cb.type == 4 and cb.data["content"] == "pong"
    assert cb.elapsed < 3.0
    assert cb.message is not None and cb.message["content"] == "pong"
    # the client parsed the ?with_response=1 answer into a real InteractionMessage
    # (the fake records the callback before the client has read the answer: wait for it)
    await asyncio.wait_for(bot.responded.wait(), 2)
    [resp] = bot.responses
    assert resp.message_id == int(cb.message["id"])
    assert isinstance(resp.resource, discord.InteractionMessage)
    assert resp.resource.content == "pong"


async def test_echo_in_dm_and_autocomplete(fake: FakeDiscord, bot: AlertBot) -> None:
    await bot.tree.sync()
    iid = await fake.invoke_command("echo", [{"name": "text", "value": "LINK"}],
                                    user_id=TRADER)  # no guild_id: a DM with the bot
    assert (await fake.wait_for_callback(iid)).data["content"] == "LINK"

    iid = await fake.autocomplete("echo", [{"name": "text", "value": "a", "focused": True}],
                                  user_id=TRADER, guild_id=GUILD, channel_id=GENERAL)
    cb = await fake.wait_for_callback(iid)
    assert cb.type == 8
    assert [c["name"] for c in cb.data["choices"]] == ["ADA"]


async def test_slow_defers_then_follows_up_with_file(fake: FakeDiscord, bot: AlertBot) -> None:
    await bot.tree.sync()
    iid = await fake.invoke_command("slow", [], user_id=ADMIN, guild_id=GUILD,
                                    channel_id=GENERAL)
    cb = await fake.wait_for_callback(iid)
    assert cb.type == 5 and cb.elapsed < 3.0
    [msg] = await fake.wait_for_messages(lambda m: m["content"] == "done slowly")
    assert fake.followups(iid) == [msg]
    [att] = msg["attachments"]
    assert att["filename"] == "chart.png" and fake.file_bytes(att) == b"\x89PNG fake chart"


async def test_channel_send_survives_429_burst_exactly_once(
    fake: FakeDiscord, bot: AlertBot
) -> None:
    fake.rate_limit_next(3, route_prefix=f"/channels/{ALERTS}/messages", retry_after=0.05)
    await bot.outbox.put(("channel", ALERTS, "LINK broke its 200d high"))
    await asyncio.wait_for(bot.outbox.join(), 5)
    assert bot.send_errors == []
    assert fake.rate_limited_count == 3
    assert [m["content"] for m in fake.channel_messages(ALERTS)] == ["LINK broke its 200d high"]
    assert bot.sent[0].id == int(fake.channel_messages(ALERTS)[0]["id"])


async def test_dm_delivery_and_403_maps_to_forbidden(fake: FakeDiscord, bot: AlertBot) -> None:
    fake.forbid_dm(CLOSED_DMS)
    await bot.outbox.put(("dm", TRADER, "your alert fired"))
    await bot.outbox.put(("dm", CLOSED_DMS, "your alert fired"))
    await asyncio.wait_for(bot.outbox.join(), 5)
    assert [m["content"] for m in fake.dm_messages(TRADER)] == ["your alert fired"]
    assert fake.dm_messages(CLOSED_DMS) == []
    [err] = bot.send_errors
    assert isinstance(err, discord.Forbidden) and err.code == 50007

    fake.forbid_channel(GENERAL)
    channel = bot.get_channel(GENERAL)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.Forbidden) as info:
        await channel.send("nope")
    assert info.value.code == 50001


async def test_gateway_drop_resumes_and_keeps_working(fake: FakeDiscord, bot: AlertBot) -> None:
    await bot.tree.sync()
    await fake.gateway.close_all(code=4000)
    await fake.gateway.wait_identified(5)
    assert fake.gateway.resume_count == 1 and fake.gateway.identify_count == 1
    iid = await fake.invoke_command("ping", [], user_id=TRADER, guild_id=GUILD,
                                    channel_id=GENERAL)
    assert (await fake.wait_for_callback(iid)).data["content"] == "pong"


async def test_rest_wire_details(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bot {TOKEN}"}) as http:
        async with http.get(f"{fake.api_url}/users/@me") as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["id"] == str(fake.bot_id)
        async with http.get(f"{fake.api_url}/nope") as resp:
            assert resp.status == 404
            assert await resp.json() == {"message": "404: Not Found", "code": 0}
        async with http.get(f"{fake.api_url}/gateway/bot") as resp:
            assert (await resp.json())["url"] == fake.gateway_url
    assert fake.unknown_routes == [("GET", "/nope")]


@pytest.mark.parametrize("query", ["", "&compress=zlib-stream"])
async def test_gateway_frames_and_bad_identify(fake: FakeDiscord, query: str) -> None:
    inflate = zlib.decompressobj()
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"{fake.gateway_url}?v=10&encoding=json{query}") as ws:
        msg = await ws.receive(timeout=2)
        if query:
            assert msg.type is aiohttp.WSMsgType.BINARY and msg.data.endswith(b"\x00\x00\xff\xff")
            hello = json.loads(inflate.decompress(msg.data))
        else:
            assert msg.type is aiohttp.WSMsgType.TEXT
            hello = json.loads(msg.data)
        assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
        await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
        closed = await ws.receive(timeout=2)
        assert closed.type is aiohttp.WSMsgType.CLOSE and closed.data == 4004


async def test_bad_token_is_rejected(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.default())
    saved = discord.http.Route.BASE
    discord.http.Route.BASE = fake.api_url
    try:
        with pytest.raises(discord.LoginFailure):
            await client.login("wrong-token")
    finally:
        discord.http.Route.BASE = saved
        await client.close()


async def test_clean_shutdown_leaves_no_tasks_or_threads() -> None:
    before = asyncio.all_tasks()
    async with FakeDiscord() as fake:
        fake.add_guild(GUILD, "g", channels=[GENERAL], members=[(TRADER, "trader", 0)])
        async with running(fake) as bot:
            await bot.tree.sync()
            iid = await fake.invoke_command("ping", [], user_id=TRADER, guild_id=GUILD,
                                            channel_id=GENERAL)
            await fake.wait_for_callback(iid)
    await asyncio.sleep(0.05)  # let aiohttp connection handlers finish
    leaked: set[asyncio.Task[Any]] = asyncio.all_tasks() - before
    assert not leaked, leaked
    beaters = [t for t in threading.enumerate()
               if isinstance(t, discord.gateway.KeepAliveHandler)]
    for t in beaters:
        t.join(2)
    assert not any(t.is_alive() for t in beaters)
