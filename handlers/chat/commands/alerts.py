"""Alert commands: /alert, /alerts, /delete, and their buttons."""

from __future__ import annotations

from alerts.domain import fmt
from alerts.domain.alert import Alert, AlertKind, AlertState
from alerts.domain.conditions import ParseError
from alerts.domain.errors import UserError
from alerts.domain.grammar import USAGE, AlertSpec, conditions_of, parse_alert_args
from alerts.domain.moves import WINDOW_NAMES
from alerts.storage.once import AlreadyDone
from alerts.usecases.alerts import Created
from handlers.chat import condition_view
from handlers.chat.copy import NOT_ADVICE
from handlers.chat.core import Router
from handlers.chat.reply import Button, Reply, Request, require_group_admin
from handlers.chat.services import Services

router = Router()



def paused_line(reason: str) -> str:
    """Why a chat gets nothing, and how to fix it (its chat API said `reason`)."""
    if reason.isdigit():  # a mark from before reasons were kept: a pause time
        reason = "a message could not be delivered"
    return f"⚠️ Deliveries here are paused ({reason}). Fix that, then send /start to resume."


def describe(alert: Alert) -> str:
    """The condition in words, e.g. `above 9.5` or `moves 5% within 1h`."""
    if alert.cond:
        return condition_view.phrase(alert)
    if alert.kind is AlertKind.ABOVE:
        return f"above {fmt.price(alert.level)}"
    if alert.kind is AlertKind.BELOW:
        return f"below {fmt.price(alert.level)}"
    if alert.kind in (AlertKind.RISE, AlertKind.DROP):
        change = (alert.level / alert.ref - 1) * 100
        return f"{change:+.4g}% → {fmt.price(alert.level)}"
    if alert.kind is AlertKind.MOVE:
        return (
            f"moves {alert.level:g}% within {WINDOW_NAMES.get(alert.window, fmt.age(alert.window))}"
        )
    return f"24h volume ≥ {alert.level:g}× its 30-day mean"


def when_text(alert: Alert) -> str:
    if alert.cond:
        return condition_view.when_checked(alert)
    if alert.kind in (AlertKind.ABOVE, AlertKind.BELOW):
        return f"when it crosses {describe(alert)}"
    if alert.kind in (AlertKind.RISE, AlertKind.DROP):
        return f"when it reaches {fmt.price(alert.level)} ({describe(alert).split(' ')[0]})"
    if alert.kind is AlertKind.MOVE:
        return f"when it {describe(alert)}"
    return f"when its {describe(alert)}"


def options_text(alert: Alert) -> str:
    parts = []
    if alert.repeat:
        parts.append(f"repeats, cooldown {fmt.age(alert.cooldown)}")
    if alert.expires:
        parts.append(f"expires {fmt.when(alert.expires)}")
    return ", ".join(parts)



def _parse_id(raw: str | None) -> int:
    text = (raw or "").lstrip("#")
    if not text.isdigit() or len(text) > 12:
        raise UserError("Which alert? Give its number, e.g. /delete 12.", "See /alerts.")
    return int(text)


def created_reply(created: Created) -> Reply:
    a = created.alert
    lines = [f"Now {fmt.price(created.price)}. I'll message this chat {when_text(a)}."]
    lines += condition_view.now_lines(created.now)
    if a.kind in (AlertKind.RISE, AlertKind.DROP):
        lines.append(f"Reference price {fmt.price(a.ref)} (the price now).")
    extra = options_text(a)
    if extra:
        lines.append(extra.capitalize() + ".")
    buttons = [[Button("Undo (delete)", f"del:{a.id}"), Button("My alerts", "list")]]
    title = f"✅ Alert #{a.id} set: {a.symbol} {describe(a)}"
    return Reply(title, lines, footer=NOT_ADVICE, buttons=buttons, tone="neutral")


@router.command(
    "alert",
    "Set a price, percent, move, volume, indicator or market-cap alert",
    f"/alert SYMBOL above|below PRICE | +N% | move N% {'|'.join(WINDOW_NAMES.values())}"
    " | volume Nx | mcap above|below 10B | INDICATOR TF above|below LEVEL"
    " | MA TF crosses above|below MA | macd TF crosses above|below signal"
    " | bbN TF breaks upper|lower  [and CONDITION …up to 5] [on close|intrabar]"
    " [repeat] [cooldown 15m] [for 7d]",
    "/alert LINK above 9.5",
    changes_state=True,
)
async def alert(svc: Services, req: Request, args: list[str]) -> Reply:
    if not args:
        raise UserError("What should I watch?", USAGE)
    symbol = await svc.tracked_symbol(args[0])
    try:
        spec = parse_alert_args(args[1:])
    except ParseError as exc:
        raise UserError(str(exc), USAGE) from None
    created = await svc.alerts.create(req.chat, symbol, spec)
    await svc.watchlists.keep_tracked(symbol)  # it stays tracked after /watch remove
    return created_reply(created)


def once_reply(outcome: Created | AlreadyDone, done: str) -> Reply:
    """The created alert, or (a repeated press) a short answer naming the one made before."""
    if isinstance(outcome, Created):
        return created_reply(outcome)
    if not outcome.result:
        raise UserError("Working on it: that button was just pressed.")
    raise UserError(f"{done} #{outcome.result}.", "See /alerts.")


