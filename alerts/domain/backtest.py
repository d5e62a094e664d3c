"""Backtest of the thesis "Russell 2000 record highs precede altcoin rallies".

Pure and deterministic: the same closes always give the same numbers, so the
evidence a reply cites can be checked. Definitions (printed with the table too):

- Breakout: the first R2K all-time closing high after at least 90 trading days
  (rows) without one. The first row of the history is the starting mark.
- Event returns: BTC's and an equal-weight basket's return from the close of the
  breakout's UTC day to the close 30/90/180 calendar days later (crypto trades
  daily). The basket holds the watched coins with a close on both days.
- Base rate: the same returns starting from every day with crypto data.
- Correlation: Pearson of returns between consecutive UTC days on which both the
  R2K and crypto have a close (the index skips weekends and holidays).
- Altseason: days on which >= 75% of the watched coins (at least 3 with history)
  beat BTC over 90 days, reported as spans.

It describes history; it does not predict, and a handful of events proves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from statistics import StatisticsError, correlation, fmean, median
from typing import Any

from alerts.domain.market import Candle, DailyClose
from alerts.domain.regime import ALTSEASON_SHARE, CAVEAT, breadth, period_return

DAY = 86400
HORIZONS = (30, 90, 180)
HEADLINE_HORIZON = 90
BREAKOUT_GAP = 90
MIN_EVENTS = 5
ALTSEASON_DAYS = 90
MIN_BREADTH_COINS = 3
HISTORY_DAYS = 3000
R2K = "R2K"
TOO_FEW = "Too few events to mean anything"


def closes_of(candles: Sequence[Candle]) -> list[DailyClose]:
    """Candles as daily closes keyed by their UTC day."""
    return [DailyClose(c.ts - c.ts % DAY, c.close) for c in candles]


def day_text(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class History:
    """The inputs: R2K closes, BTC closes and the watched coins' closes by base."""

    r2k: list[DailyClose]
    btc: list[DailyClose]
    coins: dict[str, list[DailyClose]] = field(default_factory=dict)

    @property
    def missing(self) -> list[str]:
        return [base for base, rows in self.coins.items() if not rows]


def history_of(
    r2k: list[DailyClose], closes: dict[str, list[DailyClose]], btc: str, symbols: Sequence[str]
) -> History:
    """A `History` from closes by market symbol (`LINK/USDT`); coins keyed by base."""
    coins = {s.split("/")[0]: closes.get(s, []) for s in symbols if s != btc}
    return History(r2k, closes.get(btc, []), coins)


