"""The routers that make up the bot, in menu order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers import alert_cmds, market_cmds
from handlers.core import CommandCore, CommandSpec, Router
from handlers.services import Services


def routers() -> list[Router]:
    """Every feature module's router; later issues append theirs here."""
    return [market_cmds.router, alert_cmds.router]


def all_commands() -> list[CommandSpec]:
    return [spec for router in routers() for spec in router.commands.values()]


def build_core(
    services: Services, rate_limiter: Callable[[str], Awaitable[bool]] | None = None
) -> CommandCore:
    return CommandCore(services, routers(), rate_limiter=rate_limiter)
