"""The routers that make up the bot, in menu order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from alerts.domain.chat import Admission
from handlers.chat.commands import admin, alerts, charts, digest, market, signals, watch, webhook
from handlers.chat.core import CommandCore, CommandSpec, Router
from handlers.chat.reply import Request
from handlers.chat.services import Services


def routers() -> list[Router]:
    """Every feature module's router; later issues append theirs here."""
    return [
        market.router,
        alerts.router,
        watch.router,
        digest.router,
        signals.router,
        charts.router,
        webhook.router,
        admin.router,
    ]


def all_commands() -> list[CommandSpec]:
    return [spec for router in routers() for spec in router.commands.values()]


def build_core(
    services: Services,
    rate_limiter: Callable[[str], Awaitable[Admission]] | None = None,
    on_served: Callable[[Request], None] | None = None,
) -> CommandCore:
    return CommandCore(services, routers(), rate_limiter=rate_limiter, on_served=on_served)
