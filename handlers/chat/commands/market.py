"""Market commands: /start, /help, /coin, /regime."""

from __future__ import annotations

from alerts.domain import fmt
from handlers.chat.copy import DISCLAIMER, not_a_forecast
from handlers.chat.core import Router
from handlers.chat.mcap_view import market_cap_text
from handlers.chat.reply import Button, Reply, Request, Tone, button_nonce
from handlers.chat.services import Services

router = Router()

TARGETS = (40, 150)


@router.command("start", "What altbot does", "/start", "/start")
async def start(svc: Services, req: Request, args: list[str]) -> Reply:
    """Onboarding: what is watched, the thesis in one line, three example commands."""
    coins = ", ".join(svc.universe.coins)
    lines = [
        f"I watch the Russell 2000 (^RUT) for record highs and the coins {coins} "
        "(with BTC and ETH as reference), and alert you when your price levels are crossed.",
        "The thesis: R2K records signal risk appetite, and altcoins have rallied after them "
        "(2017, 2021). Speculative targets +40% to +150%. History may not repeat.",
        "Try /coin LINK, /regime or /alert LINK +40%. /help lists everything.",
    ]
    if await svc.alerts.resume_chat(req.chat) is not None:
        lines.append("Deliveries here were paused; they are back on.")
    buttons = [
        [
            Button("/coin LINK", "run:coin:LINK"),
            Button("/regime", "run:regime"),
            Button("/help", "run:help"),
        ]
    ]
    return Reply("👋 altbot", lines, footer=DISCLAIMER, buttons=buttons)


@router.command("help", "Every command with an example", "/help", "/help")
async def help_(svc: Services, req: Request, args: list[str]) -> Reply:
    from handlers.chat.registry import all_commands  # the full list lives with the registry

    operator = svc.is_operator(req)
    lines = [
        f"{spec.usage} — {spec.summary}. e.g. {spec.example}"
        for spec in all_commands()
        if operator or not spec.operator_only
    ]
    return Reply("altbot commands", lines, footer=DISCLAIMER)


@router.command(
    "coin", "Price, 24h change, volume, market cap and data age", "/coin SYMBOL", "/coin LINK"
)
async def coin(svc: Services, req: Request, args: list[str]) -> Reply:
    symbol = await svc.tracked_symbol(args[0] if args else None)
    return await coin_reply(svc, symbol)


@router.callback("coin")
async def coin_refresh(svc: Services, req: Request, args: list[str]) -> Reply:
    """The Refresh button of a /coin reply."""
    return await coin_reply(svc, await svc.tracked_symbol(args[0] if args else None))


@router.callback("run")
async def run_example(svc: Services, req: Request, args: list[str]) -> Reply:
    """Example-command buttons of /start (read-only commands only)."""
    if args[:1] == ["coin"]:
        return await coin_reply(svc, svc.symbols.parse(args[1] if len(args) > 1 else "LINK"))
    if args[:1] == ["regime"]:
        return await regime(svc, req, [])
    return await help_(svc, req, [])


async def coin_reply(svc: Services, symbol: str) -> Reply:
    quote = svc.universe.quote
    base = symbol.split("/")[0]
    snap, stale = await svc.market.fresh_snapshot(symbol)
    if snap is None:
        return Reply(
            f"{symbol}",
            ["No price data yet: the exchange has not answered since start-up."],
            tone="warn",
        )
    now = svc.clock()
    cap = await svc.market.market_cap(base)
    tone: Tone = "warn" if stale else ("up" if (snap.change_pct or 0) >= 0 else "down")
    fields = [
        ("Price", f"{fmt.price(snap.price)} {quote}"),
        ("24h", fmt.pct(snap.change_pct)),
        ("Volume 24h", fmt.volume(snap.quote_volume, quote)),
        ("Market cap", market_cap_text(cap, now)),
        ("Data age", fmt.age(snap.age(now)) + (" — STALE" if stale else "")),
    ]
    lines = []
    if stale:
        lines.append(
            f"⚠️ Stale: no fresh price for {fmt.age(snap.age(now))}; the exchange is not "
            "answering. Alerts are not evaluated on stale data."
        )
    if snap.held_price is not None:
        lines.append(
            f"A jump to {fmt.price(snap.held_price)} is being checked against the next poll."
        )
    buttons = [[Button("Chart", f"chart:{base}"), Button("Refresh", f"coin:{base}")]]
    if base in svc.universe.coins:
        targets = " · ".join(f"+{t}% → {fmt.price(snap.price * (1 + t / 100))}" for t in TARGETS)
        lines.append(f"Speculative thesis targets from here: {targets}")
        # one nonce per button: a double tap (or a redelivered press) creates one alert
        buttons.append(
            [Button(f"Alert +{t}%", f"mk:{base}:{t}:{button_nonce()}") for t in TARGETS]
        )
    return Reply(symbol, lines, fields=fields, footer=DISCLAIMER, buttons=buttons, tone=tone)


@router.command(
    "regime", "The R2K / altcoin regime and the numbers behind it", "/regime", "/regime"
)
async def regime(svc: Services, req: Request, args: list[str]) -> Reply:
    result, age = await svc.market.regime()
    lines = result.facts()
    tone: Tone = "neutral"
    if age is None:
        lines.append("R2K data: not loaded yet (the index feed has not answered).")
        tone = "warn"
    elif svc.market.index_stale(age):
        lines.append(
            f"⚠️ Stale: the R2K data is {fmt.age(age)} old; the index feed is not answering."
        )
        tone = "warn"
    else:
        lines.append(f"R2K data age: {fmt.age(age)}")
    lines.append(await svc.market.evidence_line())
    footer = not_a_forecast("current data")
    return Reply(f"Regime: {result.label}", lines, footer=footer, tone=tone)
