"""REST wire helpers and records of the fake Discord: JSON and error answers, request bodies
(JSON or multipart with files, as discord.py sends them), and what each interaction did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from fakes._discord_world import JSON

UploadedFile = tuple[str, bytes]  # (filename, content)
Handler = Callable[[web.Request, re.Match[str]], Awaitable[web.StreamResponse]]
Route = tuple[str, re.Pattern[str], Handler]


def route(method: str, pattern: str, handler: Handler) -> Route:
    """One REST route: the pattern matches the whole path under /api/v10."""
    return method, re.compile(pattern + "$"), handler


@dataclass
class CallbackRecord:
    """What the client answered to an interaction (POST .../callback)."""

    type: int  # 4 message, 5 deferred, 6/7 component, 8 autocomplete, 9 modal
    data: JSON
    elapsed: float  # seconds between INTERACTION_CREATE being sent and the callback
    message: JSON | None = None  # the created message for types 4/5
    files: list[UploadedFile] = field(default_factory=list)


@dataclass
class InteractionRecord:
    """One interaction the fake sent, with everything the client did in reply."""

    id: int
    token: str
    type: int
    name: str
    channel_id: int
    guild_id: int | None
    user_id: int
    sent_at: float
    payload: JSON
    callback: CallbackRecord | None = None
    original: JSON | None = None  # current @original message (after edits)
    followups: list[JSON] = field(default_factory=list)
    edits: list[JSON] = field(default_factory=list)  # PATCH bodies on webhook messages


@dataclass
class Fault:
    """One queued fault: the next ``remaining`` requests under the prefix get this answer."""

    route_prefix: str
    remaining: int
    status: int
    body: JSON
    headers: dict[str, str]


def json_response(data: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    """JSON answer with Content-Type exactly application/json (a charset breaks discord.py)."""
    return web.Response(status=status, body=json.dumps(data).encode(),
                        headers={**(headers or {}), "Content-Type": "application/json"})


def error_response(status: int, message: str, code: int = 0) -> web.Response:
    return json_response({"message": message, "code": code}, status)


async def read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """JSON body, or multipart ``payload_json`` + ``files[n]`` as discord.py sends."""
    if request.content_type.startswith("multipart/"):
        payload: Any = {}
        files: list[UploadedFile] = []
        async for part in await request.multipart():
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            elif part.name and part.name.startswith("files["):
                files.append((part.filename or "file", bytes(await part.read())))
        return payload, files
    raw = await request.read()
    return (json.loads(raw) if raw else {}), []


def is_token_route(path: str) -> bool:
    """Routes authenticated by the interaction token in the URL rather than the bot token."""
    return path.startswith(("/interactions/", "/webhooks/", "/gateway"))


def mime_type(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower()
    return {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
            "txt": "text/plain", "json": "application/json"}.get(ext, "application/octet-stream")
