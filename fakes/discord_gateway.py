"""The gateway websocket of the fake Discord: HELLO, heartbeats, IDENTIFY / RESUME, dispatch.

Payloads come from the shared ``World`` (``fakes/_discord_world.py``); this module is the
per-connection state machine and the frame encoding (JSON text, or one zlib stream per
connection when the client asks for ``compress=zlib-stream``, as Discord does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from fakes._base import Signal
from fakes._discord_world import JSON, World


def _frame(op: int, data: Any) -> JSON:
    """A frame other than DISPATCH (HELLO 10, HEARTBEAT_ACK 11, INVALID_SESSION 9)."""
    return {"op": op, "d": data, "s": None, "t": None}


@dataclass
class _Session:
    """One gateway connection; the lock keeps zlib stream chunks in send order."""

    ws: web.WebSocketResponse
    zlib_stream: Any  # zlib compressobj, or None for plain text frames
    session_id: str = ""
    seq: int = 0
    identified: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class Gateway:
    """The websocket half: HELLO, heartbeat ACKs, IDENTIFY -> READY + GUILD_CREATE, dispatch."""

    def __init__(
        self,
        world: World,
        *,
        url: Callable[[], str],
        heartbeat_ms: int,
        compress: bool,
        token: str | None,
    ) -> None:
        self.world = world
        self._url = url
        self.heartbeat_ms = heartbeat_ms
        self.compress = compress
        self.token = token
        self.sessions: list[_Session] = []
        self.ended_sessions: dict[str, int] = {}  # session id -> last seq, for RESUME
        self.received: list[JSON] = []  # every non-heartbeat frame the client sent
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeats = 0
        self._changed = Signal()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """aiohttp handler for /gateway; honours ``compress=zlib-stream`` like Discord."""
        ws = web.WebSocketResponse(autoclose=True, max_msg_size=0)
        await ws.prepare(request)
        use_zlib = self.compress and request.query.get("compress") == "zlib-stream"
        sess = _Session(ws, zlib.compressobj() if use_zlib else None)
        self.sessions.append(sess)
        try:
            await self._send(sess, _frame(10, {"heartbeat_interval": self.heartbeat_ms}))
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_frame(sess, json.loads(msg.data))
        finally:
            self.sessions.remove(sess)
            if sess.identified:
                self.ended_sessions[sess.session_id] = sess.seq
            self._changed.pulse()
        return ws

    async def _on_frame(self, sess: _Session, frame: JSON) -> None:
        op, data = frame.get("op"), frame.get("d") or {}
        if op == 1:
            self.heartbeats += 1
            await self._send(sess, _frame(11, None))
            return
        self.received.append(frame)
        if op == 2:
            if self.token is not None and data.get("token") != self.token:
                await sess.ws.close(code=4004, message=b"Authentication failed.")
                return
            await self._identify(sess, data)
        elif op == 6:
            await self._resume(sess, data)
        elif op == 8:
            await self._members_chunk(sess, data)

    async def _identify(self, sess: _Session, data: JSON) -> None:
        self.identify_count += 1
        sess.session_id, sess.seq, sess.identified = uuid.uuid4().hex, 0, True
        world = self.world
        await self.send_dispatch(sess, "READY",
                                 world.ready_payload(sess.session_id, self._url(), data))
        for guild in list(world.guilds.values()):
            await self.send_dispatch(sess, "GUILD_CREATE", world.guild_payload(guild))
        self._changed.pulse()

    async def _resume(self, sess: _Session, data: JSON) -> None:
        """Resume a session we know (replaying nothing), else op 9 so the client re-IDENTIFYs."""
        sid = data.get("session_id")
        if sid not in self.ended_sessions:
            await self._send(sess, _frame(9, False))
            return
        self.resume_count += 1
        sess.session_id, sess.seq = sid, self.ended_sessions.pop(sid)
        sess.identified = True
        await self.send_dispatch(sess, "RESUMED", {"_trace": ["fake-discord"]})
        self._changed.pulse()

    async def _members_chunk(self, sess: _Session, data: JSON) -> None:
        guild = self.world.guilds.get(int(data["guild_id"]))
        if guild is None:
            return
        members = [self.world.member_payload(guild, uid) for uid in guild.members]
        await self.send_dispatch(sess, "GUILD_MEMBERS_CHUNK", {
            "guild_id": str(guild.id), "members": members, "chunk_index": 0, "chunk_count": 1,
            "not_found": [], "nonce": data.get("nonce"),
        })

    async def _send(self, sess: _Session, frame: JSON) -> None:
        text = json.dumps(frame)
        async with sess.lock:
            if sess.zlib_stream is None:
                await sess.ws.send_str(text)
            else:
                z = sess.zlib_stream
                await sess.ws.send_bytes(z.compress(text.encode()) + z.flush(zlib.Z_SYNC_FLUSH))

    async def send_dispatch(self, sess: _Session, event: str, data: JSON) -> None:
        """Send one op 0 DISPATCH with the session's next sequence number."""
        sess.seq += 1
        await self._send(sess, {"op": 0, "t": event, "s": sess.seq, "d": data})

    async def dispatch(self, event: str, data: JSON) -> int:
        """Dispatch to every identified session; returns how many received it."""
        sent = 0
        for sess in list(self.sessions):
            if sess.identified and not sess.ws.closed:
                await self.send_dispatch(sess, event, data)
                sent += 1
        return sent

    def is_identified(self) -> bool:
        return any(s.identified and not s.ws.closed for s in self.sessions)

    async def wait_identified(self, limit_s: float) -> None:
        """Block until a client has IDENTIFYed (or RESUMEd); TimeoutError otherwise."""
        await self._changed.wait_for(self.is_identified, limit_s)

    async def close_all(self, code: int = 1001, message: bytes = b"") -> None:
        """Close every connection, e.g. to exercise the client's reconnect / RESUME path."""
        for sess in list(self.sessions):
            with contextlib.suppress(Exception):
                await sess.ws.close(code=code, message=message)
