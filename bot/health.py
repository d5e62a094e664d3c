"""`/healthz` and `/metrics` on HTTP_PORT (aiohttp)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.metrics import Metrics

HealthCheck = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]


class HealthServer:
    """Serves health and metrics; other routes (e.g. a Telegram webhook) can be added."""

    def __init__(
        self, check: HealthCheck, metrics: Metrics, port: int, host: str = "0.0.0.0"
    ) -> None:
        self.check = check
        self.metrics = metrics
        self.port = port
        self.host = host
        self.app = web.Application()
        self.app.router.add_get("/healthz", self._healthz)
        self.app.router.add_get("/metrics", self._metrics)
        self._runner: web.AppRunner | None = None
        self.bound_port: int | None = None

    async def _healthz(self, request: web.Request) -> web.Response:
        ok, details = await self.check()
        body = json.dumps({"ok": ok, **details}, default=str)
        return web.Response(status=200 if ok else 503, text=body, content_type="application/json")

    async def _metrics(self, request: web.Request) -> web.Response:
        data = generate_latest(self.metrics.registry)
        return web.Response(body=data, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.bound_port = sockets[0].getsockname()[1] if sockets else self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
