"""Operator commands: /stats, for the chats and users listed in ADMIN_CHAT_IDS."""

from __future__ import annotations

from alerts.domain import fmt
from handlers.chat.core import Router
from handlers.chat.reply import Reply, Request
from handlers.chat.services import Services

router = Router()


@router.command("stats", "Bot health for its operators", "/stats", "/stats", operator_only=True)
async def stats(svc: Services, req: Request, args: list[str]) -> Reply:
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
    stale = s.last_poll_age is None or s.last_poll_age > svc.freshness.price_max_age
    return Reply("altbot stats", fields=fields, tone="warn" if stale else "neutral", ephemeral=True)
