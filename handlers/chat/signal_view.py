"""Signal events in words: the title and lines a subscriber reads.

The rules (alerts/domain/signals.py) say what happened; this says it, in the
same words everywhere a signal is shown.
"""

from __future__ import annotations

from alerts.domain import fmt
from alerts.domain.jobs import Notice
from alerts.domain.regime import ALTSEASON_SHARE, BTC_SEASON_SHARE, NEAR_RECORD_PCT
from alerts.domain.signals import (
    REARM_PCT,
    TARGET_LEVELS,
    AltseasonShift,
    NearRecord,
    RecordHigh,
    RegimeChange,
    SignalEvent,
    TargetReached,
)


def signal_notice(event: SignalEvent) -> Notice:
    """The message for one signal event (the evidence line is added by the detector)."""
    if isinstance(event, RecordHigh):
        since = event.days_since
        return Notice(
            f"R2K at a record high: {event.close:,.2f}",
            [
                f"The Russell 2000 closed at {event.close:,.2f} on {fmt.day(event.day_ts)}, "
                "above every earlier close.",
                f"Previous record: {event.prev_close:,.2f} on {fmt.day(event.prev_day_ts)}; "
                f"{event.gain_pct:+.2f}% above it, {since:,} day{'s' if since != 1 else ''} "
                "after it.",
            ],
        )
    if isinstance(event, NearRecord):
        return Notice(
            f"R2K within {NEAR_RECORD_PCT:g}% of its record",
            [
                f"The Russell 2000 closed at {event.close:,.2f} on {fmt.day(event.day_ts)}, "
                f"{-event.distance_pct:.2f}% below its record {event.record_close:,.2f} "
                f"({fmt.day(event.record_ts)}).",
                f"It was more than {REARM_PCT:g}% below the record as late as "
                f"{fmt.day(event.approach_ts)}.",
            ],
        )
    if isinstance(event, RegimeChange):
        lines = [f"Was: {event.old}.", "Send /regime for the numbers behind it."]
        return Notice(f"Regime: {event.new}", lines)
    if isinstance(event, AltseasonShift):
        return _altseason(event)
    return _target(event)


def _altseason(event: AltseasonShift) -> Notice:
    if event.zone == "btc":
        title, rule, way = "Bitcoin season by breadth", f"at most {BTC_SEASON_SHARE:.0%}", "down"
    else:
        title, rule, way = "Alt season by breadth", f"at least {ALTSEASON_SHARE:.0%}", "up"
    was = "" if event.old_share is None else f", {way} from {event.old_share:.0%}"
    line = (
        f"{event.beating} of {event.total} watched coins beat BTC over 90 days "
        f"({event.share:.0%}{was}); the line is {rule}."
    )
    return Notice(title, [line])


def _target(event: TargetReached) -> Notice:
    levels = " · ".join(
        f"+{p}% → {fmt.price(event.ref * (1 + p / 100))}{' ✓' if event.gain_pct >= p else ''}"
        for p in TARGET_LEVELS
    )
    return Notice(
        f"{event.base} reached the +{event.reached[-1]}% target",
        [
            f"{event.base} at {fmt.price(event.price)} is {event.gain_pct:+.1f}% from its "
            f"reference {fmt.price(event.ref)} ({event.how}).",
            f"The thesis's speculative targets: {levels}",
        ],
    )