class Daily:
    """Closes on a calendar-day grid (day = ts // DAY); a gap repeats the previous close."""

    __slots__ = ("closes", "first")

    def __init__(self, rows: Sequence[DailyClose]) -> None:
        by_day = {r.ts // DAY: r.close for r in rows if r.close > 0}
        self.first = min(by_day) if by_day else 0
        self.closes: list[float] = []
        if by_day:
            prev = by_day[self.first]
            for day in range(self.first, max(by_day) + 1):
                prev = by_day.get(day, prev)
                self.closes.append(prev)

    @property
    def days(self) -> range:
        return range(self.first, self.first + len(self.closes))

    def has(self, day: int) -> bool:
        return 0 <= day - self.first < len(self.closes)

    def change(self, start: int, end: int) -> float | None:
        """Return from the close of `start` to the close of `end`; None if either is missing."""
        if start >= end or not self.has(start) or not self.has(end):
            return None
        i, j = start - self.first, end - self.first
        return period_return(self.closes[i : j + 1], j - i)

    def trailing(self, day: int, days: int) -> list[float]:
        """Closes of the `days` days before `day` and of `day` (shorter near the start)."""
        if not self.has(day):
            return []
        i = day - self.first
        return self.closes[max(0, i - days) : i + 1]


def record_highs(rows: Sequence[DailyClose]) -> list[int]:
    """Indices of closes above every earlier close."""
    out: list[int] = []
    high = rows[0].close if rows else 0.0
    for i in range(1, len(rows)):
        if rows[i].close > high:
            high = rows[i].close
            out.append(i)
    return out


def breakouts(rows: Sequence[DailyClose]) -> list[int]:
    """Timestamps of the first record close after >= BREAKOUT_GAP rows without one."""
    out: list[int] = []
    prev = 0
    for i in record_highs(rows):
        if i - prev - 1 >= BREAKOUT_GAP:
            out.append(rows[i].ts)
        prev = i
    return out


def basket_returns(
    btc: Daily, coins: Sequence[Daily], start: int, end: int
) -> tuple[float | None, float | None]:
    """BTC's and the equal-weight basket's return between two days (coins trading on both)."""
    rets = [r for c in coins if (r := c.change(start, end)) is not None]
    return btc.change(start, end), (fmean(rets) if rets else None)


def basket_index(history: History) -> list[DailyClose]:
    """The equal-weight basket as a level from 100, rebalanced daily (for charts)."""
    coins = [Daily(rows) for rows in history.coins.values() if rows]
    if not coins:
        return []
    level, out = 100.0, []
    for day in range(min(c.first for c in coins), max(c.days.stop for c in coins)):
        rets = [r for c in coins if (r := c.change(day - 1, day)) is not None]
        level *= 1 + (fmean(rets) if rets else 0.0)
        out.append(DailyClose(day * DAY, level))
    return out


@dataclass(frozen=True, slots=True)
class Summary:
    """Count, mean, median and hit rate (share > 0) of some returns."""

    n: int
    mean: float | None = None
    median: float | None = None
    hit_rate: float | None = None


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        return Summary(0)
    hits = sum(v > 0 for v in values) / len(values)
    return Summary(len(values), fmean(values), median(values), hits)


@dataclass(frozen=True, slots=True)
class Returns:
    """BTC, basket and basket-minus-BTC summaries over one set of start days."""

    btc: Summary
    basket: Summary
    excess: Summary

    @classmethod
    def of(cls, pairs: Sequence[tuple[float | None, float | None]]) -> Returns:
        btc = [b for b, _ in pairs if b is not None]
        basket = [k for _, k in pairs if k is not None]
        excess = [k - b for b, k in pairs if b is not None and k is not None]
        return cls(summarize(btc), summarize(basket), summarize(excess))


@dataclass(frozen=True, slots=True)
class Horizon:
    days: int
    events: Returns
    base: Returns


@dataclass(frozen=True, slots=True)
class Event:
    """One breakout inside the crypto data and the forward returns after it."""

    ts: int
    r2k_close: float
    btc: dict[int, float | None]
    basket: dict[int, float | None]

    def excess(self, days: int) -> float | None:
        b, k = self.btc.get(days), self.basket.get(days)
        return None if b is None or k is None else k - b


@dataclass(frozen=True, slots=True)
class Correlation:
    """Pearson correlation of R2K returns with BTC's and the basket's; `n` return pairs."""

    period: str
    n: int
    btc: float | None
    basket: float | None


def _pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    try:
        return correlation(xs, ys)
    except StatisticsError:  # fewer than two points, or a constant series
        return None


def correlations(
    r2k: Sequence[DailyClose], btc: Daily, coins: Sequence[Daily]
) -> list[Correlation]:
    """Overall and per calendar year (of the later day), on days both the index and BTC have."""
    index = Daily(r2k)
    days = [d for d in sorted({r.ts // DAY for r in r2k}) if btc.has(d)]
    rows: list[tuple[str, float, float, float | None]] = []
    for a, b in pairwise(days):
        r, (bt, bk) = index.change(a, b), basket_returns(btc, coins, a, b)
        if r is not None and bt is not None:
            rows.append((day_text(b * DAY)[:4], r, bt, bk))
    out = []
    for period in ["all", *sorted({row[0] for row in rows})]:
        sel = [row for row in rows if period in ("all", row[0])]
        pairs = [(row[1], row[3]) for row in sel if row[3] is not None]
        btc_corr = _pearson([row[1] for row in sel], [row[2] for row in sel])
        basket_corr = _pearson([x for x, _ in pairs], [y for _, y in pairs])
        out.append(Correlation(period, len(sel), btc_corr, basket_corr))
    return out


def altseason_spans(btc: Daily, coins: dict[str, Daily]) -> list[tuple[int, int]]:
    """(first, last) timestamps of runs of days with the altseason index >= 75%."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for day in btc.days:
        window = {name: c.trailing(day, ALTSEASON_DAYS) for name, c in coins.items()}
        beating, total = breadth(window, btc.trailing(day, ALTSEASON_DAYS), ALTSEASON_DAYS)
        on = total >= MIN_BREADTH_COINS and beating / total >= ALTSEASON_SHARE
        if on and start is None:
            start = day
        elif not on and start is not None:
            spans.append((start * DAY, (day - 1) * DAY))
            start = None
    if start is not None:
        spans.append((start * DAY, (btc.days.stop - 1) * DAY))
    return spans


def pct_text(value: float | None, sign: bool = True) -> str:
    """A return as `+12.3%` (or a share as `67%` with sign=False); `n/a` when unknown."""
    if value is None:
        return "n/a"
    return f"{value * 100:+.1f}%" if sign else f"{value * 100:.0f}%"


def corr_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}"


@dataclass(frozen=True, slots=True)
class Backtest:
    """Everything the backtest found; `table()`, `to_json()` and `evidence_line()` show it."""

    first_ts: int | None
    last_ts: int | None
    coins: list[str]
    missing: list[str]
    breakouts: list[int]
    events: list[Event]
    horizons: list[Horizon]
    correlations: list[Correlation]
    altseason: list[tuple[int, int]]

    def horizon(self, days: int) -> Horizon | None:
        return next((h for h in self.horizons if h.days == days), None)

    @property
    def enough_events(self) -> bool:
        h = self.horizon(HEADLINE_HORIZON)
        return h is not None and h.events.excess.n >= MIN_EVENTS

    def caveats(self) -> list[str]:
        h = self.horizon(HEADLINE_HORIZON)
        n = 0 if h is None else h.events.excess.n
        out = [] if self.enough_events else [
            f"{TOO_FEW}: {n} breakout(s) with {HEADLINE_HORIZON} days of data after them "
            f"(fewer than {MIN_EVENTS})."
        ]
        out.append("Base rates start from every day, so their windows overlap heavily.")
        out.append("The basket is today's watched coins: coins that faded away are not in it.")
        if self.missing:
            out.append(f"No history for: {', '.join(self.missing)}.")
        out.append(CAVEAT)
        return out

    def evidence_line(self) -> str:
        """One line the regime reply and signal messages can cite."""
        if self.first_ts is None:
            return "History: no crypto history loaded yet, so nothing to test."
        since = day_text(self.first_ts)[:4]
        if not self.events:
            return f"History: no R2K breakout since {since} (in the crypto data); nothing to test."
        events = len(self.events)
        excess = [x for e in self.events if (x := e.excess(HEADLINE_HORIZON)) is not None]
        head = f"History: {events} R2K breakout{'s' if events != 1 else ''} since {since}"
        if not excess:
            return f"{head}; none has {HEADLINE_HORIZON} days of data after it yet. {TOO_FEW}."
        beat = sum(x > 0 for x in excess)
        h = self.horizon(HEADLINE_HORIZON)
        rate = None if h is None else h.base.excess.hit_rate
        base = f"; any {HEADLINE_HORIZON}d window: {pct_text(rate, False)}"
        text = (
            f"{head}; basket beat BTC over {HEADLINE_HORIZON}d in {beat} of {len(excess)} "
            f"(mean excess {pct_text(fmean(excess))}{base})."
        )
        return text if len(excess) >= MIN_EVENTS else f"{text} {TOO_FEW}."

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": None if self.first_ts is None else day_text(self.first_ts),
            "to": None if self.last_ts is None else day_text(self.last_ts),
            "coins": self.coins,
            "missing": self.missing,
            "breakouts": [day_text(ts) for ts in self.breakouts],
            "events": [
                {"date": day_text(e.ts), "r2k_close": e.r2k_close, "btc": e.btc, "basket": e.basket}
                for e in self.events
            ],
            "horizons": [asdict(h) for h in self.horizons],
            "correlations": [asdict(c) for c in self.correlations],
            "altseason": [[day_text(a), day_text(b)] for a, b in self.altseason],
            "enough_events": self.enough_events,
            "evidence": self.evidence_line(),
            "caveats": self.caveats(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def table(self) -> str:
        """Plain text: events, forward returns vs base rate, correlations, spans, caveats."""
        if self.first_ts is None or self.last_ts is None:
            return "\n".join(["R2K breakout backtest: no crypto history.", *self.caveats()])
        span = f"{day_text(self.first_ts)} to {day_text(self.last_ts)}"
        lines = [
            f"R2K breakout backtest, {span}; basket (equal weight): {' '.join(self.coins)}",
            f"Breakout = first R2K record close after >= {BREAKOUT_GAP} trading days without one.",
            f"Breakouts in the whole R2K history: {len(self.breakouts)}; "
            f"with crypto data: {len(self.events)}",
            "",
        ]
        hs = [h.days for h in self.horizons]
        if self.events:
            cols = "".join(f"{f'BTC {d}d':>10}{f'bskt {d}d':>10}" for d in hs)
            lines.append(f"{'breakout':<12}{'R2K close':>11}{cols}")
            for e in self.events:
                rets = "".join(f"{pct_text(e.btc[d]):>10}{pct_text(e.basket[d]):>10}" for d in hs)
                lines.append(f"{day_text(e.ts):<12}{e.r2k_close:>11,.2f}{rets}")
            lines.append("")
        lines.append(f"{'forward return':<18}{'events: n':>12}{'mean':>8}{'median':>8}{'hit':>6}"
                     f"{'all days: n':>14}{'mean':>8}{'hit':>6}")
        for h in self.horizons:
            for label, ev, base in (
                ("BTC", h.events.btc, h.base.btc),
                ("basket", h.events.basket, h.base.basket),
                ("basket - BTC", h.events.excess, h.base.excess),
            ):
                mean, mid = pct_text(ev.mean), pct_text(ev.median)
                hit = pct_text(ev.hit_rate, False)
                lines.append(
                    f"{f'{h.days}d {label}':<18}{ev.n:>12}{mean:>8}{mid:>8}{hit:>6}   "
                    f"{base.n:>11}{pct_text(base.mean):>8}{pct_text(base.hit_rate, False):>6}"
                )
        lines += ["", "Correlation of daily returns with the R2K (days both trade):"]
        lines.append(f"{'period':<8}{'n':>6}{'BTC':>8}{'basket':>8}")
        for c in self.correlations:
            lines.append(f"{c.period:<8}{c.n:>6}{corr_text(c.btc):>8}{corr_text(c.basket):>8}")
        lines += ["", f"Altseason spans (>= 75% of coins beat BTC over {ALTSEASON_DAYS}d): "
                  f"{len(self.altseason)}"]
        for a, b in self.altseason:
            n = (b - a) // DAY + 1
            lines.append(f"  {day_text(a)} to {day_text(b)} ({n} day{'s' if n != 1 else ''})")
        lines += ["", self.evidence_line(), "", "Caveats:"]
        lines += [f"- {c}" for c in self.caveats()]
        return "\n".join(lines)


def run_backtest(history: History, horizons: Sequence[int] = HORIZONS) -> Backtest:
    """Every statistic of the module docstring over `history`."""
    btc = Daily(history.btc)
    coins = {base: Daily(rows) for base, rows in history.coins.items() if rows}
    found = breakouts(history.r2k)
    names = list(coins)
    if not btc.closes:
        return Backtest(None, None, names, history.missing, found, [], [], [], [])
    basket = list(coins.values())
    r2k_close = {r.ts // DAY: r.close for r in history.r2k}
    events = []
    for ts in found:
        day = ts // DAY
        if not btc.has(day):
            continue
        rets = {h: basket_returns(btc, basket, day, day + h) for h in horizons}
        btc_rets, basket_rets = ({h: r[i] for h, r in rets.items()} for i in (0, 1))
        events.append(Event(day * DAY, r2k_close[day], btc_rets, basket_rets))
    results = []
    for h in horizons:
        base = [basket_returns(btc, basket, d, d + h) for d in btc.days]
        on_events = [(e.btc[h], e.basket[h]) for e in events]
        results.append(Horizon(h, Returns.of(on_events), Returns.of(base)))
    first, last = btc.first * DAY, (btc.days.stop - 1) * DAY
    corr, spans = correlations(history.r2k, btc, basket), altseason_spans(btc, coins)
    return Backtest(first, last, names, history.missing, found, events, results, corr, spans)
