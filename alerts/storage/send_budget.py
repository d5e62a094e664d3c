"""One sending budget per bot token, in Redis, shared by every replica that sends with it.

Telegram and Discord count a bot's sends per token, not per process: three replicas
with a local limiter each would send three times the budget and collect 429s. Here every
send takes a slot from limits kept in Redis (overall, per chat) in one atomic script,
and a 429's `retry_after` is one key whose PTTL every replica waits out.

Why a small Lua GCRA rather than the `limits` library: `limits` counts whole-second
windows with integer amounts, so a window admits its whole amount at once and then
nothing; three replicas' bursts then land more than 30 in some second at Telegram
(which counts arrivals), so it would need a budget well under the target rate. GCRA
spaces sends evenly (one per 1/28.2 s) with an exact wait returned by the same call,
and one script takes the overall and the chat slot together or neither (`limits` hits
each item separately, spending the overall slot while the chat one refuses).

Waiting is cheap and fair: the script answers how long until a slot is free and the
caller sleeps exactly that; inside a process, senders queue FIFO for the overall slot
(one Redis call per slot in flight), while a sender waiting for its *chat's* spacing
leaves the queue, so one busy chat never holds up the others.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from redis.asyncio import Redis

from alerts.domain.delivery import Budget, SendClass
from alerts.storage.keys import BUDGET_OVERALL, BUDGET_OVERALL_PAID, BUDGET_PAUSE, Keys, token_id
from alerts.storage.scripts import load_lua

OVERALL_INDEX = 2


class SendBudget:
    """The shared budget of one bot token; `acquire` before every send."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        token: str,
        budget: Budget,
        *,
        paid_broadcast: Budget | None = None,
    ) -> None:
        self.redis: Any = redis
        self.keys = keys
        self.token = token_id(token)
        self.budget = budget
        self.paid_broadcast = paid_broadcast  # None: broadcasts spend the overall budget
        self._script = redis.register_script(load_lua("send_budget"))
        self._lines: dict[str, asyncio.Lock] = {}
        self.waits = 0  # times a send had to wait for the shared budget (tests, metrics)

    def _overall(self, send_class: SendClass) -> tuple[str, Budget]:
        if send_class is SendClass.BROADCAST and self.paid_broadcast is not None:
            return self.keys.budget(self.token, BUDGET_OVERALL_PAID), self.paid_broadcast
        return self.keys.budget(self.token, BUDGET_OVERALL), self.budget

    async def acquire(
        self,
        chat: str | None = None,
        *,
        group: bool = False,
        send_class: SendClass = SendClass.PERSONAL,
        cost: int = 1,
    ) -> None:
        """Wait until this token may send `cost` messages (to `chat`, if it has a limit)."""
        overall_key, overall = self._overall(send_class)
        interval = 1000.0 / overall.per_second
        keys = [self.keys.budget(self.token, BUDGET_PAUSE), overall_key]
        args: list[float] = [cost, interval, (overall.burst - 1) * interval]
        spacing = overall.spacing(group)
        if chat is not None and spacing > 0:
            keys.append(self.keys.budget_chat(self.token, chat))
            args += [spacing * 1000.0, 0.0]
        line = self._lines.setdefault(overall_key, asyncio.Lock())
        while True:
            async with line:  # FIFO: asyncio.Lock wakes waiters in arrival order
                while True:
                    wait_ms, blocker = await self._script(keys=keys, args=args)
                    if not wait_ms:
                        return
                    self.waits += 1
                    if int(blocker) > OVERALL_INDEX:
                        break  # the chat's own spacing: wait outside the line
                    await asyncio.sleep(int(wait_ms) / 1000)
            await asyncio.sleep(int(wait_ms) / 1000)

    async def pause(self, seconds: float) -> None:
        """A 429 said `retry_after`: hold every replica's sends that long (never shorten)."""
        ms = max(1, math.ceil(seconds * 1000))
        key = self.keys.budget(self.token, BUDGET_PAUSE)
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(key, "1", px=ms, nx=True)
        pipe.pexpire(key, ms, gt=True)
        await pipe.execute()
