"""The regime model: a small deterministic function of the data, documented in README.

Inputs are daily closes only (R2K, BTC and the watched coins), so the same
numbers always give the same label. It describes; it does not predict.

R2K state, from the latest close's distance to the all-time closing high (ATH):
`record` (the latest close is the ATH), `near` (within 1%), `below` (1-10%),
`correction` (10-20%), `bear` (more than 20% below).
R2K trend: 50-day vs 200-day simple average. BTC trend: close vs 50-day average.
Alt breadth: share of watched coins whose return beats BTC's over 30 and 90 days
(altseason-index style; Blockchain Center calls >= 75% of the top 50 beating BTC
over 90 days an altcoin season).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from alerts.domain.market import DailyClose

CAVEAT = "Information, not advice. Crypto often moves on its own; past patterns promise nothing."
NEAR_RECORD_PCT = 1.0  # "near" its record: the regime state and the r2k signal agree
CORRECTION_PCT = 10.0
BEAR_PCT = 20.0
ALTSEASON_SHARE = 0.75
BTC_SEASON_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What the R2K feed knows after a poll."""

    last_close: float
    last_ts: int
    ath_close: float
    ath_ts: int
    prev_ath_close: float | None
    prev_ath_ts: int | None
    distance_pct: float
    high_52w: float
    sma50: float | None
    sma200: float | None
    new_ath: bool


def sma(values: Sequence[float], n: int) -> float | None:
    """Simple moving average of the last `n` values, None if there are fewer."""
    if len(values) < n or n <= 0:
        return None
    return sum(values[-n:]) / n


def index_stats(rows: Sequence[DailyClose]) -> IndexStats | None:
    """Statistics of a daily close series (oldest first); None when empty."""
    if not rows:
        return None
    closes = [r.close for r in rows]
    ath_i = max(range(len(closes)), key=lambda i: (closes[i], i))
    earlier = closes[:-1]
    new_ath = bool(earlier) and closes[-1] > max(earlier)
    prev_i: int | None = None
    if earlier:
        prev_i = max(range(len(earlier)), key=lambda i: (earlier[i], i))
    last = rows[-1]
    year_ago = last.ts - 365 * 86400
    return IndexStats(
        last_close=last.close,
        last_ts=last.ts,
        ath_close=closes[ath_i],
        ath_ts=rows[ath_i].ts,
        prev_ath_close=earlier[prev_i] if prev_i is not None else None,
        prev_ath_ts=rows[prev_i].ts if prev_i is not None else None,
        distance_pct=(last.close / closes[ath_i] - 1.0) * 100.0,
        high_52w=max(r.close for r in rows if r.ts >= year_ago),
        sma50=sma(closes, 50),
        sma200=sma(closes, 200),
        new_ath=new_ath,
    )


def r2k_state(stats: IndexStats) -> str:
    drawdown = -stats.distance_pct
    if stats.new_ath or drawdown <= 0:
        return "record"
    if drawdown <= NEAR_RECORD_PCT:
        return "near"
    if drawdown <= CORRECTION_PCT:
        return "below"
    if drawdown <= BEAR_PCT:
        return "correction"
    return "bear"


def period_return(closes: Sequence[float], days: int) -> float | None:
    """Return over the last `days` daily closes, None without enough history."""
    if len(closes) <= days or closes[-days - 1] <= 0:
        return None
    return closes[-1] / closes[-days - 1] - 1.0


def breadth(
    coins: Mapping[str, Sequence[float]], btc: Sequence[float], days: int
) -> tuple[int, int]:
    """(coins beating BTC, coins with enough history) over `days`."""
    btc_ret = period_return(btc, days)
    if btc_ret is None:
        return 0, 0
    beating = total = 0
    for closes in coins.values():
        ret = period_return(closes, days)
        if ret is None:
            continue
        total += 1
        beating += ret > btc_ret
    return beating, total


@dataclass(frozen=True, slots=True)
class Regime:
    """A label plus the numbers behind it."""

    label: str
    r2k_state: str | None
    r2k_trend: str | None
    btc_trend: str | None
    breadth30: tuple[int, int]
    breadth90: tuple[int, int]
    stats: IndexStats | None

    @property
    def altseason_share(self) -> float | None:
        beating, total = self.breadth90
        return beating / total if total else None

    def facts(self) -> list[str]:
        """Human lines with the evidence; missing data is said, never invented."""
        lines: list[str] = []
        s = self.stats
        if s is None:
            lines.append("R2K: no index data yet")
        else:
            day = datetime.fromtimestamp(s.ath_ts, UTC).strftime("%Y-%m-%d")
            distance = f"{s.distance_pct:+.2f}%"
            record = f"record {s.ath_close:,.2f} ({day})"
            lines.append(f"R2K {s.last_close:,.2f}: {distance} vs {record}")
            if s.sma50 is not None and s.sma200 is not None:
                lines.append(
                    f"R2K trend: 50d {s.sma50:,.0f} vs 200d {s.sma200:,.0f} ({self.r2k_trend})"
                )
            else:
                lines.append("R2K trend: not enough history for 50/200-day averages")
        for days, (beating, total) in ((30, self.breadth30), (90, self.breadth90)):
            if total:
                lines.append(f"Alts beating BTC over {days}d: {beating}/{total}")
            else:
                lines.append(f"Alts vs BTC over {days}d: not enough history")
        lines.append(f"BTC trend: {self.btc_trend or 'unknown (no history)'}")
        return lines


def classify(
    stats: IndexStats | None,
    coins: Mapping[str, Sequence[float]],
    btc: Sequence[float],
) -> Regime:
    """The regime for the given data; every rule is in the module docstring."""
    state = r2k_state(stats) if stats else None
    trend = None
    if stats and stats.sma50 is not None and stats.sma200 is not None:
        trend = "up" if stats.sma50 >= stats.sma200 else "down"
    btc_avg = sma(btc, 50)
    btc_trend = None if btc_avg is None else ("up" if btc[-1] >= btc_avg else "down")
    b30 = breadth(coins, btc, 30)
    b90 = breadth(coins, btc, 90)
    share = b90[0] / b90[1] if b90[1] else None

    if state is None:
        label = "unknown: no R2K data"
    elif state in ("record", "near") and trend != "down":
        head = "risk-on: R2K at record" if state == "record" else "risk-on: R2K near record"
        if share is None:
            tail = "alt breadth unknown"
        elif share >= 0.5:
            tail = "alts leading"
        else:
            tail = "alts lagging BTC"
        label = f"{head}, {tail}"
    elif state in ("correction", "bear"):
        label = f"risk-off: R2K in {'a correction' if state == 'correction' else 'a bear market'}"
    else:
        label = "neutral: R2K below its record"
    if share is not None and share >= ALTSEASON_SHARE:
        label += " (alt season by breadth)"
    elif share is not None and share <= BTC_SEASON_SHARE:
        label += " (bitcoin season by breadth)"
    return Regime(label, state, trend, btc_trend, b30, b90, stats)
