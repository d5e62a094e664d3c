"""Move alerts per tick in O(log N): window extremes in memory, alerts indexed by size.

Per symbol and window a `MoveWindow` (monotonic deques) is fed every accepted
tick, so the move of the window is known without reading history. Per window the
armed move alerts sit in a sorted set by size; one script call per tick asks each
window's set only for the sizes the current move reaches (`ZRANGEBYSCORE -inf move`),
so a tick costs the same with 10 or 10,000 distinct sizes.

The deques are rebuilt from the bucketed history on the first tick of a symbol
in this process, and whenever the script says another engine evaluated ticks of
the symbol since this one last did (a leader change): the script compares the
last evaluated tick it stores with the one this engine saw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from alerts.domain.moves import WINDOWS, MoveWindow
from alerts.keys import BUCKET_SECONDS, Keys
from alerts.model import HYSTERESIS
from alerts.storage.scripts import BadRecords, load_lua
from alerts.storage.tick_history import TickHistory, bucket_of

log = logging.getLogger(__name__)
EVALUATED, REFUSED, ALREADY, OTHER_ENGINE = 1, 0, -1, -2  # REFUSED: a key of a wrong type


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
        self.windows: dict[str, dict[int, MoveWindow]] = {}
        self.seen: dict[str, str] = {}  # the last tick this engine evaluated, per symbol
        self.rebuilds = 0

    async def rebuild(self, symbol: str, tick: float) -> dict[int, MoveWindow]:
        """Fresh deques from the stored buckets (they already hold the current tick)."""
        rows = await self.history.rows(symbol, tick - max(WINDOWS), tick)
        last = bucket_of(tick)
        windows = {w: MoveWindow(w // BUCKET_SECONDS) for w in WINDOWS}
        for row in rows:
            if row[0] <= last:
                for window in windows.values():
                    window.push(*row)
        self.windows[symbol] = windows
        self.seen.pop(symbol, None)
        self.rebuilds += 1
        return windows

    async def evaluate(self, symbol: str, price: float, tick: float, now: int) -> int:
        """Claim the move alerts this tick fires; returns how many fired."""
        seen = self.seen.get(symbol)
        if seen is not None and tick <= float(seen):
            return 0  # not newer than what this engine already evaluated
        windows = self.windows.get(symbol)
        if windows is None or seen is None:
            windows = await self.rebuild(symbol, tick)
        for window in windows.values():
            window.push(bucket_of(tick), price, price)
        status, fired = await self._claim(symbol, windows, price, tick, now, seen or "")
        if status == OTHER_ENGINE:
            log.info("%s: another engine evaluated moves meanwhile; rebuilding windows", symbol)
            windows = await self.rebuild(symbol, tick)
            for window in windows.values():
                window.push(bucket_of(tick), price, price)
            status, fired = await self._claim(symbol, windows, price, tick, now, "")
        if status == EVALUATED:
            self.seen[symbol] = repr(float(tick))
        elif status != REFUSED:  # someone else is ahead: start again from the history next time
            self.seen.pop(symbol, None)
        return fired

    async def _claim(
        self,
        symbol: str,
        windows: dict[int, MoveWindow],
        price: float,
        tick: float,
        now: int,
        expect: str,
    ) -> tuple[int, int]:
        k = self.keys
        keys = [k.last(symbol), k.outbox, k.expiry, k.active]
        moves = []
        for w, window in windows.items():
            keys += [k.move_index(symbol, w), k.move_rearm(symbol, w)]
            moves.append(repr(window.move(price)))
        argv = [
            *self.context(), repr(float(tick)), str(now), expect, repr(HYSTERESIS), repr(price),
            *moves,
        ]  # fmt: skip
        try:
            status, fired, bad, _ = await self.claim(keys=keys, args=argv)
        except ResponseError as exc:
            self.bad.check("move claim", exc)  # nothing was written: state stays consistent
            return REFUSED, 0
        self.bad.report(f"move claim {symbol}", "record", bad)
        return int(status), int(fired)
