"""Chart commands: /chart SYMBOL [range], /chart R2K, /chart regime, /evidence.

Renders run in the chart process (`handlers.chat.charting.render_async`) and are shared: a
chart's name holds nothing chat-specific (symbol, range, data version), so one
render serves every chat asking at once and, through Redis, every replica for a
minute (alerts/storage/chart_cache.py). A chat's alert levels are drawn over the
shared image (`draw_levels`, no re-render). Each chat gets `CHARTS_PER_MINUTE`
charts a minute. Missing data is said plainly: nothing is drawn or quoted from
invented numbers.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Awaitable, Callable

from alerts.domain import fmt
from alerts.domain.alert import Alert
from alerts.domain.backtest import (
    TOO_FEW,
    History,
    basket_index,
    breakouts,
    corr_text,
    pct_text,
    record_highs,
    run_backtest,
)
from alerts.domain.errors import UserError
from alerts.domain.indicators import TIMEFRAME_LIST, Timeframe
from alerts.domain.market import MarketError
from handlers.chat.bar_chart import SHOWN_BARS, chart_indicators, render_bar_chart
from handlers.chat.charting import (
    AlertLevel,
    draw_levels,
    render_async,
    render_price_chart,
    render_r2k_chart,
    render_regime_chart,
)
from handlers.chat.commands.alerts import describe
from handlers.chat.copy import DISCLAIMER, not_a_forecast
from handlers.chat.core import Router
from handlers.chat.reply import Button, Reply, Request
from handlers.chat.services import Services

router = Router()

RANGES = {"7d": 7, "30d": 30, "90d": 90, "1y": 365}
TIMEFRAMES = {t.value for t in Timeframe}
DEFAULT_RANGE = "30d"
R2K_NAMES = ("R2K", "RUT", "^RUT")
CHOICES = (
    f"Charts: /chart LINK 90d (ranges {', '.join(RANGES)}), /chart LINK 1h (bars: "
    f"{TIMEFRAME_LIST}), /chart R2K, /chart regime."
)


def parse_range(raw: str | None) -> str:
    """A daily range (`90d`) or a bar timeframe (`1h`)."""
    if raw is None:
        return DEFAULT_RANGE
    if raw.lower() not in RANGES and raw.lower() not in TIMEFRAMES:
        raise UserError(
            f"{raw} is not a chart range.",
            f"Choose one of {', '.join(RANGES)}, or bars: {TIMEFRAME_LIST}.",
        )
    return raw.lower()



async def _png(svc: Services, name: str, render: Callable[[], Awaitable[bytes]]) -> bytes:
    """A shared chart: cached, rendering for someone else already, or rendered now."""
    return await svc.charts.png(name, render)


async def _within_budget(svc: Services, req: Request) -> None:
    wait = await svc.charts.wait_seconds(req.chat)
    if wait:
        raise UserError(
            f"That is {svc.charts.per_minute} charts this minute, the most a chat can ask for.",
            f"Try again in {fmt.age(wait)}.",
        )


def _missing(title: str, text: str) -> Reply:
    return Reply(title, [text], footer=DISCLAIMER, tone="warn")


@router.command(
    "chart",
    "Price chart with your alert levels, or the R2K / regime chart (6 a minute)",
    "/chart SYMBOL [7d|30d|90d|1y|5m|15m|1h|4h|1d] · /chart R2K · /chart regime",
    "/chart LINK 90d",
)
async def chart(svc: Services, req: Request, args: list[str]) -> Reply:
    if not args:
        raise UserError("Which chart?", CHOICES)
    return await _dispatch(svc, req, args[0], args[1] if len(args) > 1 else None)


@router.callback("chart")
async def chart_button(svc: Services, req: Request, args: list[str]) -> Reply:
    """`chart:<BASE>[:<range>]`, the Chart buttons on coin replies and range buttons here."""
    if not args:
        raise UserError("That button is no longer valid.")
    return await _dispatch(svc, req, args[0], args[1] if len(args) > 1 else None)


async def _dispatch(svc: Services, req: Request, what: str, rng: str | None) -> Reply:
    await _within_budget(svc, req)
    if what.upper() in R2K_NAMES:
        return await r2k_chart(svc)
    if what.lower() == "regime":
        return await regime_chart(svc)
    symbol = await svc.tracked_symbol(what)
    chosen = parse_range(rng)
    if chosen in TIMEFRAMES:
        return await bar_chart(svc, req, symbol, Timeframe(chosen))
    return await price_chart(svc, req, symbol, chosen)


async def alert_levels(svc: Services, chat: str, symbol: str) -> list[AlertLevel]:
    """The chat's price alerts on `symbol` as (level, label) for the chart; alerts on the
    same level share one line and one label (`#3 #7 above 12`), so labels never overlap."""
    by_level: dict[float, list[Alert]] = {}
    for a in await svc.alerts.list(chat):
        if a.symbol == symbol and a.kind.is_price_level:
            by_level.setdefault(a.level, []).append(a)
    return [
        (level, " ".join(f"#{a.id}" for a in same) + " " + describe(same[0]))
        for level, same in by_level.items()
    ]


async def price_chart(svc: Services, req: Request, symbol: str, rng: str) -> Reply:
    base = symbol.split("/")[0]
    title = f"{symbol} · {rng}"
    candles = await svc.store.daily(symbol)
    if not candles:
        return _missing(title, f"No daily history for {symbol} yet: the exchange has not sent "
                        "it since start-up. Try again in a few minutes.")
    days = RANGES[rng]
    index, _ = await svc.store.index()
    records = [index[i].ts for i in record_highs(index)]
    shown = candles[-days:]
    version = zlib.crc32(repr((candles[-1], len(candles), records)).encode())
    png = await _png(svc, f"price:{symbol}:{rng}:{version:x}", lambda: render_async(
        render_price_chart, symbol, candles, r2k_records=records, range_days=days))
    levels = await alert_levels(svc, req.chat, symbol)
    off_chart: list[str] = []
    if levels:  # the chat's own levels over the shared image: milliseconds, not a render
        png, off_chart = await asyncio.to_thread(draw_levels, png, levels)
    last = shown[-1]
    change = (last.close / shown[0].open - 1) * 100 if shown[0].open > 0 else None
    lines = [f"Last daily close {fmt.price(last.close)} {svc.universe.quote} "
             f"({fmt.day(last.ts)}); {fmt.pct(change)} over the chart."]
    if len(shown) < days:
        lines.append(f"Only {len(shown)} days of history so far.")
    if not index:
        lines.append("R2K record days: no index data yet.")
    else:
        in_range = sum(ts >= shown[0].ts for ts in records)
        lines.append(f"R2K record closes in this range: {in_range} (dotted lines).")
    if levels:
        lines.append(f"Your alert levels drawn: {len(levels)}.")
    else:
        lines.append(f"No price alerts on {base} here yet: e.g. /alert {base} +40%")
    if off_chart:
        more = f" (+{len(off_chart) - 3} more)" if len(off_chart) > 3 else ""
        lines.append(f"Beyond the price range (▲▼ at the edge): {', '.join(off_chart[:3])}{more}.")
    buttons = [
        [Button(r, f"chart:{base}:{r}") for r in RANGES if r != rng] + [
            Button("Coin", f"coin:{base}")
        ]
    ]
    return Reply(title, lines, footer=DISCLAIMER, image=png,
                 image_name=f"{base}-{rng}.png", buttons=buttons)


async def bar_chart(svc: Services, req: Request, symbol: str, tf: Timeframe) -> Reply:
    """Bars of one timeframe; the chat's indicator alerts on it drawn from the same bars."""
    base = symbol.split("/")[0]
    title = f"{symbol} · {tf.value} bars"
    keys = sorted(set(await svc.alerts.series_of(req.chat, symbol)))
    drawn = chart_indicators(keys, tf)
    need = max((i.bars_needed for i in drawn), default=0)
    try:
        bars = await svc.bars.fetch_bars(symbol, tf, SHOWN_BARS + need)
    except MarketError as exc:
        return _missing(title, f"No {tf.value} bars for {symbol} right now ({exc}). "
                        "Try again in a minute.")
    if not bars:
        return _missing(title, f"The exchange sent no {tf.value} bars for {symbol}.")
    version = zlib.crc32(repr((bars[-1], len(bars), keys)).encode())
    png = await _png(svc, f"bars:{symbol}:{tf.value}:{version:x}", lambda: render_async(
        render_bar_chart, symbol, tf.value, bars, keys))
    levels = await alert_levels(svc, req.chat, symbol)
    if levels:
        png, _ = await asyncio.to_thread(draw_levels, png, levels)
    lines = [f"Last price {fmt.price(bars[-1].close)} {svc.universe.quote} (the {tf.value} bar "
             f"still forming); {min(len(bars), SHOWN_BARS)} bars drawn."]
    if drawn:
        lines.append(f"Your indicators on {tf.value}: {', '.join(i.text for i in drawn)}.")
    else:
        lines.append(f"No indicator alerts on {base} {tf.value} here: e.g. "
                     f"/alert {base} rsi14 {tf.value} above 70")
    if levels:
        lines.append(f"Your alert levels drawn: {len(levels)}.")
    buttons = [[Button(t.value, f"chart:{base}:{t.value}") for t in Timeframe if t is not tf]
               + [Button("Coin", f"coin:{base}")]]
    return Reply(title, lines, footer=DISCLAIMER, image=png,
                 image_name=f"{base}-{tf.value}.png", buttons=buttons)


