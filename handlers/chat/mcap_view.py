"""How a market cap reads in /coin and the digest: the value with its source and age, or
"n/a" saying why (never fetched, CoinGecko unreachable, too old)."""

from __future__ import annotations

from alerts.domain import fmt
from alerts.usecases.market import CapReading


def market_cap_text(reading: CapReading, now: float) -> str:
    """`$7.41B (CoinGecko, 4m ago)`, or `n/a (...)` with the reason."""
    value, source = reading.value, reading.source
    if value is not None and not reading.stale:
        return f"{fmt.usd_compact(value.usd)} ({source}, {fmt.age(value.age(now))} ago)"
    if value is not None:
        why = f"{source} unreachable; " if reading.unreachable else ""
        return f"n/a ({why}last value is {fmt.age(value.age(now))} old)"
    if reading.unreachable:
        return f"n/a ({source} unreachable)"
    if not reading.ever_fetched:
        return "n/a (no data yet)"
    return f"n/a ({source} has no market cap for it)"


def market_cap_short(reading: CapReading) -> str:
    """The digest's `mcap $7.41B` (or `mcap n/a`): the age goes on one line for all."""
    if reading.value is None or reading.stale:
        return "mcap n/a"
    return f"mcap {fmt.usd_compact(reading.value.usd)}"


def caps_summary(readings: list[CapReading], now: float) -> str:
    """One line under a board: the source and the age of the oldest value shown, or why
    there is none."""
    shown = [r.value for r in readings if r.value is not None and not r.stale]
    if shown:
        oldest = max(value.age(now) for value in shown)
        return f"Market caps: data from {readings[0].source}, fetched {fmt.age(oldest)} ago."
    if not readings:
        return "Market caps: n/a (no coin on the board)"
    return "Market caps: " + market_cap_text(readings[0], now)
