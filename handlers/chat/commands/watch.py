"""Watchlist commands: /watch, /watch add SYMBOL, /watch remove SYMBOL."""

from __future__ import annotations

from alerts.domain import fmt
from alerts.domain.errors import UserError
from handlers.chat.core import Router
from handlers.chat.reply import Button, Reply, Request, require_group_admin
from handlers.chat.services import Services

router = Router()

USAGE = "/watch add SYMBOL · /watch remove SYMBOL · /watch (list)"
ADD_WORDS = ("add", "+")
REMOVE_WORDS = ("remove", "rm", "del", "delete", "-")



async def reference_line(svc: Services) -> tuple[str | None, bool]:
    """`Reference: BTC 97,123.45 +1.20% · ETH …` for every board, and whether one is stale.

    The poller tracks BTC and ETH anyway (the regime compares coins with BTC), so the
    boards show them next to the default coins instead of leaving them out."""
    parts, any_stale = [], False
    for base in svc.universe.reference_bases:
        snap, stale = await svc.market.fresh_snapshot(f"{base}/{svc.universe.quote}")
        if snap is None:
            parts.append(f"{base} no price yet")
            continue
        any_stale |= stale
        flag = " STALE" if stale else ""
        parts.append(f"{base} {fmt.price(snap.price)} {fmt.pct(snap.change_pct)}{flag}")
    return ("Reference: " + " · ".join(parts) if parts else None), any_stale



@router.command(
    "watch",
    "Your own coins next to the default ones (digests, /coin, /alert)",
    USAGE,
    "/watch add SOL",
)
async def watch(svc: Services, req: Request, args: list[str]) -> Reply:
    if not args:
        return await list_reply(svc, req)
    verb = args[0].lower()
    if verb in ADD_WORDS:
        return await add(svc, req, args[1] if len(args) > 1 else None)
    if verb in REMOVE_WORDS:
        return await remove(svc, req, args[1] if len(args) > 1 else None)
    raise UserError(f"/watch {args[0]}? Use one of: {USAGE}.")


@router.callback("unwatch")
async def unwatch_button(svc: Services, req: Request, args: list[str]) -> Reply:
    """The Remove buttons of the /watch list."""
    return await remove(svc, req, args[0] if args else None)


async def add(svc: Services, req: Request, raw: str | None) -> Reply:
    require_group_admin(req, "watchlist")
    lists = svc.watchlists
    if not raw:
        raise UserError("Which coin?", "For example /watch add SOL.")
    symbol = svc.symbols.parse(raw, any_listed=True)
    base = symbol.split("/")[0]
    if base in svc.universe.reference_bases:
        return Reply(
            f"{symbol} is a reference coin: every board shows it already, on its Reference line."
        )
    if base in svc.universe.tracked_bases:
        return Reply(f"{symbol} is a default coin: it is on every board already.")
    result = await lists.add(req.chat, symbol)
    if result == "already":
        return Reply(f"{symbol} is already on this chat's watchlist.")
    if result == "chat_full":
        raise UserError(
            f"This chat already follows {lists.per_chat} coins (watchlist and alerts "
            "together), the most it can.",
            "Remove one with /watch remove SYMBOL, or delete the alerts of a coin.",
        )
    if result == "cap":
        raise UserError(
            f"altbot already tracks its maximum of {lists.cap} symbols (MAX_TRACKED_SYMBOLS), "
            f"so it cannot start tracking {symbol}.",
            "Watch a coin someone else already watches; the bot's operator can raise "
            "MAX_TRACKED_SYMBOLS.",
        )
    interval = fmt.age(svc.freshness.poll_period)
    lines = [
        f"Tracking starts with the next poll (within {interval}); then /coin {base}, "
        f"/alert {base} … and your digest include it."
    ]
    buttons = [[Button("My watchlist", "watchlist"), Button(f"Remove {base}", f"unwatch:{base}")]]
    return Reply(f"👀 Watching {symbol}", lines, buttons=buttons)


async def remove(svc: Services, req: Request, raw: str | None) -> Reply:
    require_group_admin(req, "watchlist")
    lists = svc.watchlists
    if not raw:
        raise UserError("Which coin?", "For example /watch remove SOL.")
    try:
        symbol = svc.symbols.parse(raw, any_listed=True)
    except UserError:  # delisted since it was added: still removable
        symbol = f"{raw.strip().upper().split('/')[0]}/{svc.universe.quote}"
        if symbol not in await lists.of(req.chat):
            raise
    if not await lists.remove(req.chat, symbol):
        raise UserError(f"{symbol} is not on this chat's watchlist.", "See /watch.")
    return Reply(f"Removed {symbol} from this chat's watchlist.")


@router.callback("watchlist")
async def list_button(svc: Services, req: Request, args: list[str]) -> Reply:
    return await list_reply(svc, req)


async def list_reply(svc: Services, req: Request) -> Reply:
    lists = svc.watchlists
    symbols = await lists.of(req.chat)
    defaults = ", ".join(svc.universe.coins)
    reference, _ = await reference_line(svc)
    footer = f"altbot tracks {await lists.count()} of at most {lists.cap} symbols."
    if not symbols:
        lines = [f"On every board: {defaults}."]
        lines += [reference] if reference else []
        lines.append("Add your own coins with /watch add SOL.")
        return Reply("Your watchlist is empty", lines, footer=footer)
    lines = []
    for symbol in symbols:
        snap, stale = await svc.market.fresh_snapshot(symbol)
        if snap is None:
            lines.append(f"{symbol}: tracking starts with the next poll")
            continue
        flag = f" (stale, {fmt.age(snap.age(svc.clock()))} old)" if stale else ""
        lines.append(f"{symbol} {fmt.price(snap.price)} {fmt.pct(snap.change_pct)}{flag}")
    lines.append(f"Also on every board: {defaults}.")
    lines += [reference] if reference else []
    buttons = [
        [Button(f"Remove {s.split('/')[0]}", f"unwatch:{s.split('/')[0]}")] for s in symbols[:10]
    ]
    title = f"Your watchlist ({len(symbols)}/{lists.per_chat})"
    return Reply(title, lines, footer=footer, buttons=buttons, ephemeral=True)
