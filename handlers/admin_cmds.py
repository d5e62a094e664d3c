"""Operator commands: /stats, for the chats and users listed in ADMIN_CHAT_IDS."""

from __future__ import annotations

from handlers import fmt
from handlers.core import Router
from handlers.reply import Reply, Request, UserError
from handlers.services import Services

router = Router()


def is_bot_admin(svc: Services, req: Request) -> bool:
    """True when the chat or the user id (`tg:42`, `dc:u:7` → 42, 7) is in ADMIN_CHAT_IDS."""
    admins = set(svc.settings.admin_chat_ids)
    for key in (req.chat, req.user):
        tail = key.rsplit(":", 1)[-1]
        if tail.lstrip("-").isdigit() and int(tail) in admins:
            return True
    return False


@router.command("stats", "Bot health for its operators", "/stats", "/stats", admin_only=True)
async def stats(svc: Services, req: Request, args: list[str]) -> Reply:
    if not is_bot_admin(svc, req):
        raise UserError("That command is for the bot's admins.")
    if svc.stats is None:
        raise UserError("Stats are not available in this process.")
    s = await svc.stats()
    poll = "never" if s.last_poll_age is None else f"{fmt.age(s.last_poll_age)} ago"
    fields = [
        ("Users", f"{s.users:,}"),
        ("Active alerts", f"{s.active_alerts:,}"),
        ("Fired today (UTC)", f"{s.fired_today:,}"),
        ("Delivery queue", f"{s.queue_pending:,} in flight, {s.queue_length:,} in the stream"),
        ("Dead letters (7 days)", f"{s.dead_letters:,}"),
        ("Last exchange poll", poll),
    ]
    stale = s.last_poll_age is None or s.last_poll_age > 3 * svc.settings.poll_interval_seconds
    return Reply("altbot stats", fields=fields, tone="warn" if stale else "neutral", ephemeral=True)
