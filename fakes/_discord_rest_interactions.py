"""REST routes of the fake Discord that answer interactions: the callback, follow-ups and the
interaction webhook's messages (@original or a follow-up by id), all authorised by the
interaction token in the URL.

A part of ``FakeDiscord``: it reads and writes the fake's state, private parts included.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from aiohttp import web

from fakes._discord_rest_channels import edit_message, new_message
from fakes._discord_rest_wire import (
    CallbackRecord,
    InteractionRecord,
    Route,
    error_response,
    json_response,
    read_body,
    route,
)
from fakes._discord_world import JSON

if TYPE_CHECKING:
    from fakes.discord import FakeDiscord

_WEBHOOK_MSG = r"/webhooks/(?P<app>\d+)/(?P<tok>[^/]+)/messages/(?P<mid>@original|\d+)"


def _wants(request: web.Request, flag: str) -> bool:
    """A boolean query flag (``?wait=true``, ``?with_response=1``) as Discord reads it."""
    return request.query.get(flag, "").lower() in ("1", "true")


class InteractionRoutes:
    """POST .../callback, POST /webhooks/{app}/{token} and its message GET / PATCH / DELETE."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.routes: list[Route] = [
            route("POST", r"/interactions/(?P<iid>\d+)/(?P<tok>[^/]+)/callback", self._callback),
            route("POST", r"/webhooks/(?P<app>\d+)/(?P<tok>[^/]+)", self._followup),
            route("GET", _WEBHOOK_MSG, self._webhook_msg_get),
            route("PATCH", _WEBHOOK_MSG, self._webhook_msg_patch),
            route("DELETE", _WEBHOOK_MSG, self._webhook_msg_delete),
        ]

    async def _callback(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        rec = self.fake.interactions.get(int(m.group("iid")))
        if rec is None or rec.token != m.group("tok"):
            return error_response(404, "Unknown interaction", 10062)
        if rec.callback is not None:
            return error_response(400, "Interaction has already been acknowledged.", 40060)
        body, files = await read_body(request)
        ctype, data = int(body["type"]), body.get("data") or {}
        elapsed = asyncio.get_running_loop().time() - rec.sent_at
        message = None
        if ctype in (4, 5):
            message = new_message(self.fake, rec.channel_id, data, files, guild_id=rec.guild_id,
                                  webhook=True, extra_flags=128 if ctype == 5 else 0)
            message["_fake_interaction_id"] = str(rec.id)  # test-side only; clients ignore it
            rec.original = message
        rec.callback = CallbackRecord(ctype, data, elapsed, message, files)
        self.fake._changed.pulse()
        if not _wants(request, "with_response"):
            return web.Response(status=204)
        flags = int((message or {}).get("flags") or 0)
        out: JSON = {"interaction": {
            "id": str(rec.id), "type": rec.type,
            "response_message_id": message["id"] if message else None,
            "response_message_loading": ctype == 5,
            "response_message_ephemeral": bool(flags & 64),
        }}
        if ctype != 8:
            out["resource"] = {"type": ctype, **({"message": message} if message else {})}
        return json_response(out)

    def _token_rec(self, m: re.Match[str]) -> InteractionRecord | None:
        rec = self.fake._by_token.get(m.group("tok"))
        return rec if rec is not None and m.group("app") == str(self.fake.app_id) else None

    def _webhook_msg(self, m: re.Match[str]) -> tuple[InteractionRecord, JSON] | None:
        """The interaction and its message that a webhook message URL names, if both exist."""
        rec = self._token_rec(m)
        if rec is None:
            return None
        mid = m.group("mid")
        msg = (rec.original if mid == "@original"
               else next((f for f in rec.followups if f["id"] == mid), None))
        return (rec, msg) if msg else None

    async def _followup(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        rec = self._token_rec(m)
        if rec is None or rec.callback is None:  # Discord: ack before following up
            return error_response(404, "Unknown Webhook", 10015)
        body, files = await read_body(request)
        msg = new_message(self.fake, rec.channel_id, body, files, guild_id=rec.guild_id,
                          webhook=True)
        msg["_fake_interaction_id"] = str(rec.id)
        rec.followups.append(msg)
        if _wants(request, "wait"):
            return json_response(msg)
        return web.Response(status=204)

    async def _webhook_msg_get(self, request: web.Request, m: re.Match[str]) -> web.StreamResponse:
        found = self._webhook_msg(m)
        return json_response(found[1]) if found else error_response(404, "Unknown Message", 10008)

    async def _webhook_msg_patch(self, request: web.Request,
                                 m: re.Match[str]) -> web.StreamResponse:
        found = self._webhook_msg(m)
        if found is None:
            return error_response(404, "Unknown Message", 10008)
        rec, msg = found
        body, files = await read_body(request)
        rec.edits.append(body)
        return json_response(edit_message(self.fake, msg, body, files))

    async def _webhook_msg_delete(self, request: web.Request,
                                  m: re.Match[str]) -> web.StreamResponse:
        found = self._webhook_msg(m)
        if found is None:
            return error_response(404, "Unknown Message", 10008)
        found[1]["_fake_deleted"] = True  # test-side marker
        self.fake._changed.pulse()
        return web.Response(status=204)
