"""Discord autocomplete: coin symbols and the caller's own alerts, from the core's services."""

from __future__ import annotations

import logging

from discord import app_commands

from handlers.chat.commands.alerts import describe
from handlers.chat.condition_complete import suggestions
from handlers.chat.services import Services
from handlers.discord.ui import cut

log = logging.getLogger(__name__)

Choice = app_commands.Choice
MAX_CHOICES = 25  # Discord shows at most 25 choices


async def symbol_choices(svc: Services, chat: str, current: str) -> list[Choice[str]]:
    """The default coins, then the caller's watchlist, then what the exchange lists."""
    typed = current.strip().upper().split("/")[0]
    suffix = f"/{svc.universe.quote}"
    mine: list[str] = []
    try:
        mine = await svc.watchlists.of(chat)
    except Exception:
        log.warning("discord: watchlist autocomplete failed", exc_info=True)
    groups = (
        ("watched", svc.universe.tracked_bases),
        ("your watchlist", [s[: -len(suffix)] for s in mine if s.endswith(suffix)]),
        (
            "listed",
            sorted(s[: -len(suffix)] for s in svc.symbols.listed_symbols() if s.endswith(suffix)),
        ),
    )
    seen: set[str] = set()
    choices = []
    for label, bases in groups:
        for base in bases:
            if base not in seen and base.startswith(typed):
                seen.add(base)
                choices.append(Choice(name=f"{base} — {label}", value=base))
    return choices[:MAX_CHOICES]


async def alert_choices(svc: Services, chat: str, current: str) -> list[Choice[str]]:
    """The caller's own alerts (their DM chat's), matching what was typed."""
    try:
        alerts = await svc.alerts.list(chat)
    except Exception:
        log.warning("discord: alert autocomplete failed", exc_info=True)
        return []
    typed = current.strip().lstrip("#").lower()
    choices = []
    for a in alerts:
        label = f"#{a.id} {a.symbol} {describe(a)}"
        if typed in label.lower():
            choices.append(Choice(name=cut(label, 100), value=str(a.id)))
    if len(alerts) > 1 and "all".startswith(typed):
        choices.append(Choice(name=f"all {len(alerts)} alerts", value="all"))
    return choices[:MAX_CHOICES]


def condition_choices(current: str) -> list[Choice[str]]:
    """/alert's condition text, completed word by word along the grammar."""
    return [Choice(name=cut(text, 100), value=cut(text, 100)) for text in suggestions(current)]
