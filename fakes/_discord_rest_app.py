"""REST routes of the fake Discord about the application itself: who the bot is, where the
gateway is, and the synced slash-command tree (global and per guild).

A part of ``FakeDiscord``: it reads and writes the fake's state, private parts included.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiohttp import web

from fakes._discord_rest_wire import Route, json_response, read_body, route
from fakes._discord_world import JSON

if TYPE_CHECKING:
    from fakes.discord import FakeDiscord

_CMDS = r"/applications/(?P<app>\d+)(/guilds/(?P<gid>\d+))?/commands"


class AppRoutes:
    """/users/@me, /oauth2/applications/@me, /gateway(/bot) and the command tree."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.routes: list[Route] = [
            route("GET", r"/users/@me", self._get_me),
            route("GET", r"/oauth2/applications/@me", self._get_app),
            route("GET", r"/gateway(/bot)?", self._get_gateway),
            route("GET", _CMDS, self._cmds_get),
            route("PUT", _CMDS, self._cmds_put),
            route("POST", _CMDS, self._cmd_post),
        ]

    async def _get_me(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        return json_response(self.fake.world.bot_user())

    async def _get_app(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        world = self.fake.world
        owner = world.user(world.bot_id + 1, "owner")
        return json_response({
            "id": str(world.app_id), "name": world.bot_name, "description": "", "icon": None,
            "bot_public": True, "bot_require_code_grant": False, "owner": owner,
            "verify_key": "0" * 64, "flags": 1 << 23, "team": None, "summary": "",
            "interactions_endpoint_url": None, "rpc_origins": [], "tags": [],
            "bot": world.bot_user(), "integration_types_config": {"0": {}},
        })

    async def _get_gateway(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        data: JSON = {"url": self.fake.gateway_url}
        if m.group(1):
            data.update(shards=1, session_start_limit={
                "total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1})
        return json_response(data)

    def _cmd_pool(self, m: re.Match[str]) -> list[JSON]:
        gid = m.group("gid")
        fake = self.fake
        return fake.guild_commands.setdefault(int(gid), []) if gid else fake.global_commands

    async def _cmds_get(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        return json_response(self._cmd_pool(m))

    async def _cmds_put(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        """Bulk overwrite; a command keeps its id when its name persists, as on Discord."""
        body, _ = await read_body(request)
        old = {c["name"]: c for c in self._cmd_pool(m)}
        new = [self.fake.world.stored_command(c, _gid(m), old.get(c["name"])) for c in body]
        pool = self._cmd_pool(m)
        pool[:] = new
        self.fake._changed.pulse()
        return json_response(new)

    async def _cmd_post(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        body, _ = await read_body(request)
        pool = self._cmd_pool(m)
        old = next((c for c in pool if c["name"] == body["name"]), None)
        cmd = self.fake.world.stored_command(body, _gid(m), old)
        pool[:] = [c for c in pool if c["name"] != body["name"]] + [cmd]
        self.fake._changed.pulse()
        return json_response(cmd, 200 if old else 201)


def _gid(m: re.Match[str]) -> int | None:
    return int(m.group("gid")) if m.group("gid") else None
