"""Move alerts per tick in O(log N): window extremes in memory, alerts indexed by size.

Per symbol and window a `MoveWindow` (monotonic deques) is fed every accepted
tick, so the move of the window is known without reading history. Per window the
armed move alerts sit in a sorted set by size; one script call per tick asks each
window's set only for the sizes the current move reaches (`ZRANGEBYSCORE -inf move`),
so a tick costs the same with 10 or 10,000 distinct sizes.

Windows are kept only for symbols that have move alerts: for the others a tick is
a probe (the script records the tick and says whether move alerts appeared). The
windows are built from the bucketed history when a symbol gets move alerts, on the
first tick after a restart, and whenever the script says another engine evaluated
ticks of the symbol since this one last did (a leader change): it compares the last
evaluated tick it stores with the one this engine saw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from alerts.domain.alert import HYSTERESIS
from alerts.domain.moves import WINDOWS, MoveWindow, build_windows
from alerts.storage.keys import BUCKET_SECONDS, Keys
from alerts.storage.scripts import BadRecords, load_lua
from alerts.storage.tick_history import TickHistory, bucket_of

log = logging.getLogger(__name__)
# Script answers (-1: the tick was already evaluated); REFUSED is ours: a key of a wrong
# type, nothing was written.
EVALUATED, REFUSED, OTHER_ENGINE, NEEDS_WINDOWS = 1, 0, -2, -3
SPANS = {w: w // BUCKET_SECONDS for w in WINDOWS}
Windows = dict[int, MoveWindow]


class MoveClaims:
    """The move-alert half of the engine: deques per (symbol, window) and the claim call."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        history: TickHistory,
        bad: BadRecords,
        context: Callable[[], list[Any]],
    ) -> None:
        self.keys = keys
        self.history = history
        self.bad = bad
        self.context = context
        self.claim = redis.register_script(load_lua("claim_move"))
        self.windows: dict[str, Windows] = {}  # only symbols with move alerts
        self.seen: dict[str, str] = {}  # the last tick this engine evaluated, per symbol
        self.rebuilds = 0

    async def rebuild(self, symbol: str, tick: float) -> Windows:
        """Windows from the stored buckets (they already hold the current tick)."""
        rows = await self.history.rows(symbol, tick - max(WINDOWS), tick)
        windows = build_windows(rows, SPANS, bucket_of(tick))
        self.windows[symbol] = windows
        self.rebuilds += 1
        return windows

    async def evaluate(self, symbol: str, price: float, tick: float, now: int) -> int:
        """Claim the move alerts this tick fires; returns how many fired."""
        seen = self.seen.get(symbol)
        if seen is not None and tick <= float(seen):
            return 0  # not newer than what this engine already evaluated
        windows = self.windows.get(symbol)
        if windows is not None:
            self._push(windows, price, tick)
        status, fired, left = await self._claim(symbol, windows, price, tick, now, seen)
        if status in (OTHER_ENGINE, NEEDS_WINDOWS):
            if status == OTHER_ENGINE:
                log.info("%s: another engine evaluated moves meanwhile; rebuilding", symbol)
            windows = await self.rebuild(symbol, tick)
            self._push(windows, price, tick)
            status, fired, left = await self._claim(symbol, windows, price, tick, now, None)
        if status == EVALUATED:
            self.seen[symbol] = repr(float(tick))
            if not left:  # no move alerts now: no windows to keep
                self.windows.pop(symbol, None)
        elif status != REFUSED:  # someone else is ahead: start again from the history
            self.seen.pop(symbol, None)
            self.windows.pop(symbol, None)
        return fired

    @staticmethod
    def _push(windows: Windows, price: float, tick: float) -> None:
        for window in windows.values():
            window.push(bucket_of(tick), price, price)

    async def _claim(
        self,
        symbol: str,
        windows: Windows | None,
        price: float,
        tick: float,
        now: int,
        seen: str | None,
    ) -> tuple[int, int, int]:
        """(status, fired, move alerts left); without windows a probe."""
        k = self.keys
        keys = [k.last(symbol), k.outbox, k.expiry, k.active]
        for w in WINDOWS:
            keys += [k.move_index(symbol, w), k.move_rearm(symbol, w)]
        moves = [] if windows is None else [repr(windows[w].move(price)) for w in WINDOWS]
        expect = "" if windows is None or seen is None else seen
        argv = [
            *self.context(), repr(float(tick)), str(now), expect, repr(HYSTERESIS), repr(price),
            *moves,
        ]  # fmt: skip
        try:
            status, fired, bad, left = await self.claim(keys=keys, args=argv)
        except ResponseError as exc:
            self.bad.check("move claim", exc)  # nothing was written: state stays consistent
            return REFUSED, 0, 0
        self.bad.report(f"move claim {symbol}", "record", bad)
        return int(status), int(fired), int(left)
