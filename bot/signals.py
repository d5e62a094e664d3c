"""The signal detector: R2K records, regime changes, altseason crossings, price targets.

It runs after every index poll and every exchange poll (App wires it as poller
listeners) and turns the stored data into candidate signals with deterministic
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

Nothing fires on missing or stale data (alerts/domain/freshness.py): R2K data older
than three index poll intervals, a price older than three real exchange poll periods, under a
year of R2K history, daily candles whose last day is over two days old. A first
observation of a label or zone is only stored.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from alerts.domain.freshness import Freshness
from alerts.subscriptions import Signal, Subscriptions
from bot.backtest import MIN_BREADTH_COINS
from bot.market import DailyClose
from bot.poller import TickBatch
from bot.regime import ALTSEASON_SHARE, BTC_SEASON_SHARE, IndexStats, Regime
from handlers import fmt
from handlers.services import Services

log = logging.getLogger(__name__)

DAY = 86400
NEAR_PCT = 1.0
REARM_PCT = 3.0
TARGET_LEVELS = (40, 100, 150)
MIN_INDEX_ROWS = 250  # about a year of trading days: a "record" over less means little
MAX_CANDLE_AGE = 2 * DAY  # daily candles whose last day is older are stale history

Evidence = Callable[[], Awaitable[str]]


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
    if stats is None or stats.new_ath or stats.distance_pct < -NEAR_PCT:
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
    return Signal("r2k", event, f"R2K within {NEAR_PCT:g}% of its record", lines)


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
        self, services: Services, subscriptions: Subscriptions, *, evidence: Evidence | None = None
    ) -> None:
        self.services = services
        self.subscriptions = subscriptions
        self.store = services.store
        self.settings = services.settings
        self.evidence = evidence or self.evidence_line
        self.published: deque[Signal] = deque(maxlen=100)  # recent ones, for tests and logs
        self.jobs = 0

    async def evidence_line(self) -> str:
        """The backtest's one-line summary over the history the store holds (off the loop)."""
        return await self.services.evidence_line()

    async def on_index(self, rows: list[DailyClose]) -> None:
        """Poller index listener."""
        await self._safe_run()

    async def on_batch(self, batch: TickBatch) -> None:
        """Poller exchange listener."""
        await self._safe_run()

    async def _safe_run(self) -> None:
        try:
            await self.run_once()
        except Exception:  # a signal failure must never stop polling or alerts
            log.exception("signal detection failed")

    async def run_once(self) -> list[Signal]:
        """Detect, claim and fan out; returns the signals this call published."""
        now = self.services.clock()
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
                self.jobs += jobs
                published.append(full)
        if state:
            await self.store.redis.hset(self.store.keys.signal_state, mapping=state)
        self.published.extend(published)
        return published

    def _index_fresh(self, fetched_at: float | None, now: float) -> bool:
        freshness = Freshness(self.settings.index_poll_interval_seconds)
        return not freshness.is_stale(fetched_at, now)

    async def detect(self, now: float) -> tuple[list[Signal], dict[str, str]]:
        """Candidate signals (claimed or not) and the detector state to store."""
        rows, fetched_at = await self.store.index()
        usable = self._index_fresh(fetched_at, now) and len(rows) >= MIN_INDEX_ROWS
        if not usable:
            rows = []
        regime = await self.services.regime_of(rows)  # its stats: index_stats(rows), once
        found = (record_signal(regime.stats), near_signal(rows, regime.stats))
        signals = [s for s in found if s is not None]
        btc = await self.store.daily(f"BTC/{self.settings.quote}")
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
        if self.settings.target_reference == "fixed":
            prices = self.settings.target_reference_prices
            coins = [b for b in self.settings.coins if b in prices]
            refs = {b: (prices[b], f"fixed-{prices[b]:g}") for b in coins}
            return refs, "fixed in TARGET_REFERENCE_PRICES"
        if regime.stats is None or not rows:
            return {}, ""
        record_day = regime.stats.ath_ts // DAY
        day = fmt.day(regime.stats.ath_ts)
        refs = {}
        for base in self.settings.coins:
            candles = await self.store.daily(f"{base}/{self.settings.quote}")
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
            snap = await self.store.snapshot(f"{base}/{self.settings.quote}")
            if snap is None or self.store.is_stale(snap.fetched_at, now):
                continue
            signal = target_signal(base, snap.price, ref, tag, how)
            if signal is not None:
                out.append(signal)
        return out
