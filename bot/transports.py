"""Building the chat transports from settings (composition root, split from bot/app.py).

Each transport gets the one command core, a send budget per token in Redis, and is
attached to the dispatcher so the delivery worker can push through it. Imports are
local: a deployment with one platform never loads the other's client library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alerts.domain.delivery import DISCORD, TELEGRAM, TELEGRAM_PAID_BROADCAST
from alerts.storage.send_budget import SendBudget

if TYPE_CHECKING:
    from bot.app import App


async def start_telegram(app: App, *, poll: bool, http: bool) -> Any:
    """The Telegram transport (long polling or a webhook route on HTTP_PORT), started.

    Long polling is a leader duty when leadership runs (`poll`): one poller per token.
    The HTTP server must start after the webhook route is mounted: `http` starts it here.
    """
    from handlers.telegram.transport import TelegramTransport

    settings = app.settings
    assert settings.telegram_bot_token is not None
    token = settings.telegram_bot_token.get_secret_value()
    paid = TELEGRAM_PAID_BROADCAST if settings.telegram_paid_broadcast else None
    telegram = TelegramTransport(
        app.core,
        token,
        settings.telegram_api_url,
        allowed_chats=settings.allowed_chat_ids,
        admin_chats=settings.admin_chat_ids,
        webhook_url=settings.telegram_webhook_url,
        budget=SendBudget(app.redis, app.keys, token, TELEGRAM, paid_broadcast=paid),
        paid_broadcast=settings.telegram_paid_broadcast,
    )
    if http:  # webhook mode (TELEGRAM_WEBHOOK_URL): a route on HTTP_PORT
        telegram.mount_webhook(app.health.app)
        await app.health.start()
    await telegram.start(polling=not poll)
    app.dispatch.attach("tg", telegram.push)
    app.worker.coalesce["tg"] = telegram.coalesce
    rate_limited = app.metrics.rate_limited.labels("telegram")
    telegram.limiter.on_retry_after = lambda _seconds: rate_limited.inc()
    return telegram


async def start_discord(app: App, *, poll: bool) -> Any:
    """The Discord transport: REST pushes on every replica; the gateway (slash commands)
    is a leader duty when leadership runs, like Telegram polling."""
    from handlers.discord.transport import DiscordTransport

    settings = app.settings
    assert settings.discord_bot_token is not None
    token = settings.discord_bot_token.get_secret_value()
    discord = DiscordTransport(
        app.core,
        token,
        api_url=settings.discord_api_url,
        gateway_url=settings.discord_gateway_url,
        guild_id=settings.discord_guild_id,
        budget=SendBudget(app.redis, app.keys, token, DISCORD),
    )
    await discord.start(connect=not poll)
    app.dispatch.attach("dc", discord.push)
    return discord