@router.callback("mk")
async def make_target_alert(svc: Services, req: Request, args: list[str]) -> Reply:
    """The `Alert +40%` buttons under /coin: `mk:BASE:PCT:NONCE`, one alert per button."""
    require_group_admin(req, "alerts")
    if len(args) != 3 or args[1] not in ("40", "100", "150") or not args[2]:
        raise UserError("That button is no longer valid.", "Send /coin again for fresh buttons.")
    symbol = svc.symbols.parse(args[0])
    spec = AlertSpec("percent", float(args[1]))
    outcome = await svc.alerts.create_once(req.chat, args[2], symbol, spec)
    return once_reply(outcome, "This button already set alert")


@router.command("alerts", "List this chat's alerts", "/alerts", "/alerts")
async def list_alerts(svc: Services, req: Request, args: list[str]) -> Reply:
    return await _list(svc, req)


@router.callback("list")
async def list_button(svc: Services, req: Request, args: list[str]) -> Reply:
    return await _list(svc, req)


async def _list(svc: Services, req: Request) -> Reply:
    service = svc.alerts
    alerts = await service.list(req.chat)
    paused = await service.paused_reason(req.chat)
    note = [] if paused is None else [paused_line(paused)]
    if not alerts:
        hint = "Set one with /alert LINK above 9.5 or /alert AVAX +40%."
        return Reply("No alerts yet", [hint, *note])
    lines = []
    buttons = []
    for a in alerts:
        # a multi-condition alert is never parked: it fires whenever it turns true again
        armed = a.state == AlertState.ARMED or a.kind is AlertKind.CONDITIONS
        state = "armed" if armed else "waiting to re-arm"
        last = f", last fired {fmt.when(a.last_fired)}" if a.last_fired else ""
        extra = options_text(a)
        if a.snoozed_until > svc.clock():
            extra += f"{', ' if extra else ''}snoozed until {fmt.when(a.snoozed_until)}"
        if a.cond:  # what its series read now says more than the price at creation
            values = await service.values_now(a.symbol, conditions_of(a.cond))
            ref = "now " + ", ".join(condition_view.value_text(c, v) for c, v in values)
        else:
            ref = f"ref {fmt.price(a.ref)}"
        lines.append(
            f"#{a.id} {a.symbol} {describe(a)} — {state}; {ref}, "
            f"created {fmt.when(a.created)}{last}" + (f"; {extra}" if extra else "")
        )
        buttons.append([Button(f"Delete #{a.id}", f"del:{a.id}")])
    lines.extend(note)
    if len(alerts) > 1:
        buttons.append([Button("Delete all", "delall")])
    title = f"Your alerts ({len(alerts)}/{service.quota})"
    return Reply(title, lines, buttons=buttons[:20], ephemeral=True)


@router.command(
    "delete",
    "Delete an alert (or all)",
    "/delete ID | /delete all",
    "/delete 12",
    changes_state=True,
)
async def delete(svc: Services, req: Request, args: list[str]) -> Reply:
    if args and args[0].lower() == "all":
        alerts = await svc.alerts.list(req.chat)
        if not alerts:
            return Reply("No alerts to delete.")
        # The button names the newest alert it covers: alerts set after this question are
        # never deleted by it, however late (or often) it is pressed.
        newest = max(a.id for a in alerts)
        return Reply(
            f"Delete all {len(alerts)} alerts of this chat?",
            ["This cannot be undone."],
            buttons=[[Button("Yes, delete all", f"delall:yes:{newest}"), Button("Cancel", "list")]],
            tone="warn",
        )
    return await _delete_one(svc, req, _parse_id(args[0] if args else None))


async def _delete_one(svc: Services, req: Request, alert_id: int) -> Reply:
    require_group_admin(req, "alerts")
    gone = await svc.alerts.delete(req.chat, alert_id)
    return Reply(
        f"🗑 Deleted alert #{gone.id}: {gone.symbol} {describe(gone)}",
        buttons=[[Button("My alerts", "list")]],
    )


@router.callback("del")
async def delete_button(svc: Services, req: Request, args: list[str]) -> Reply:
    return await _delete_one(svc, req, _parse_id(args[0] if args else None))


@router.callback("delall")
async def delete_all_button(svc: Services, req: Request, args: list[str]) -> Reply:
    """`delall` asks first; `delall:yes:NEWEST` deletes the alerts the question listed."""
    require_group_admin(req, "alerts")
    if len(args) != 2 or args[0] != "yes" or not args[1].isdigit():
        return await delete(svc, req, ["all"])
    removed = await svc.alerts.delete_all(req.chat, up_to=int(args[1]))
    if not removed:
        raise UserError("Those alerts are already deleted.", "See /alerts.")
    return Reply(f"🗑 Deleted {removed} alerts.")


@router.callback("snz")
async def snooze_button(svc: Services, req: Request, args: list[str]) -> Reply:
    """`Snooze 1h` under a fired repeat alert: it stays armed but stays quiet for an hour."""
    require_group_admin(req, "alerts")
    alert = await svc.alerts.snooze(req.chat, _parse_id(args[0] if args else None))
    return Reply(
        f"😴 Alert #{alert.id} snoozed until {fmt.when(alert.snoozed_until)}",
        [f"{alert.symbol} {describe(alert)} stays armed and quiet until then."],
        buttons=[[Button(f"Delete #{alert.id}", f"del:{alert.id}"), Button("My alerts", "list")]],
    )


@router.callback("rearm")
async def rearm_button(svc: Services, req: Request, args: list[str]) -> Reply:
    """Re-arm a fired once-alert; pressed again, it names the alert it made the first time."""
    require_group_admin(req, "alerts")
    outcome = await svc.alerts.rearm(req.chat, _parse_id(args[0] if args else None))
    return once_reply(outcome, "Already re-armed as")
