"""The routers that make up the bot, in menu order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers import (
    admin_cmds,
    alert_cmds,
    chart_cmds,
    digest_cmds,
    market_cmds,
    signal_cmds,
    watch_cmds,
)
from handlers.core import Admission, CommandCore, CommandSpec, Router
from handlers.reply import Request
from handlers.services import Services


def routers() -> list[Router]:
    """Every feature module's router; later issues append theirs here."""
    return [
        market_cmds.router,
        alert_cmds.router,
        watch_cmds.router,
        digest_cmds.router,
        signal_cmds.router,
        chart_cmds.router,
        admin_cmds.router,
    ]


def all_commands() -> list[CommandSpec]:
    return [spec for router in routers() for spec in router.commands.values()]


def build_core(
    services: Services,
    rate_limiter: Callable[[str], Awaitable[Admission]] | None = None,
    on_served: Callable[[Request], None] | None = None,
) -> CommandCore:
    return CommandCore(services, routers(), rate_limiter=rate_limiter, on_served=on_served)
