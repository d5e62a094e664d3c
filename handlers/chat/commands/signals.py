"""Signal subscription commands: /subscribe, /unsubscribe, /subscriptions, and their buttons.

The signals themselves are detected by bot/signals.py and pushed through the
outbox; this module only edits which chats receive them.
"""

from __future__ import annotations

from alerts.domain.errors import UserError
from alerts.storage.subscriptions import SIGNALS
from handlers.chat.commands.alerts import paused_line
from handlers.chat.copy import PUSH_NOTE
from handlers.chat.core import Router
from handlers.chat.reply import Button, Reply, Request, require_group_admin
from handlers.chat.services import Services

router = Router()

VALID = ", ".join(SIGNALS)



def parse_names(args: list[str]) -> list[str]:
    """Signal names from arguments (commas or spaces); none or `all` means every signal."""
    raw = [part.strip().lower() for arg in args for part in arg.split(",") if part.strip()]
    if not raw or "all" in raw:
        return list(SIGNALS)
    unknown = [name for name in raw if name not in SIGNALS]
    if unknown:
        shown = unknown[0][:20]
        hint = f"Valid: {VALID} (or none for all)."
        raise UserError(f"There is no signal called '{shown}'.", hint)
    return [name for name in SIGNALS if name in raw]


def _names_arg(names: list[str]) -> str:
    return ",".join(names)


def _list_button() -> Button:
    return Button("My subscriptions", "subs:list")


async def _subscribe(svc: Services, req: Request, names: list[str]) -> Reply:
    added = await svc.subscriptions.subscribe(req.chat, names)
    if not added:
        return Reply(
            f"Already subscribed to {', '.join(names)}",
            ["Nothing changed. /subscriptions shows this chat's signals."],
            buttons=[[_list_button()]],
        )
    lines = [f"{name}: {SIGNALS[name]}" for name in added]
    buttons = [[Button("Undo", f"subs:rm:{_names_arg(added)}"), _list_button()]]
    return Reply(f"✅ Subscribed to {', '.join(added)}", lines, footer=PUSH_NOTE, buttons=buttons)


async def _unsubscribe(svc: Services, req: Request, names: list[str] | None) -> Reply:
    removed = await svc.subscriptions.unsubscribe(req.chat, names)
    if not removed:
        what = "any signal" if names is None else ", ".join(names)
        return Reply(
            f"This chat was not subscribed to {what}",
            [f"Subscribe with /subscribe or /subscribe NAME ({VALID})."],
            buttons=[[_list_button()]],
        )
    buttons = [[Button("Undo", f"subs:add:{_names_arg(removed)}"), _list_button()]]
    return Reply(f"🔕 Unsubscribed from {', '.join(removed)}", buttons=buttons)


@router.command(
    "subscribe",
    "Get R2K record, regime, altseason and target signals pushed here",
    f"/subscribe [{'|'.join(SIGNALS)}]",
    "/subscribe r2k",
    changes_state=True,
)
async def subscribe(svc: Services, req: Request, args: list[str]) -> Reply:
    return await _subscribe(svc, req, parse_names(args))


@router.command(
    "unsubscribe",
    "Stop signals (one, or all without a name)",
    "/unsubscribe [NAME]",
    "/unsubscribe targets",
    changes_state=True,
)
async def unsubscribe(svc: Services, req: Request, args: list[str]) -> Reply:
    return await _unsubscribe(svc, req, parse_names(args) if args else None)


@router.command(
    "subscriptions", "This chat's signal subscriptions", "/subscriptions", "/subscriptions"
)
async def subscriptions(svc: Services, req: Request, args: list[str]) -> Reply:
    return await _listing(svc, req)


async def _listing(svc: Services, req: Request) -> Reply:
    mine = await svc.subscriptions.of(req.chat)
    lines = [f"{'✅' if name in mine else '▫️'} {name}: {SIGNALS[name]}" for name in SIGNALS]
    lines.append("Change with /subscribe NAME or /unsubscribe NAME (no name: all).")
    why = await svc.alerts.paused_reason(req.chat)
    if why is not None:
        lines.append(paused_line(why))
    row = []
    if len(mine) < len(SIGNALS):
        row.append(Button("Subscribe to all", f"subs:add:{_names_arg(list(SIGNALS))}"))
    if mine:
        row.append(Button("Unsubscribe all", f"subs:rm:{_names_arg(mine)}"))
    title = f"Signal subscriptions ({len(mine)}/{len(SIGNALS)})"
    return Reply(title, lines, buttons=[row] if row else [], ephemeral=True)


@router.callback("subs")
async def subs_button(svc: Services, req: Request, args: list[str]) -> Reply:
    """`subs:list`, `subs:add:NAMES` and `subs:rm:NAMES` (the Undo buttons)."""
    if args[:1] == ["list"]:
        return await _listing(svc, req)
    if len(args) != 2 or args[0] not in ("add", "rm"):
        raise UserError("That button is no longer valid.")
    require_group_admin(req, "alerts and subscriptions")
    names = parse_names([args[1]])
    if args[0] == "add":
        return await _subscribe(svc, req, names)
    return await _unsubscribe(svc, req, names)
