"""FakeDiscord: a local Discord (REST under /api/v10 + gateway websocket) for real discord.py.

An unmodified ``discord.Client`` / ``commands.Bot`` runs against it, so tests exercise the
bot's real command tree, interaction responses, rate-limit retries and error mapping.

Point a client at it with exactly two lines, before ``login()``::

    discord.http.Route.BASE = fake.api_url                                  # all REST
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

(discord.py 2.7's plain Client never asks /gateway/bot; it connects straight to
DEFAULT_GATEWAY. /gateway and /gateway/bot are served anyway for AutoShardedClient.)
Both are class attributes: restore them after the test. Pass ``guild_ready_timeout=0.1`` to
the client, or ``on_ready`` / ``wait_until_ready`` only fire ~2 s after the last GUILD_CREATE.
Recorded message dicts are the wire objects plus test-only keys prefixed ``_fake_``.

Where the parts live: REST route groups in ``_discord_rest_app.py`` (identity, gateway URL,
command tree), ``_discord_rest_interactions.py`` (callbacks, follow-ups) and
``_discord_rest_channels.py`` (channels, DMs, the message store), their wire helpers and
records in ``_discord_rest_wire.py``; the websocket in ``discord_gateway.py``; the shared
state and payload builders in ``_discord_world.py``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypedDict, Unpack

from aiohttp import web

from fakes._base import Signal
from fakes._discord_rest_app import AppRoutes
from fakes._discord_rest_channels import ChannelRoutes
from fakes._discord_rest_interactions import InteractionRoutes
from fakes._discord_rest_wire import (
    CallbackRecord,
    Fault,
    InteractionRecord,
    Route,
    UploadedFile,
    error_response,
    is_token_route,
    json_response,
    mime_type,
)
from fakes._discord_world import (
    DEFAULT_BOT_PERMS,
    DEFAULT_EVERYONE_PERMS,
    JSON,
    FakeGuild,
    World,
)
from fakes.discord_gateway import Gateway

_OPTION_STRING = 3


class Invoker(TypedDict, total=False):
    """Where an interaction comes from (keywords of invoke_command / autocomplete): the
    channel (default: the guild's first text channel, or the DM), the guild (None = a DM),
    the member's permissions (default: from their roles), the locale, and how long to
    wait for a connected client (default 5 s)."""

    channel_id: int | None
    guild_id: int | None
    permissions: str | None
    locale: str
    timeout: float


class FakeDiscord:
    """Local Discord server plus a test-side API to drive and inspect the client."""

    def __init__(
        self,
        *,
        bot_id: int = 900000000000000001,
        app_id: int | None = None,
        bot_name: str = "altbot",
        token: str | None = None,
        heartbeat_interval_ms: int = 1000,
        compress: bool = True,
    ) -> None:
        """``token`` set -> wrong tokens get 401 on REST and close 4004 on the gateway."""
        self.world = World(bot_id=bot_id, app_id=app_id or bot_id, bot_name=bot_name)
        self.token = token
        self.gateway = Gateway(self.world, url=lambda: self.gateway_url,
                               heartbeat_ms=heartbeat_interval_ms, compress=compress, token=token)
        self.global_commands: list[JSON] = []
        self.guild_commands: dict[int, list[JSON]] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self.messages: list[JSON] = []  # every message created, in order (edits in place)
        self.files: dict[int, UploadedFile] = {}  # attachment id -> uploaded file
        self.requests: list[tuple[str, str]] = []  # (method, path under /api/v10)
        self.unknown_routes: list[tuple[str, str]] = []
        self.rate_limited_count = 0
        self.faults_served = 0
        self._channel_msgs: dict[int, list[JSON]] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        self._faults: list[Fault] = []
        self._forbidden: dict[int, tuple[int, str]] = {}  # channel id -> (code, message)
        self._forbidden_dm: set[int] = set()
        self._changed = Signal()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._routes: list[Route] = [*AppRoutes(self).routes, *InteractionRoutes(self).routes,
                                     *ChannelRoutes(self).routes]

    # ----------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def bot_id(self) -> int:
        return self.world.bot_id

    @property
    def app_id(self) -> int:
        return self.world.app_id

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port (no internet needed)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self.gateway.handle)
        app.router.add_get("/attachments/{cid}/{aid}/{name}", self._attachment)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Close gateway connections and the server; close the client first for a quiet exit."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.gateway.close_all(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # ----------------------------------------------------------------- world setup
    def add_guild(
        self,
        guild_id: int,
        name: str,
        channels: list[int | JSON] | None = None,
        members: list[tuple[int, str, int]] | None = None,
        *,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMS,
        bot_permissions: int = DEFAULT_BOT_PERMS,
        owner_id: int | None = None,
    ) -> FakeGuild:
        """Add a guild. ``channels``: ids (text channels) or partial channel dicts
        (``{"id", "name", "type", "permission_overwrites"}``); ``members``:
        ``(user_id, name, permissions)``, each member getting a role with those permissions.
        After the client is connected the guild is also sent as GUILD_CREATE (a join)."""
        guild = self.world.add_guild(guild_id, name, channels or [], members or [],
                                     everyone_permissions=everyone_permissions,
                                     bot_permissions=bot_permissions, owner_id=owner_id)
        if self.gateway.is_identified():
            self._spawn(self.gateway.dispatch("GUILD_CREATE", self.world.guild_payload(guild)))
        return guild

    def add_user(self, user_id: int, name: str) -> JSON:
        """Make a user known (for DMs / fetch_user) without putting it in a guild."""
        return self.world.user(user_id, name)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ----------------------------------------------------------------- fault injection
    def rate_limit_next(self, n: int, route_prefix: str = "/channels/",
                        retry_after: float = 0.2, *, is_global: bool = False) -> None:
        """Answer the next ``n`` requests under ``route_prefix`` with 429 (with ``Via`` so
        discord.py retries instead of treating it as a Cloudflare ban)."""
        headers = {
            "Via": "1.1 google", "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Bucket": "fakebucket" + secrets.token_hex(4),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        body = {"message": "You are being rate limited.", "retry_after": retry_after,
                "global": is_global}
        self._faults.append(Fault(route_prefix, n, 429, body, headers))

    def fail_next(self, n: int, status: int, route_prefix: str = "/", *,
                  message: str = "fault", code: int = 0) -> None:
        """Answer the next ``n`` matching requests with ``status`` (note: discord.py retries
        500/502/504 with 1 s, 3 s, ... sleeps)."""
        self._faults.append(Fault(route_prefix, n, status, {"message": message, "code": code}, {}))

    def forbid_channel(self, channel_id: int, code: int = 50001,
                       message: str = "Missing Access") -> None:
        """Posting to this channel answers 403 (discord.Forbidden in the client)."""
        self._forbidden[channel_id] = (code, message)

    def forbid_dm(self, user_id: int) -> None:
        """DMs to this user answer 403 code 50007, like a user with DMs closed."""
        self._forbidden_dm.add(user_id)

    def clear_faults(self) -> None:
        self._faults.clear()
        self._forbidden.clear()
        self._forbidden_dm.clear()

    # ----------------------------------------------------------------- interactions
    async def invoke_command(self, name: str, options: list[JSON] | None = None, *,
                             user_id: int, resolved: JSON | None = None,
                             **where: Unpack[Invoker]) -> int:
        """Send an INTERACTION_CREATE (type 2) for slash command ``name``; returns its id.
        Options are ``{"name", "value"}`` dicts (``type`` inferred from the synced command)."""
        return await self._interact(2, name, options or [], user_id=user_id, resolved=resolved,
                                    **where)

    async def autocomplete(self, name: str, options: list[JSON], *, user_id: int,
                           **where: Unpack[Invoker]) -> int:
        """Send an autocomplete interaction (type 4); mark the typed option ``focused: True``."""
        return await self._interact(4, name, options, user_id=user_id, resolved=None, **where)

    def command(self, name: str, guild_id: int | None = None) -> JSON | None:
        """A synced command by name (guild commands first when ``guild_id`` is given)."""
        pools = ([self.guild_commands.get(guild_id, [])] if guild_id else []) + [
            self.global_commands]
        return next((c for pool in pools for c in pool if c["name"] == name), None)

    @property
    def commands(self) -> dict[int | None, list[JSON]]:
        """Registered commands: key None = global, else guild id."""
        out: dict[int | None, list[JSON]] = {gid: c for gid, c in self.guild_commands.items()}
        out[None] = self.global_commands
        return out

    async def _interact(self, itype: int, name: str, options: list[JSON], *, user_id: int,
                        resolved: JSON | None, channel_id: int | None = None,
                        guild_id: int | None = None, permissions: str | None = None,
                        locale: str = "en-US", timeout: float = 5.0) -> int:
        await self.gateway.wait_identified(timeout)
        guild_cmd = self.command(name, guild_id) if guild_id else None
        cmd = guild_cmd or self.command(name)
        payload = self.world.interaction_payload(
            itype, name, [_typed_option(o, cmd) for o in options], command=cmd,
            guild_command=guild_cmd is not None, user_id=user_id, channel_id=channel_id,
            guild_id=guild_id, permissions=permissions, resolved=resolved, locale=locale)
        iid, token = int(payload["id"]), payload["token"]
        rec = InteractionRecord(iid, token, itype, name, int(payload["channel_id"]), guild_id,
                                user_id, asyncio.get_running_loop().time(), payload)
        self.interactions[iid] = rec
        self._by_token[token] = rec
        if not await self.gateway.dispatch("INTERACTION_CREATE", payload):
            raise RuntimeError("no identified gateway session to deliver the interaction")
        return iid

    async def wait_for_callback(
        self, interaction_id: int, timeout: float = 3.0
    ) -> CallbackRecord:
        """Wait until the client answers the interaction (TimeoutError if it doesn't)."""
        rec = self.interactions[interaction_id]
        await self._changed.wait_for(lambda: rec.callback is not None, timeout)
        assert rec.callback is not None
        return rec.callback

    def interaction(self, interaction_id: int) -> InteractionRecord:
        return self.interactions[interaction_id]

    def followups(self, token_or_id: str | int) -> list[JSON]:
        """Follow-up messages for an interaction, by token or interaction id."""
        rec = (self.interactions.get(token_or_id) if isinstance(token_or_id, int)
               else self._by_token.get(token_or_id))
        return list(rec.followups) if rec else []

    # ----------------------------------------------------------------- messages
    def channel_messages(self, channel_id: int) -> list[JSON]:
        """Messages posted with POST /channels/{id}/messages (not interaction replies)."""
        return list(self._channel_msgs.get(channel_id, []))

    def dm_messages(self, user_id: int) -> list[JSON]:
        """Messages the client posted to its DM channel with ``user_id``."""
        dm = self.world.dm_channels.get(user_id)
        return self.channel_messages(int(dm["id"])) if dm else []

    async def wait_for_messages(
        self, predicate: Callable[[JSON], bool], timeout: float = 3.0, count: int = 1,
    ) -> list[JSON]:
        """Wait until ``count`` messages (channel, DM, interaction replies or follow-ups)
        satisfy ``predicate``; returns them in creation order."""
        def matches() -> list[JSON]:
            return [m for m in self.messages if predicate(m)]
        await self._changed.wait_for(lambda: len(matches()) >= count, timeout)
        return matches()

    def file_bytes(self, attachment: JSON) -> bytes:
        """Raw bytes the client uploaded for an attachment in a recorded message."""
        return self.files[int(attachment["id"])][1]

    async def dispatch(self, event: str, data: JSON) -> int:
        """Send any gateway DISPATCH event (e.g. GUILD_MEMBER_ADD) to connected clients."""
        return await self.gateway.dispatch(event, data)

    # ----------------------------------------------------------------- REST plumbing
    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        self.requests.append((request.method, path))
        if self.token is not None and not is_token_route(path) and (
                request.headers.get("Authorization") != f"Bot {self.token}"):
            return error_response(401, "401: Unauthorized")
        for fault in self._faults:
            if fault.remaining > 0 and path.startswith(fault.route_prefix):
                fault.remaining -= 1
                if fault.status == 429:
                    self.rate_limited_count += 1
                self.faults_served += 1
                self._faults = [f for f in self._faults if f.remaining > 0]
                return json_response(fault.body, fault.status, fault.headers)
        for method, pattern, handler in self._routes:
            if method == request.method and (m := pattern.match(path)):
                return await handler(request, m)
        self.unknown_routes.append((request.method, path))
        return error_response(404, "404: Not Found")

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        entry = self.files.get(int(request.match_info["aid"]))
        if entry is None:
            return web.Response(status=404)
        return web.Response(body=entry[1], content_type=mime_type(entry[0]))


def _typed_option(option: JSON, cmd: JSON | None) -> JSON:
    if "type" in option:
        return option
    spec = next((o for o in (cmd or {}).get("options", []) if o["name"] == option["name"]),
                None)
    return {**option, "type": spec["type"] if spec else _OPTION_STRING}

