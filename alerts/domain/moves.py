"""Move alerts: the fixed windows and their extremes, kept incrementally per tick.

A move alert fires when the price is N% or more away from the lowest low or the
highest high of its window. Prices are kept in fixed time buckets (see
`alerts/keys.py` BUCKET_SECONDS); a window spans the `span` most recent buckets,
the current (partial) one included, so it never reaches back further than the
window itself: a move that took longer never counts.

`MoveWindow` is a pair of monotonic deques: each accepted tick costs amortised
O(1) and the extremes are read in O(1), whatever the tick rate or the number of
alerts. After a restart the deques are rebuilt from the stored buckets, which
give exactly the same extremes (the buckets are what the deques are fed).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from itertools import takewhile
from typing import TypeVar

K = TypeVar("K")

# The windows a move alert may use, in seconds, and how users write them.
WINDOWS: tuple[int, ...] = (300, 900, 3600, 14400, 86400)
WINDOW_NAMES: dict[int, str] = {300: "5m", 900: "15m", 3600: "1h", 14400: "4h", 86400: "24h"}
WINDOW_LIST = ", ".join(WINDOW_NAMES[w] for w in WINDOWS)


def move_pct(low: float, high: float, price: float) -> float:
    """How far `price` is, in %, from the window's low (up) or high (down), the larger."""
    up = (price / low - 1) * 100 if low > 0 else 0.0
    down = (1 - price / high) * 100 if high > 0 else 0.0
    return max(up, down, 0.0)


class _Extreme:
    """Monotonic deque of (bucket, value): the front is the extreme of the window."""

    __slots__ = ("entries", "lowest")

    def __init__(self, *, lowest: bool) -> None:
        self.entries: deque[tuple[int, float]] = deque()
        self.lowest = lowest

    def _dominated(self, old: float, new: float) -> bool:
        return old >= new if self.lowest else old <= new

    def push(self, bucket: int, value: float) -> None:
        q = self.entries
        if q and q[-1][0] == bucket:  # same bucket: keep its extreme
            _, old = q.pop()
            value = min(old, value) if self.lowest else max(old, value)
        while q and self._dominated(q[-1][1], value):
            q.pop()
        q.append((bucket, value))

    def expire(self, first: int) -> None:
        q = self.entries
        while q and q[0][0] < first:
            q.popleft()


class MoveWindow:
    """The lowest low and highest high over the last `span` buckets."""

    __slots__ = ("_highs", "_lows", "span")

    def __init__(self, span: int) -> None:
        if span < 1:
            raise ValueError("a window spans at least one bucket")
        self.span = span
        self._lows = _Extreme(lowest=True)
        self._highs = _Extreme(lowest=False)

    def push(self, bucket: int, low: float, high: float) -> None:
        """Feed one tick (low == high == price) or one stored bucket, oldest first."""
        self._lows.push(bucket, low)
        self._highs.push(bucket, high)
        first = bucket - self.span + 1
        self._lows.expire(first)
        self._highs.expire(first)

    def move(self, price: float) -> float:
        """The move of `price` against the window's extremes (0 when empty)."""
        if not self._lows.entries:
            return 0.0
        return move_pct(self._lows.entries[0][1], self._highs.entries[0][1], price)

    def narrowed(self, span: int, last: int) -> MoveWindow:
        """This window cut to its last `span` buckets up to `last`: a monotonic deque's
        tail from any start is exactly the deque of that shorter window."""
        out = MoveWindow(span)
        first = last - span + 1
        for mine, theirs in ((self._lows, out._lows), (self._highs, out._highs)):
            tail = takewhile(lambda entry: entry[0] >= first, reversed(mine.entries))
            theirs.entries = deque(reversed(list(tail)))
        return out


def build_windows(
    rows: Iterable[tuple[int, float, float]], spans: Mapping[K, int], last: int
) -> dict[K, MoveWindow]:
    """Windows of several spans from stored (bucket, low, high) rows up to bucket `last`:
    the widest is fed every row once, the others are cut from it."""
    widest = MoveWindow(max(spans.values()))
    for index, low, high in rows:
        if index <= last:
            widest.push(index, low, high)
    return {key: widest.narrowed(span, last) for key, span in spans.items()}


def window_move(
    buckets: Iterable[tuple[int, float, float]], span: int, bucket: int, price: float
) -> float:
    """The move of `price` at `bucket` from stored (bucket, low, high) rows, as the engine sees."""
    window = MoveWindow(span)
    for index, low, high in buckets:
        if index <= bucket:
            window.push(index, low, high)
    window.push(bucket, price, price)
    return window.move(price)
