"""Telegram webhook mode: updates arrive as POSTs on the app's HTTP server.

The route lives on the health server (HTTP_PORT) at `/telegram/<segment>`; Telegram
must reach it through the public `TELEGRAM_WEBHOOK_URL` (a TLS proxy in front of
HTTP_PORT). The segment and the `secret_token` are derived from the bot token with
HMAC: unguessable without the token, yet the same on every replica and restart, so
any replica behind a load balancer can take an update and setWebhook is idempotent.
A request without the right `X-Telegram-Bot-Api-Secret-Token` header gets 403.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]


def _derive(token: str, purpose: str, length: int) -> str:
    digest = hmac.new(token.encode(), f"altbot-webhook-{purpose}".encode(), hashlib.sha256)
    return digest.hexdigest()[:length]  # hex: within Telegram's [A-Za-z0-9_-] alphabet


class TelegramWebhook:
    """The webhook route and its registration with Telegram."""

    def __init__(
        self, application: Application[Any, Any, Any, Any, Any, Any], public_url: str
    ) -> None:
        token = application.bot.token
        self.application = application
        self.path = f"/telegram/{_derive(token, 'path', 32)}"
        self.secret = _derive(token, "secret", 64)
        self.url = public_url.rstrip("/") + self.path
        self.received = 0
        self.rejected = 0

    def mount(self, app: web.Application) -> None:
        """Add the route; must happen before the aiohttp app starts (its router freezes)."""
        app.router.add_post(self.path, self._handle)

    async def register(self) -> None:
        """setWebhook with our URL and secret; Telegram stops answering getUpdates then."""
        await self.application.bot.set_webhook(
            self.url, secret_token=self.secret, allowed_updates=ALLOWED_UPDATES
        )
        log.info("telegram webhook set (%s/…)", self.url.rsplit("/", 1)[0])

    async def _handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret.encode()):
            self.rejected += 1
            return web.Response(status=403, text="forbidden")
        try:
            data = await request.json()
            update = Update.de_json(data, self.application.bot)
        except Exception as exc:  # malformed JSON or not an Update: nothing to retry
            log.warning("webhook: unreadable update (%s)", exc)
            return web.Response(status=400, text="bad update")
        self.received += 1
        await self.application.update_queue.put(update)
        return web.Response(text="ok")
