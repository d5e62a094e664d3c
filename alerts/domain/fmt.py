"""Number and time formatting shared by every reply."""

from __future__ import annotations

from datetime import UTC, datetime


def price(value: float) -> str:
    """Enough significant digits for both BTC (97,123.45) and HBAR (0.2513)."""
    if value >= 1000:
        return f"{value:,.2f}"
    if value >= 1:
        return f"{value:,.4f}".rstrip("0").rstrip(".") if value < 10 else f"{value:,.3f}"
    return f"{value:.6f}".rstrip("0").rstrip(".")


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2f}%"


def volume(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            return f"{value / limit:,.1f}{suffix} {unit}"
    return f"{value:,.0f} {unit}"


def usd_compact(value: float) -> str:
    """Big dollar amounts to three significant digits: $7.41B, $612M, $45.2B, $1.94T."""
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        scaled = float(f"{value / limit:.3g}")  # rounded first: 999.6M reads $1.00B
        if abs(scaled) >= 1:
            decimals = 2 if abs(scaled) < 10 else 1 if abs(scaled) < 100 else 0
            return f"${scaled:,.{decimals}f}{suffix}"
    return f"${value:,.0f}"


def age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    s = int(seconds)
    if s < 90:
        return f"{s}s"
    if s < 5400:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def when(ts: float) -> str:
    """A UTC timestamp as users read it."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
