"""Signal rules: what happened, as data with a deterministic event id (no words here).

Each rule looks at the data once and says whether an event happened; the chat
core's presenter (handlers/chat/signal_view.py) turns an event into a message.
Event ids are claimed once in Redis, so the same event found twice (two
replicas, a restart) is pushed once.

Rules (event ids in brackets):
- record: the latest R2K close is above every earlier close [`r2k-ath:<day>`].
- near: the latest close is within `NEAR_RECORD_PCT` below the record
  [`r2k-near:<record day>:<approach day>`]. The approach day is the last close more
  than `REARM_PCT` below the record since it was set, so a new approach needs a
  pullback first; a new record starts a new series of approaches.
- regime: the label differs from the last one seen [`regime:<day>:<hash>`], so a
  label flickering at a boundary pushes each transition at most once a day.
- altseason: the share of watched coins beating BTC over 90 days enters >= 75%
  (alt season) or <= 25% (bitcoin season) from another zone [`altseason:<zone>:<day>`].
- targets: a coin's price is >= its reference × (1 + 40/100/150%)
  [`target:<COIN>:<pct>:<reference>`]; one event for the highest level reached, the
  lower ones ride along so they never fire afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from alerts.domain import fmt
from alerts.domain.market import DailyClose
from alerts.domain.regime import ALTSEASON_SHARE, BTC_SEASON_SHARE, NEAR_RECORD_PCT, IndexStats

DAY = 86400
REARM_PCT = 3.0
TARGET_LEVELS = (40, 100, 150)


@dataclass(frozen=True, slots=True)
class RecordHigh:
    close: float
    day_ts: int
    prev_close: float
    prev_day_ts: int
    name = "r2k"

    @property
    def event(self) -> str:
        return f"r2k-ath:{fmt.day(self.day_ts)}"

    @property
    def gain_pct(self) -> float:
        return (self.close / self.prev_close - 1) * 100

    @property
    def days_since(self) -> int:
        return (self.day_ts - self.prev_day_ts) // DAY


@dataclass(frozen=True, slots=True)
class NearRecord:
    close: float
    day_ts: int
    distance_pct: float  # negative: below the record
    record_close: float
    record_ts: int
    approach_ts: int  # the last close more than REARM_PCT below the record
    name = "r2k"

    @property
    def event(self) -> str:
        return f"r2k-near:{fmt.day(self.record_ts)}:{fmt.day(self.approach_ts)}"


@dataclass(frozen=True, slots=True)
class RegimeChange:
    old: str
    new: str
    day_ts: int
    name = "regime"

    @property
    def event(self) -> str:
        digest = hashlib.sha1(f"{self.old}\n{self.new}".encode()).hexdigest()[:12]
        return f"regime:{fmt.day(self.day_ts)}:{digest}"


@dataclass(frozen=True, slots=True)
class AltseasonShift:
    zone: str  # "alt" or "btc"
    beating: int
    total: int
    share: float
    old_share: float | None
    day_ts: int
    name = "altseason"

    @property
    def event(self) -> str:
        return f"altseason:{self.zone}:{fmt.day(self.day_ts)}"


@dataclass(frozen=True, slots=True)
class TargetReached:
    base: str
    price: float
    ref: float
    tag: str  # what the reference is, in the event id (e.g. `r2k-2025-11-24`)
    how: str  # how the reference was chosen, for the message
    name = "targets"

    @property
    def gain_pct(self) -> float:
        return (self.price / self.ref - 1) * 100

    @property
    def reached(self) -> list[int]:
        return [p for p in TARGET_LEVELS if self.gain_pct >= p]

    @property
    def event(self) -> str:
        return f"target:{self.base}:{self.reached[-1]}:{self.tag}"

    @property
    def also(self) -> tuple[str, ...]:
        """The lower levels, marked with this event so they never fire afterwards."""
        return tuple(f"target:{self.base}:{p}:{self.tag}" for p in reversed(self.reached[:-1]))


SignalEvent = RecordHigh | NearRecord | RegimeChange | AltseasonShift | TargetReached


def record_high(stats: IndexStats | None) -> RecordHigh | None:
    """The latest close beats every earlier one (a tie is no record)."""
    if stats is None or not stats.new_ath or stats.prev_ath_close is None:
        return None
    assert stats.prev_ath_ts is not None
    return RecordHigh(stats.last_close, stats.last_ts, stats.prev_ath_close, stats.prev_ath_ts)


def near_record(rows: Sequence[DailyClose], stats: IndexStats | None) -> NearRecord | None:
    """Within `NEAR_RECORD_PCT` of the record, once per approach (module docstring)."""
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
    return NearRecord(
        stats.last_close, stats.last_ts, stats.distance_pct, stats.ath_close, stats.ath_ts, approach
    )


def zone_of(share: float) -> str:
    if share >= ALTSEASON_SHARE:
        return "alt"
    if share <= BTC_SEASON_SHARE:
        return "btc"
    return "mid"


def regime_change(old: str | None, new: str, day_ts: int) -> RegimeChange | None:
    """A changed label; the first label ever seen is only stored."""
    return None if old is None or old == new else RegimeChange(old, new, day_ts)


def altseason_shift(
    old_zone: str | None, old_share: float | None, beating: int, total: int, day_ts: int
) -> AltseasonShift | None:
    """Entering the alt-season or bitcoin-season zone from another zone."""
    share = beating / total
    zone = zone_of(share)
    if old_zone is None or old_zone == zone or zone == "mid":
        return None
    return AltseasonShift(zone, beating, total, share, old_share, day_ts)


def target_reached(base: str, price: float, ref: float, tag: str, how: str) -> TargetReached | None:
    """The highest target `price` reached from `ref`, if any."""
    event = TargetReached(base, price, ref, tag, how)
    return event if event.reached else None
