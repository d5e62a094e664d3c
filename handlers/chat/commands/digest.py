"""Digest commands (/digest HH:MM [tz], weekly, now, off) and the digest itself.

The same `build_digest` answers /digest now, the Refresh button and the scheduler
(alerts/digests.py), so a scheduled digest reads exactly like one asked for.
"""

from __future__ import annotations

import difflib
import functools
import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from alerts.domain import fmt
from alerts.domain.alert import AlertKind, AlertState, Direction
from alerts.domain.errors import UserError
from alerts.domain.jobs import Notice
from alerts.domain.schedule import WEEKDAYS, Schedule
from alerts.storage.market_store import Snapshot
from handlers.chat.commands.alerts import describe
from handlers.chat.commands.watch import reference_line
from handlers.chat.copy import DISCLAIMER
from handlers.chat.core import Router
from handlers.chat.mcap_view import caps_summary, market_cap_short
from handlers.chat.reply import Button, Reply, Request, Tone, notice_of, require_group_admin
from handlers.chat.services import Services

router = Router()

USAGE = "/digest HH:MM [timezone] · /digest weekly mon HH:MM [timezone] · /digest now · /digest off"
CLOSEST_ALERTS = 3
_HHMM = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")
_TZ_CHARS = re.compile(r"^[A-Za-z0-9_+\-/]{1,64}$")


@functools.lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    """Known IANA zone names by lower-case name (read once: it scans tzdata)."""
    return {name.lower(): name for name in available_timezones()}


def parse_tz(raw: str | None) -> str:
    """An IANA zone name (case-insensitive); UTC when absent. Unknown: a UserError with guesses."""
    if raw is None or raw.upper() in ("UTC", "GMT", "Z"):
        return "UTC"
    name = _zones().get(raw.lower()) if _TZ_CHARS.match(raw) else None
    if name is not None:
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    guesses = difflib.get_close_matches(raw.lower(), list(_zones()), n=3)
    maybe = f"Did you mean {', '.join(_zones()[g] for g in guesses)}? " if guesses else ""
    raise UserError(
        f"I don't know the timezone {raw[:64]!r}.",
        f"{maybe}Use a name like Europe/Berlin or America/New_York (default UTC).",
    )


def parse_time(raw: str) -> tuple[int, int]:
    match = _HHMM.match(raw)
    if match is None:
        raise UserError(f"{raw[:20]!r} is not a time of day.", "Use HH:MM, e.g. /digest 08:30.")
    return int(match.group(1)), int(match.group(2))


def parse_schedule(args: list[str]) -> Schedule:
    """`HH:MM [tz]`, `daily HH:MM [tz]` or `weekly DAY HH:MM [tz]`."""
    words = list(args)
    weekday = None
    if words[0].lower() == "daily":
        words = words[1:]
    elif words[0].lower() == "weekly":
        day = words[1][:3].lower() if len(words) > 1 else ""
        if day not in WEEKDAYS:
            raise UserError("Which day?", "For example /digest weekly mon 08:30 Europe/Berlin.")
        weekday, words = WEEKDAYS.index(day), words[2:]
    if not words or len(words) > 2:
        raise UserError("When should the digest come?", f"Use {USAGE}.")
    hour, minute = parse_time(words[0])
    return Schedule(hour, minute, parse_tz(words[1] if len(words) > 1 else None), weekday)


