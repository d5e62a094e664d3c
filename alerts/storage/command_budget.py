"""The per-chat command budget: `COMMANDS_PER_MINUTE`, counted in Redis across replicas.

The first command over the budget gets one refusal; the rest of that minute gets
silence, so a flooding chat never makes the bot answer every message. The same
round trip records who uses the bot (for /stats).
"""

from __future__ import annotations

from typing import Any

from alerts.domain.chat import COMMANDS_PER_MINUTE, Admission, Transport, transport_of
from alerts.storage.keys import COMMAND_WINDOW_SECONDS, Keys


class CommandBudget:
    """`admit(chat)` before a command or button press is served."""

    def __init__(self, redis: Any, keys: Keys, per_minute: int = COMMANDS_PER_MINUTE) -> None:
        self.redis = redis
        self.keys = keys
        self.per_minute = per_minute

    async def admit(self, chat: str) -> Admission:
        if transport_of(chat) == Transport.CONSOLE:  # the local operator
            return Admission.ALLOW
        key = self.keys.command_rate(chat)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, COMMAND_WINDOW_SECONDS, nx=True)
        pipe.sadd(self.keys.users, chat)
        count, *_ = await pipe.execute()
        if int(count) <= self.per_minute:
            return Admission.ALLOW
        return Admission.REFUSE if int(count) == self.per_minute + 1 else Admission.SILENT
