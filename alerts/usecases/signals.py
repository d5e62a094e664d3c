"""The signal detector: runs the signal rules over the stored data and publishes events.

The App runs it in its own task after polls (bot/throttle.py: at once after an
index poll, at most once per exchange poll interval otherwise, never inside the
tick path). The rules are alerts/domain/signals.py; `render` (the chat core's
presenter, passed in by the composition root) words each event. However often it
runs — twice, in two replicas, after a restart — the `SET NX` claim in
`Subscriptions.publish` lets each event out once.

Nothing fires on missing or stale data: R2K data older than the freshness rule
allows, a stale price, under a year of R2K history, daily candles whose last day
is over two days old. A first observation of a label or zone is only stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from alerts.domain import fmt
from alerts.domain.backtest import MIN_BREADTH_COINS
from alerts.domain.jobs import Notice
from alerts.domain.market import DailyClose
from alerts.domain.regime import Regime
from alerts.domain.signals import (
    SignalEvent,
    TargetReached,
    altseason_shift,
    near_record,
    record_high,
    regime_change,
    target_reached,
    zone_of,
)
from alerts.storage.subscriptions import Signal, Subscriptions
from alerts.usecases.market import MarketView

log = logging.getLogger(__name__)

DAY = 86400
MIN_INDEX_ROWS = 250  # about a year of trading days: a "record" over less means little
MAX_CANDLE_AGE = 2 * DAY  # daily candles whose last day is older are stale history

Evidence = Callable[[], Awaitable[str]]
Render = Callable[[SignalEvent], Notice]


@dataclass(frozen=True, slots=True)
class TargetReference:
    """TARGET_REFERENCE: `r2k_record` (a coin's close on the latest R2K record day) or
    `fixed` with `prices` per coin (TARGET_REFERENCE_PRICES)."""

    mode: str = "r2k_record"
    prices: Mapping[str, float] = field(default_factory=dict)


class SignalDetector:
    """Checks every signal against the store and publishes new events to subscribers."""

    def __init__(
        self,
        market: MarketView,
        subscriptions: Subscriptions,
        targets: TargetReference,
        render: Render,
        *,
        evidence: Evidence | None = None,
    ) -> None:
        self.render = render
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
        events, state = await self.detect(now)
        fresh = await self.subscriptions.unclaimed(events)
        published: list[Signal] = []
        if fresh:
            evidence = await self.evidence()
            for event in fresh:
                notice = self.render(event)
                also = event.also if isinstance(event, TargetReached) else ()
                lines = [*notice.lines, evidence]
                full = Signal(event.name, event.event, notice.title, lines, also)
                jobs = await self.subscriptions.publish(full, now)
                if jobs is None:
                    continue
                log.info("signal %s: %d subscriber(s)", event.event, jobs)
                published.append(full)
        if state:
            await self.store.redis.hset(self.store.keys.signal_state, mapping=state)
        return published

    async def detect(self, now: float) -> tuple[list[SignalEvent], dict[str, str]]:
        """Candidate events (claimed or not) and the detector state to store."""
        rows, fetched_at = await self.store.index()
        usable = not self.freshness.index_stale(fetched_at, now) and len(rows) >= MIN_INDEX_ROWS
        if not usable:
            rows = []
        regime = await self.market.regime_of(rows)  # its stats: index_stats(rows), once
        found = (record_high(regime.stats), near_record(rows, regime.stats))
        signals: list[SignalEvent] = [s for s in found if s is not None]
        btc = await self.store.daily(self.universe.btc)
        history_fresh = bool(btc) and now - btc[-1].ts <= MAX_CANDLE_AGE
        state: dict[str, str] = {}
        raw = await self.store.redis.hgetall(self.store.keys.signal_state)
        day = int(now)
        if history_fresh and regime.stats is not None and regime.btc_trend is not None:
            change = regime_change(raw.get("regime"), regime.label, day)
            signals += [change] if change else []
            state["regime"] = regime.label
        share = regime.altseason_share
        beating, total = regime.breadth90
        if history_fresh and share is not None and total >= MIN_BREADTH_COINS:
            old_share = float(raw["share"]) if raw.get("share") else None
            shift = altseason_shift(raw.get("zone"), old_share, beating, total, day)
            signals += [shift] if shift else []
            state.update(zone=zone_of(share), share=repr(share))
        signals += await self._targets(regime, rows, now)
        return signals, state

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
    ) -> list[SignalEvent]:
        refs, how = await self._references(rows, regime)
        out: list[SignalEvent] = []
        for base, (ref, tag) in refs.items():
            snap = await self.store.snapshot(self.universe.symbol(base))
            if snap is None or self.freshness.price_stale(snap.fetched_at, now):
                continue
            reached = target_reached(base, snap.price, ref, tag, how)
            if reached is not None:
                out.append(reached)
        return out
