"""REST routes of the fake Discord for channels, DMs, users and members, plus the message
store both these routes and interaction replies write to (with uploaded attachments).

A part of ``FakeDiscord``: it reads and writes the fake's state, private parts included.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aiohttp import web

from fakes._discord_rest_wire import (
    Route,
    UploadedFile,
    error_response,
    json_response,
    mime_type,
    read_body,
    route,
)
from fakes._discord_world import JSON, iso_now

if TYPE_CHECKING:
    from fakes.discord import FakeDiscord


def new_message(fake: FakeDiscord, channel_id: int, payload: JSON, files: list[UploadedFile],
                *, guild_id: int | None = None, webhook: bool = False,
                extra_flags: int = 0) -> JSON:
    """Record a message the bot created (``fake.messages``), attachments stored for download."""
    attachments = _attachments(fake, channel_id, payload, files)
    msg = fake.world.message_payload(channel_id, payload, attachments, guild_id=guild_id,
                                     webhook=webhook, extra_flags=extra_flags)
    fake.messages.append(msg)
    fake._changed.pulse()
    return msg


def edit_message(fake: FakeDiscord, msg: JSON, payload: JSON,
                 files: list[UploadedFile]) -> JSON:
    """Apply a PATCH to a recorded message in place, as Discord does."""
    for key in ("content", "embeds", "components", "flags"):
        if payload.get(key) is not None:
            msg[key] = payload[key]
    if files:
        msg["attachments"] = _attachments(fake, int(msg["channel_id"]), payload, files)
    msg["flags"] = int(msg.get("flags") or 0) & ~128  # no longer "loading"
    msg["edited_timestamp"] = iso_now()
    fake._changed.pulse()
    return msg


def _attachments(fake: FakeDiscord, channel_id: int, payload: JSON,
                 files: list[UploadedFile]) -> list[JSON]:
    """Attachment objects for uploaded ``files[n]``, downloadable from the fake."""
    out = []
    for meta in payload.get("attachments") or [
            {"id": i, "filename": f[0]} for i, f in enumerate(files)]:
        if int(meta["id"]) >= len(files):
            continue  # keeping an already uploaded attachment on edit: not modelled
        fname, content = files[int(meta["id"])]
        fname = meta.get("filename") or fname
        aid = fake.world.ids.next()
        fake.files[aid] = (fname, content)
        url = f"{fake.base_url}/attachments/{channel_id}/{aid}/{fname}"
        out.append({"id": str(aid), "filename": fname, "size": len(content), "url": url,
                    "proxy_url": url, "content_type": mime_type(fname),
                    "description": meta.get("description")})
    return out


class ChannelRoutes:
    """Posting and editing channel / DM messages, typing, DM channels, users and members."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.routes: list[Route] = [
            route("POST", r"/channels/(?P<cid>\d+)/messages", self._channel_post),
            route("PATCH", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", self._channel_edit),
            route("POST", r"/channels/(?P<cid>\d+)/typing", self._no_content),
            route("GET", r"/channels/(?P<cid>\d+)", self._channel_get),
            route("POST", r"/users/@me/channels", self._dm_create),
            route("GET", r"/users/(?P<uid>\d+)", self._user_get),
            route("GET", r"/guilds/(?P<gid>\d+)/members/(?P<uid>\d+)", self._member_get),
        ]

    async def _no_content(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        return web.Response(status=204)

    async def _channel_post(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        fake = self.fake
        cid = int(m.group("cid"))
        found = fake.world.find_channel(cid)
        if found is None:
            return error_response(404, "Unknown Channel", 10003)
        if cid in fake._forbidden:
            code, message = fake._forbidden[cid]
            return error_response(403, message, code)
        recipient = fake.world.dm_recipient(cid)
        if recipient is not None and recipient in fake._forbidden_dm:
            return error_response(403, "Cannot send messages to this user", 50007)
        body, files = await read_body(request)
        guild = found[1]
        msg = new_message(fake, cid, body, files, guild_id=guild.id if guild else None)
        found[0]["last_message_id"] = msg["id"]
        fake._channel_msgs.setdefault(cid, []).append(msg)
        return json_response(msg)

    async def _channel_edit(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        msgs = self.fake._channel_msgs.get(int(m.group("cid")), [])
        msg = next((x for x in msgs if x["id"] == m.group("mid")), None)
        if msg is None:
            return error_response(404, "Unknown Message", 10008)
        body, files = await read_body(request)
        return json_response(edit_message(self.fake, msg, body, files))

    async def _channel_get(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        found = self.fake.world.find_channel(int(m.group("cid")))
        return json_response(found[0]) if found else error_response(404, "Unknown Channel", 10003)

    async def _dm_create(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        body, _ = await read_body(request)
        return json_response(self.fake.world.dm_channel(int(body["recipient_id"])))

    async def _user_get(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        world = self.fake.world
        uid = int(m.group("uid"))
        if uid not in world.users:
            return error_response(404, "Unknown User", 10013)
        return json_response(world.user(uid))

    async def _member_get(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        world = self.fake.world
        guild = world.guilds.get(int(m.group("gid")))
        uid = int(m.group("uid"))
        if guild is None:
            return error_response(404, "Unknown Guild", 10004)
        if uid not in guild.members:
            return error_response(404, "Unknown Member", 10007)
        return json_response(world.member_payload(guild, uid))