async def r2k_chart(svc: Services) -> Reply:
    title = "Russell 2000 (^RUT)"
    rows, fetched_at = await svc.store.index()
    if not rows:
        return _missing(title, "No R2K data yet: the index feed has not answered since start-up.")
    png = await _png(svc, f"r2k:{rows[-1].ts}", lambda: render_async(render_r2k_chart, rows))
    found = breakouts(rows)
    records = record_highs(rows)
    last_record = fmt.day(rows[records[-1]].ts) if records else "none in this history"
    lines = [
        f"Last close {rows[-1].close:,.2f} ({fmt.day(rows[-1].ts)}); latest record close: "
        f"{last_record}.",
        f"Breakouts (first record after 90+ trading days): {len(found)}"
        + (f", latest {fmt.day(found[-1])}." if found else "."),
    ]
    if fetched_at is not None:
        lines.append(f"R2K data age: {fmt.age(svc.clock() - fetched_at)}")
    buttons = [[Button("Regime chart", "chart:regime")]]
    return Reply(title, lines, footer=DISCLAIMER, image=png, image_name="r2k.png",
                 buttons=buttons)


async def _regime_png(svc: Services, history: History) -> bytes:
    name = f"regime:{history.btc[-1].ts}:{history.r2k[-1].ts if history.r2k else 0}"
    basket = basket_index(history)
    return await _png(svc, name, lambda: render_async(
        render_regime_chart, history.r2k, basket, history.btc, breakouts(history.r2k)))


