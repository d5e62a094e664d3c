"""Discord transport (discord.py `app_commands`): slash commands, embeds, buttons, pushes.

Thin, like the Telegram one: each slash command is rebuilt as the equivalent text
command (`/alert LINK above 9.5 repeat for 7d`) and handed to the command core; the
reply comes back as an embed (handlers/discord_ui.py). Chat keys:

* personal commands (/alert, /alerts, /delete, /subscribe without a channel, and
  button presses) act for the caller's DM chat `dc:u:<user>`, in a server too, so
  alerts arrive by DM and any member manages their own (`is_group=False`);
* /subscribe and /unsubscribe with a channel act for `dc:c:<channel>` and need the
  Manage Server permission (`is_group=True`, `is_admin=True` once checked); the
  buttons of such replies carry the channel, so they act for it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from redis.exceptions import RedisError

from alerts.domain.chat import ChatAddress, Transport, push_target
from alerts.domain.delivery import SendClass
from alerts.domain.errors import ChatUnreachable, DeliveryDeferred, UserError
from alerts.storage.send_budget import SendBudget
from handlers.chat.core import SLOW_DOWN, CommandCore
from handlers.chat.reply import Reply, Request, error_reply
from handlers.chat.services import Services
from handlers.discord.commands import Choice, register_commands
from handlers.discord.complete import alert_choices, condition_choices, symbol_choices
from handlers.discord.ui import CoreButton, message_kwargs

log = logging.getLogger(__name__)

DEFER_AFTER = 2.0  # Discord drops an interaction not answered within 3 s: defer before that
READY_TIMEOUT = 30.0
# discord.py fires `ready` this long after the last GUILD_CREATE (default 2 s). Nothing here
# needs a complete guild cache at start-up: guilds arriving later are cached all the same.
GUILD_READY_TIMEOUT = 0.5
# Cannot send messages to this user, Unknown Channel, Missing Permissions, Missing Access,
# Unknown User: each stays true until someone acts (opens DMs, fixes the channel's rights)
PERMANENT_CODES = frozenset({50007, 10003, 50013, 50001, 10013})
NO_PERMISSION = "You need the Manage Server permission to use /{verb} for #{channel}."


def user_chat(user_id: int) -> str:
    return str(ChatAddress.discord_user(user_id))


def channel_chat(channel_id: int) -> str:
    return str(ChatAddress.discord_channel(channel_id))


def manages_server(interaction: discord.Interaction[Any]) -> bool:
    perms = interaction.permissions
    return interaction.guild is not None and (perms.manage_guild or perms.administrator)


class _Client(discord.Client):
    """discord.py client with the command tree; `transport` answers button presses."""

    def __init__(self, transport: DiscordTransport, guild_ready_timeout: float) -> None:
        intents = discord.Intents.default()  # nothing privileged: no message content, no members
        discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False  # no voice used
        super().__init__(intents=intents, guild_ready_timeout=guild_ready_timeout)
        self.transport = transport
        self.tree: app_commands.CommandTree[_Client] = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CoreButton)


class DiscordTransport:
    """Owns the discord.py client; `start`/`stop` are called by the composition root."""

    def __init__(
        self,
        core: CommandCore,
        token: str,
        *,
        api_url: str | None = None,
        gateway_url: str | None = None,
        guild_id: int | None = None,
        guild_ready_timeout: float = GUILD_READY_TIMEOUT,
        ready_timeout: float = READY_TIMEOUT,
        budget: SendBudget | None = None,
    ) -> None:
        self.core = core
        self.budget = budget  # the token's global 50 requests/s, shared by every replica
        self.services: Services = core.services
        self.token = token
        self.api_url = api_url
        self.gateway_url = gateway_url
        self.guild_id = guild_id
        self.ready_timeout = ready_timeout
        self._guild_ready_timeout = guild_ready_timeout
        self.client = _Client(self, guild_ready_timeout)
        register_commands(self.client.tree, self)
        self._task: asyncio.Task[None] | None = None
        self._saved: tuple[str, yarl.URL] | None = None

    # ----------------------------------------------------------------- lifecycle
    async def start(self, *, connect: bool = True) -> None:
        """Point discord.py at the configured servers, log in, sync commands, connect.

        With `connect=False` only REST is used (pushes work); the gateway, which receives
        the slash commands, is then a leader duty (`run_gateway`), one replica at a time.
        """
        self._saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        if self.api_url:
            discord.http.Route.BASE = self.api_url.rstrip("/")
        if self.gateway_url:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        await self.client.login(self.token)
        await self._sync()
        if connect:
            await self._connect()

    async def _connect(self) -> None:
        self._task = asyncio.create_task(self.client.connect(), name="discord-gateway")
        ready = asyncio.ensure_future(self.client.wait_until_ready())
        done, _ = await asyncio.wait(
            {ready, self._task}, timeout=self.ready_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if ready not in done:
            ready.cancel()
        if self._task in done:
            self._task.result()  # the gateway refused us (bad token, privileged intents): raise
            raise RuntimeError("the Discord gateway connection ended during start-up")
        if not done:
            log.warning("discord: not ready after %.0fs; still connecting", self.ready_timeout)
        log.info("discord transport started as %s", self.client.user)

    async def run_gateway(self) -> None:
        """Hold the gateway while this replica leads; on cancel, fall back to REST only."""
        await self._connect()
        try:
            if self._task is not None:
                await self._task
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.close(), 10)
            self._task = None
            self.client = _Client(self, self._guild_ready_timeout)
            register_commands(self.client.tree, self)
            with contextlib.suppress(Exception):
                await self.client.login(self.token)

    async def _sync(self) -> None:
        """Guild sync (instant, for development) when DISCORD_GUILD_ID is set, else global."""
        tree = self.client.tree
        try:
            if self.guild_id is not None:
                guild = discord.Object(id=self.guild_id)
                tree.copy_global_to(guild=guild)
                synced = await tree.sync(guild=guild)
            else:
                synced = await tree.sync()
        except discord.HTTPException as exc:  # e.g. invited without applications.commands
            log.error("discord: could not register slash commands: %s", exc)
            return
        log.info("discord: %d slash commands synced", len(synced))

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.close(), 10)
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 10)
            self._task = None
        if self._saved is not None:
            discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved
            self._saved = None

    # ----------------------------------------------------------------- commands
    async def for_channel_or_dm(
        self, interaction: discord.Interaction[Any], text: str, channel: discord.TextChannel | None
    ) -> None:
        """/subscribe, /unsubscribe, /start: for the caller's DMs, or for a channel when the
        caller may manage the server (and the bot may post there)."""
        verb = text.split()[0][1:]
        if channel is None:
            await self.run(interaction, text, personal=True)
            return
        if not manages_server(interaction):
            err = UserError(
                NO_PERMISSION.format(verb=verb, channel=channel.name),
                f"Run /{verb} without a channel for your own DMs instead.",
            )
            await self.answer(interaction, error_reply(err))
            return
        mine = channel.permissions_for(channel.guild.me)
        if verb != "unsubscribe" and not (mine.send_messages and mine.embed_links):
            err = UserError(
                f"I can't post in #{channel.name}.",
                "Give me Send Messages and Embed Links there, then try again.",
            )
            await self.answer(interaction, error_reply(err))
            return
        await self.run(interaction, text, channel=channel.id)

    # ----------------------------------------------------------------- answering
    def request(
        self, interaction: discord.Interaction[Any], text: str, channel: int | None = None
    ) -> Request:
        """The caller's own DM chat, or the channel's chat (the caller manages the server)."""
        user = interaction.user.id
        if channel is None:
            return Request(user_chat(user), user_chat(user), text, False, True, "discord")
        admin = manages_server(interaction)
        return Request(channel_chat(channel), user_chat(user), text, True, admin, "discord")

    async def run(
        self,
        interaction: discord.Interaction[Any],
        text: str,
        *,
        channel: int | None = None,
        personal: bool = False,
        slow: bool = False,
    ) -> None:
        """Ask the core; defer when it may take longer than Discord's 3 s, then follow up."""
        work = self.core.handle(self.request(interaction, text, channel))
        await self._serve(interaction, work, personal=personal, slow=slow, channel=channel)

    async def on_button(
        self, interaction: discord.Interaction[Any], data: str, channel: int | None
    ) -> None:
        """A press acts for the presser's DM chat, or for the channel the button carries."""
        if channel is not None and (
            interaction.guild is None or interaction.guild.get_channel(channel) is None
        ):
            reply = error_reply(UserError("That button belongs to another server."))
            await self.answer(interaction, reply)
            return
        work = self.core.handle_callback(self.request(interaction, data, channel), data)
        await self._serve(interaction, work, personal=channel is None, channel=channel)

    async def _serve(
        self,
        interaction: discord.Interaction[Any],
        work: Awaitable[Reply | None],
        *,
        personal: bool,
        slow: bool = False,
        channel: int | None = None,
    ) -> None:
        private = personal and interaction.guild_id is not None
        task = asyncio.ensure_future(work)
        if slow or not (await asyncio.wait({task}, timeout=DEFER_AFTER))[0]:
            await interaction.response.defer(thinking=True, ephemeral=private)
        try:
            reply = await task
        except Exception:  # the core turns its own failures into replies; this is e.g. Redis
            log.exception("discord: command failed")
            reply = error_reply(UserError("Something went wrong on our side; please try again."))
        # None: over the chat's command budget and already told; an interaction still
        # needs an answer, so the refusal again, seen by the caller only (ephemeral)
        reply = reply or error_reply(SLOW_DOWN)
        await self.answer(interaction, reply, private=private, channel=channel)

    async def answer(
        self,
        interaction: discord.Interaction[Any],
        reply: Reply,
        *,
        private: bool = False,
        channel: int | None = None,
    ) -> None:
        """Send the reply as the interaction's response, or as its follow-up once deferred."""
        ephemeral = private or reply.ephemeral or reply.tone == "error"
        kwargs = message_kwargs(reply, channel)
        if interaction.response.is_done():
            await interaction.followup.send(ephemeral=ephemeral, **kwargs)
        else:
            await interaction.response.send_message(ephemeral=ephemeral, **kwargs)

    # ----------------------------------------------------------------- autocomplete
    async def complete_symbol(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[Choice[str]]:
        return await symbol_choices(self.services, user_chat(interaction.user.id), current)

    async def complete_condition(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[Choice[str]]:
        """Grammar suggestions for /alert's value, when the condition is typed out."""
        if getattr(interaction.namespace, "condition", None) != "condition":
            return []
        return condition_choices(current)

    async def complete_alert(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[Choice[str]]:
        return await alert_choices(self.services, user_chat(interaction.user.id), current)

    # ----------------------------------------------------------------- pushes
    async def push(
        self, chat: str, reply: Reply, send_class: SendClass = SendClass.PERSONAL
    ) -> None:
        """Deliver to `dc:u:<user>` (DM) or `dc:c:<channel>`, classifying errors once, here.

        Permanent: 403/404 and the codes of `PERMANENT_CODES` → `ChatUnreachable`;
        anything else (429 past discord.py's own waits, 5xx, network) → `DeliveryDeferred`.
        Discord has no paid broadcasts: every class spends the same global budget.
        """
        address, target_id = push_target(chat, Transport.DISCORD)
        await self._spend(2 if address.kind == "u" else 1)  # a DM may cost a create-DM too
        try:
            target = await self._target(address.kind, target_id)
            # discord.py waits out 429s itself (retry_after), so nothing is dropped on one
            await target.send(**message_kwargs(reply, target_id if address.is_group else None))
        except discord.HTTPException as exc:
            if exc.code in PERMANENT_CODES or exc.status in (403, 404):
                raise ChatUnreachable(f"{exc.status} {exc.text or type(exc).__name__}") from exc
            raise DeliveryDeferred(f"Discord answered {exc.status}: {exc.text}") from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryDeferred(f"Discord unreachable: {exc!r}") from exc

    async def _spend(self, requests: int) -> None:
        """Requests from the token's shared global budget (discord.py keeps per-route ones)."""
        if self.budget is None:
            return
        try:
            await self.budget.acquire(cost=requests)
        except RedisError as exc:  # discord.py still waits out any 429 it gets
            log.warning("discord: shared send budget unavailable (%s)", exc)

    async def _target(self, kind: str, target_id: int) -> discord.abc.Messageable:
        if kind == "u":
            return await self.client.create_dm(discord.Object(id=target_id))
        channel = self.client.get_channel(target_id) or await self.client.fetch_channel(target_id)
        if not isinstance(channel, discord.abc.Messageable):
            raise ChatUnreachable(f"channel {target_id} cannot receive messages")
        return channel