def local_time(ts: float, tz: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%a %d %b %H:%M ") + tz



@router.command(
    "digest",
    "A scheduled brief: your coins, the R2K, the regime",
    USAGE,
    "/digest 08:30 Europe/Berlin",
)
async def digest(svc: Services, req: Request, args: list[str]) -> Reply:
    digests = svc.digests
    if not args:
        return await status_reply(svc, req)
    verb = args[0].lower()
    if verb == "now":
        return await build_digest(svc, req.chat)
    require_group_admin(req, "digest")
    if verb == "off":
        if await digests.off(req.chat):
            return Reply("Digest off.", ["Send /digest 08:30 to schedule it again."])
        return Reply("No digest was scheduled.", [f"Use {USAGE}."])
    schedule = parse_schedule(args)
    next_run = await digests.set(req.chat, schedule, svc.clock())
    lines = [
        f"Next: {local_time(next_run, schedule.tz)} (in {fmt.age(next_run - svc.clock())}).",
        "Send /digest again to change it, /digest off to stop it, /digest now to see it.",
    ]
    buttons = [[Button("Show it now", "digest:now")]]
    return Reply(f"🗞 Digest set: {schedule.describe()}", lines, buttons=buttons)


@router.callback("digest")
async def digest_button(svc: Services, req: Request, args: list[str]) -> Reply:
    """The Refresh button of a digest (`digest:now`)."""
    if args[:1] != ["now"]:
        raise UserError("That button is no longer valid.")
    return await build_digest(svc, req.chat)


async def status_reply(svc: Services, req: Request) -> Reply:
    current = await svc.digests.get(req.chat)
    if current is None:
        return Reply(
            "No digest scheduled", [f"Use {USAGE}.", "For example /digest 08:30 Europe/Berlin."]
        )
    schedule, next_run = current
    lines = [f"Use {USAGE}."]
    if next_run is not None:
        lines.insert(0, f"Next: {local_time(next_run, schedule.tz)}.")
    return Reply(f"🗞 Your digest: {schedule.describe()}", lines)


class DigestNotices:
    """The digest scheduler's builder: the same digest `/digest now` shows, as a notice."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc

    async def __call__(self, chat: str, schedule: Schedule) -> Notice:
        return notice_of(await build_digest(self.svc, chat, schedule))


async def build_digest(svc: Services, chat: str, schedule: Schedule | None = None) -> Reply:
    """The chat's digest now: board, R2K line, regime, closest alerts."""
    now = svc.clock()
    if schedule is None:
        current = await svc.digests.get(chat)
        schedule = current[0] if current else None
    tz = schedule.tz if schedule else "UTC"
    kind = "Digest"
    if schedule is not None:
        kind = "Weekly digest" if schedule.weekly else "Daily digest"
    lines, top, stale = await board_lines(svc, chat)
    regime, age = await svc.market.regime()
    s = regime.stats
    if s is None:
        lines.append("R2K: no index data yet (the index feed has not answered).")
    else:
        where = (
            "a record close"
            if s.distance_pct >= 0
            else f"{-s.distance_pct:.2f}% below its record close {s.ath_close:,.2f} "
            f"({fmt.day(s.ath_ts)})"
        )
        line = f"R2K {s.last_close:,.2f} (close {fmt.day(s.last_ts)}): {where}"
        if svc.market.index_stale(age):
            stale = True
            line += f" — STALE (data {fmt.age(age)} old)"
        lines.append(line)
    lines.append(f"Regime: {regime.label}")
    closest = await closest_alerts(svc, chat)
    lines.append("Alerts closest to firing:" if closest else "No alerts set: try /alert SOL +10%.")
    lines.extend(f"  {line}" for line in closest)
    if stale:
        lines.append("⚠️ Data marked STALE is old: a feed is not answering.")
    chart = Button(f"Chart {top}", f"chart:{top}") if top else Button("Chart R2K", "chart:R2K")
    tone: Tone = "warn" if stale else "neutral"
    title = f"🗞 {kind} — {local_time(now, tz)}"
    buttons = [[Button("Refresh", "digest:now"), chart]]
    return Reply(title, lines, footer=DISCLAIMER, buttons=buttons, tone=tone)


async def board_lines(svc: Services, chat: str) -> tuple[list[str], str | None, bool]:
    """Board lines sorted by 24h change (then BTC and ETH for reference), the top mover's
    base, and whether any is stale."""
    quote = svc.universe.quote
    symbols = [f"{b}/{quote}" for b in svc.universe.coins]
    symbols += [s for s in await svc.watchlists.of(chat) if s not in symbols]
    rows: list[tuple[Snapshot, bool]] = []
    missing: list[str] = []
    for symbol in symbols:
        snap, stale = await svc.market.fresh_snapshot(symbol)
        if snap is None:
            missing.append(symbol)
        else:
            rows.append((snap, stale))
    rows.sort(key=lambda r: -(r[0].change_pct if r[0].change_pct is not None else -1e9))
    lines = ["Board (by 24h change):"]
    caps = []
    for snap, stale in rows:
        ratio = await svc.alerts.volume_ratio(snap.symbol)
        vol = "vol n/a" if ratio is None else f"vol {ratio:.1f}× 30d mean"
        flag = f" — STALE ({fmt.age(snap.age(svc.clock()))} old)" if stale else ""
        base = snap.symbol.split("/")[0]
        caps.append(await svc.market.market_cap(base))
        cap = market_cap_short(caps[-1])
        price = f"{fmt.price(snap.price)} {fmt.pct(snap.change_pct)}"
        lines.append(f"  {base} {price} · {vol} · {cap}{flag}")
    for symbol in missing:
        lines.append(f"  {symbol.split('/')[0]}: no price yet (tracking starts with the next poll)")
    reference, reference_stale = await reference_line(svc)
    if reference:
        lines.append(f"  {reference}")
    lines.append(caps_summary(caps, svc.clock()))
    top = rows[0][0].symbol.split("/")[0] if rows else None
    return lines, top, reference_stale or any(stale for _, stale in rows)


async def closest_alerts(svc: Services, chat: str, n: int = CLOSEST_ALERTS) -> list[str]:
    """The chat's armed level alerts nearest their level, as `#id … : x% away` lines."""
    found: list[tuple[float, str]] = []
    prices: dict[str, float | None] = {}
    for a in await svc.alerts.list(chat):
        if a.state is not AlertState.ARMED or a.kind is AlertKind.MOVE:
            continue
        if a.kind is AlertKind.VOLUME:
            value = await svc.alerts.volume_ratio(a.symbol)
        else:
            if a.symbol not in prices:
                snap = await svc.store.snapshot(a.symbol)
                prices[a.symbol] = None if snap is None else snap.price
            value = prices[a.symbol]
        if not value:
            continue
        gap = (a.level / value - 1) if a.direction == Direction.UP else (1 - a.level / value)
        gap = max(gap * 100, 0.0)
        found.append((gap, f"#{a.id} {a.symbol} {describe(a)}: {gap:.2f}% away"))
    found.sort()
    return [line for _, line in found[:n]]
