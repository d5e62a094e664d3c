"""A webhook receiver on 127.0.0.1: records every POST, answers with scripted statuses.

`NameMap` is DNS for tests (the network edge): names answer with chosen addresses,
so a name resolving to 10.0.0.1, or rebinding to it later, needs no DNS server.
`statuses` are answered in order (then 200s): e.g. `[500]` fails the first request and
accepts the retry; 302 answers carry a Location pointing back here, so a client that
followed redirects would be seen doing so (`/landed` counts it).
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # wall-clock arrival (latency in the bench)

    @property
    def json(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.body)
        return doc


@dataclass
class WebhookReceiver:
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    landed: int = 0  # requests that followed a redirect
    delay: float = 0.0  # seconds each answer takes (to see overlapping requests)
    in_flight: int = 0
    max_in_flight: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        self.received.append(Received(request.path, dict(request.headers), body, time.time()))
        status = self.statuses.pop(0) if self.statuses else 200
        if 300 <= status < 400:
            raise web.HTTPFound(f"{self.url}/landed")
        return web.Response(status=status, text="ok" if status < 300 else "no")

    async def _landed(self, request: web.Request) -> web.Response:
        self.landed += 1
        return web.Response(text="followed")

    async def start(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_route("*", "/landed", self._landed)
        app.router.add_post("/{tail:.*}", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def event_ids(self) -> list[str]:
        return [r.json["event_id"] for r in self.received]


class NameMap(AbstractResolver):
    """DNS for tests: name -> address; change `names` to rebind."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host not in self.names:
            raise OSError(socket.EAI_NONAME, "Name or service not known")
        ip = self.names[host]
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        return [ResolveResult(hostname=host, host=ip, port=port, family=fam, proto=0, flags=0)]

    async def close(self) -> None:
        return None
