"""The signal detector: R2K records, regime changes, altseason crossings, price targets.

The App runs it in its own task after polls (bot/throttle.py: at once after an
index poll, at most once per exchange poll interval otherwise, never inside the
tick path) and it turns the stored data into candidate signals with deterministic
event ids. However often it runs — twice, in two replicas, after a restart —
the `SET NX` claim in `Subscriptions.publish` lets each event out once.

Rules (event ids in brackets):
- r2k record: the latest close is above every earlier close [`r2k-ath:<day>`].
- r2k near: the latest close is within 1% below the record [`r2k-near:<record
  day>:<approach day>`]. The approach day is the last close more than 3% below
  the record since it was set, so a new approach needs a >3% pullback first;
  right after a record the index is near it by definition, and the record was
  itself pushed. A new record starts a new series of approaches.
- regime: the label (bot/regime.py) differs from the last one seen
  [`regime:<day>:<hash of old→new>`], so a label flickering at a boundary pushes
  each transition at most once a day.
- altseason: the share of watched coins beating BTC over 90 days enters >= 75%
  (alt season) or <= 25% (bitcoin season) from another zone [`altseason:<zone>:<day>`].
- targets: a coin's fresh price is >= its reference × (1 + 40/100/150%)
  [`target:<COIN>:<pct>:<reference>`]; one signal per coin for the highest level
  reached, the lower levels are marked with it so they never fire afterwards.

Nothing fires on missing or stale data: R2K data older than three index poll
intervals, a price older than three exchange polls (the store's rule), under a
year of R2K history, daily candles whose last day is over two days old. A first
observation of a label or zone is only stored.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from alerts.domain import fmt
from alerts.domain.backtest import MIN_BREADTH_COINS
from alerts.domain.market import DailyClose
from alerts.domain.regime import (
    ALTSEASON_SHARE,
    BTC_SEASON_SHARE,
    NEAR_RECORD_PCT,
    IndexStats,
    Regime,
)
from alerts.storage.subscriptions import Signal, Subscriptions
from alerts.usecases.market import MarketView

log = logging.getLogger(__name__)

DAY = 86400
REARM_PCT = 3.0
TARGET_LEVELS = (40, 100, 150)
MIN_INDEX_ROWS = 250  # about a year of trading days: a "record" over less means little
MAX_CANDLE_AGE = 2 * DAY  # daily candles whose last day is older are stale history

Evidence = Callable[[], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class TargetReference:
    """TARGET_REFERENCE: `r2k_record` (a coin's close on the latest R2K record day) or
    `fixed` with `prices` per coin (TARGET_REFERENCE_PRICES)."""

    mode: str = "r2k_record"
    prices: Mapping[str, float] = field(default_factory=dict)


def record_signal(stats: IndexStats | None) -> Signal | None:
    """The R2K record signal when the latest close beats every earlier one."""
    if stats is None or not stats.new_ath or stats.prev_ath_close is None:
        return None
    assert stats.prev_ath_ts is not None
    day, prev_day = fmt.day(stats.last_ts), fmt.day(stats.prev_ath_ts)
    gain = (stats.last_close / stats.prev_ath_close - 1) * 100
    since = (stats.last_ts - stats.prev_ath_ts) // DAY
    lines = [
        f"The Russell 2000 closed at {stats.last_close:,.2f} on {day}, above every earlier close.",
        f"Previous record: {stats.prev_ath_close:,.2f} on {prev_day}; {gain:+.2f}% above it, "
        f"{since:,} day{'s' if since != 1 else ''} after it.",
    ]
    return Signal("r2k", f"r2k-ath:{day}", f"R2K at a record high: {stats.last_close:,.2f}", lines)


def near_signal(rows: Sequence[DailyClose], stats: IndexStats | None) -> Signal | None:
    """The "within 1% of the record" signal, once per approach (see the module docstring)."""
    if stats is None or stats.new_ath or stats.distance_pct < -NEAR_RECORD_PCT:
        return None
    floor = stats.ath_close * (1 - REARM_PCT / 100)
    approach = None
    for row in reversed(rows):
        if row.ts <= stats.ath_ts:
            break
        if row.close < floor:
            approach = row.ts
            break
    if approach is None:
        return None
    record_day = fmt.day(stats.ath_ts)
    lines = [
        f"The Russell 2000 closed at {stats.last_close:,.2f} on {fmt.day(stats.last_ts)}, "
        f"{-stats.distance_pct:.2f}% below its record {stats.ath_close:,.2f} ({record_day}).",
        f"It was more than {REARM_PCT:g}% below the record as late as {fmt.day(approach)}.",
    ]
    event = f"r2k-near:{record_day}:{fmt.day(approach)}"
    return Signal("r2k", event, f"R2K within {NEAR_RECORD_PCT:g}% of its record", lines)


def zone_of(share: float) -> str:
    if share >= ALTSEASON_SHARE:
        return "alt"
    if share <= BTC_SEASON_SHARE:
        return "btc"
    return "mid"


def target_signal(base: str, price: float, ref: float, tag: str, how: str) -> Signal | None:
    """The highest target reached by `price` from `ref`; lower levels ride along as marks."""
    gain = (price / ref - 1) * 100
    reached = [p for p in TARGET_LEVELS if gain >= p]
    if not reached:
        return None
    ids = [f"target:{base}:{p}:{tag}" for p in reversed(reached)]
    levels = " · ".join(
        f"+{p}% → {fmt.price(ref * (1 + p / 100))}{' ✓' if gain >= p else ''}"
        for p in TARGET_LEVELS
    )
    lines = [
        f"{base} at {fmt.price(price)} is {gain:+.1f}% from its reference "
        f"{fmt.price(ref)} ({how}).",
        f"The thesis's speculative targets: {levels}",
    ]
    title = f"{base} reached the +{reached[-1]}% target"
    return Signal("targets", ids[0], title, lines, tuple(ids[1:]))


class SignalDetector:
    """Checks every signal against the store and publishes new events to subscribers."""

    def __init__(
        self,
        market: MarketView,
        subscriptions: Subscriptions,
        targets: TargetReference,
        *,
        evidence: Evidence | None = None,
    ) -> None:
        self.market = market
        self.subscriptions = subscriptions
        self.targets = targets
        self.store = market.store
        self.universe = market.universe
        self.freshness = market.freshness
        self.evidence = evidence or market.evidence_line

    async def run_once(self) -> list[Signal]:
        """Detect, claim and fan out; returns the signals this call published."""
        now = self.market.clock()
        signals, state = await self.detect(now)
        fresh = await self.subscriptions.unclaimed(signals)
        published: list[Signal] = []
        if fresh:
            evidence = await self.evidence()
            for signal in fresh:
                full = replace(signal, lines=[*signal.lines, evidence])
                jobs = await self.subscriptions.publish(full, now)
                if jobs is None:
                    continue
                log.info("signal %s: %d subscriber(s)", signal.event, jobs)
                published.append(full)
        if state:
            await self.store.redis.hset(self.store.keys.signal_state, mapping=state)
        return published

    async def detect(self, now: float) -> tuple[list[Signal], dict[str, str]]:
        """Candidate signals (claimed or not) and the detector state to store."""
        rows, fetched_at = await self.store.index()
        usable = not self.freshness.index_stale(fetched_at, now) and len(rows) >= MIN_INDEX_ROWS
        if not usable:
            rows = []
        regime = await self.market.regime_of(rows)  # its stats: index_stats(rows), once
        found = (record_signal(regime.stats), near_signal(rows, regime.stats))
        signals = [s for s in found if s is not None]
        btc = await self.store.daily(self.universe.btc)
        history_fresh = bool(btc) and now - btc[-1].ts <= MAX_CANDLE_AGE
        state: dict[str, str] = {}
        raw = await self.store.redis.hgetall(self.store.keys.signal_state)
        day = fmt.day(now)
        if history_fresh and regime.stats is not None and regime.btc_trend is not None:
            signals += self._regime_change(raw.get("regime"), regime.label, day)
            state["regime"] = regime.label
        share = regime.altseason_share
        if history_fresh and share is not None and regime.breadth90[1] >= MIN_BREADTH_COINS:
            signals += self._altseason(raw.get("zone"), raw.get("share"), regime, day)
            state.update(zone=zone_of(share), share=repr(share))
        signals += await self._targets(regime, rows, now)
        return signals, state

    @staticmethod
    def _regime_change(old: str | None, new: str, day: str) -> list[Signal]:
        if old is None or old == new:
            return []
        digest = hashlib.sha1(f"{old}\n{new}".encode()).hexdigest()[:12]
        lines = [f"Was: {old}.", "Send /regime for the numbers behind it."]
        return [Signal("regime", f"regime:{day}:{digest}", f"Regime: {new}", lines)]

    @staticmethod
    def _altseason(
        old: str | None, old_share: str | None, regime: Regime, day: str
    ) -> list[Signal]:
        share = regime.altseason_share
        assert share is not None
        zone = zone_of(share)
        if old is None or old == zone or zone == "mid":
            return []
        beating, total = regime.breadth90
        was = "" if not old_share else f", up from {float(old_share):.0%}"
        if zone == "btc":
            was = "" if not old_share else f", down from {float(old_share):.0%}"
            title = "Bitcoin season by breadth"
            rule = f"at most {BTC_SEASON_SHARE:.0%}"
        else:
            title = "Alt season by breadth"
            rule = f"at least {ALTSEASON_SHARE:.0%}"
        lines = [
            f"{beating} of {total} watched coins beat BTC over 90 days ({share:.0%}{was}); "
            f"the line is {rule}."
        ]
        return [Signal("altseason", f"altseason:{zone}:{day}", title, lines)]

    async def _references(
        self, rows: Sequence[DailyClose], regime: Regime
    ) -> tuple[dict[str, tuple[float, str]], str]:
        """(coin → (reference price, event tag), how the reference was chosen)."""
        if self.targets.mode == "fixed":
            prices = self.targets.prices
            coins = [b for b in self.universe.coins if b in prices]
            refs = {b: (prices[b], f"fixed-{prices[b]:g}") for b in coins}
            return refs, "fixed in TARGET_REFERENCE_PRICES"
        if regime.stats is None or not rows:
            return {}, ""
        record_day = regime.stats.ath_ts // DAY
        day = fmt.day(regime.stats.ath_ts)
        refs = {}
        for base in self.universe.coins:
            candles = await self.store.daily(self.universe.symbol(base))
            close = next((c.close for c in candles if c.ts // DAY == record_day), None)
            if close is not None and close > 0:
                refs[base] = (close, f"r2k-{day}")
        return refs, f"its daily close on {day}, the day of the latest R2K record"

    async def _targets(
        self, regime: Regime, rows: Sequence[DailyClose], now: float
    ) -> list[Signal]:
        refs, how = await self._references(rows, regime)
        out = []
        for base, (ref, tag) in refs.items():
            snap = await self.store.snapshot(self.universe.symbol(base))
            if snap is None or self.freshness.price_stale(snap.fetched_at, now):
                continue
            signal = target_signal(base, snap.price, ref, tag, how)
            if signal is not None:
                out.append(signal)
        return out