async def regime_chart(svc: Services) -> Reply:
    title = "R2K vs BTC vs alt basket"
    history = await svc.market.history()
    if not history.btc:
        return _missing(title, "No BTC history yet: the exchange has not sent it since start-up.")
    regime, _ = await svc.market.regime()
    lines = [f"Regime now: {regime.label}"]
    if not history.r2k:
        lines.append("R2K: no index data yet, so only BTC and the basket are drawn.")
    png = await _regime_png(svc, history)
    return Reply(title, lines, footer=not_a_forecast("data"),
                 image=png, image_name="regime.png", buttons=[[Button("Evidence", "evidence")]])


@router.command(
    "evidence",
    "What history says about R2K breakouts and altcoins",
    "/evidence",
    "/evidence",
)
async def evidence(svc: Services, req: Request, args: list[str]) -> Reply:
    await _within_budget(svc, req)
    title = "Evidence: R2K breakouts vs altcoins"
    history = await svc.market.history()
    if not history.btc or not history.r2k:
        feed = "BTC" if not history.btc else "R2K"
        return _missing(title, f"No {feed} history yet, so there is nothing to test. "
                        "Try again once the feeds have answered.")
    result = await asyncio.to_thread(run_backtest, history)
    lines = [result.evidence_line()]
    h = result.horizon(90)
    if h is not None and h.events.excess.n:
        ev, base = h.events, h.base
        lines.append(f"90d after breakouts: basket {pct_text(ev.basket.mean)} vs BTC "
                     f"{pct_text(ev.btc.mean)} (means, {ev.excess.n} events).")
        lines.append(f"Any 90d window: basket beat BTC {pct_text(base.excess.hit_rate, False)} "
                     f"of the time ({base.excess.n} days).")
    overall = result.correlations[0] if result.correlations else None
    if overall is not None and overall.btc is not None:
        lines.append(f"Daily correlation with the R2K: BTC {overall.btc:+.2f}, basket "
                     f"{corr_text(overall.basket)} ({overall.n} days both traded).")
    spans = result.altseason
    lines.append(f"Altseason spans (≥75% of coins beat BTC over 90d): {len(spans)}"
                 + (f", latest {fmt.day(spans[-1][0])} to {fmt.day(spans[-1][1])}." if spans
                    else "."))
    lines += [c for c in result.caveats()[:-1] if not c.startswith(TOO_FEW)]  # said above
    lines.append("Full table: altbot backtest (command line).")
    png = await _regime_png(svc, history)
    return Reply(title, lines, footer=not_a_forecast("history"),
                 image=png, image_name="evidence.png")


@router.callback("evidence")
async def evidence_button(svc: Services, req: Request, args: list[str]) -> Reply:
    return await evidence(svc, req, [])
