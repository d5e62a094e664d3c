"""Sending budgets of the chat platforms and the class of a push.

A bot token has one budget at its platform, whatever number of replicas send with
it, so the numbers live here once and the shared limiter (alerts/storage/send_budget.py)
enforces them for every replica. Each limit is a minimum spacing between sends (GCRA):
sends go out evenly, never in bursts that a strict one-second window would count twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class SendClass(StrEnum):
    """What a push is, for the platform: the paid-broadcast option applies to broadcasts."""

    PERSONAL = "personal"  # fired / expired alerts, digests, command replies
    BROADCAST = "broadcast"  # a signal fanned out to every subscriber

    @classmethod
    def of(cls, kinds: Iterable[str]) -> SendClass:
        """A message made only of signal jobs is a broadcast; anything personal in it wins."""
        kinds = list(kinds)
        return cls.BROADCAST if kinds and all(k == "signal" for k in kinds) else cls.PERSONAL


@dataclass(frozen=True, slots=True)
class Budget:
    """One token's limits: overall sends per second, and the least spacing between two
    sends to one private chat and to one group (0: not limited).

    `burst` is how many sends may go out back to back; a fraction lets a send that came
    late be caught up by the next one (1.5: up to half an interval early) without ever
    putting more than `per_second + burst - 1` sends in one second.
    """

    per_second: float
    burst: float = 1.0
    chat_seconds: float = 0.0
    group_seconds: float = 0.0

    def spacing(self, group: bool) -> float:
        return self.group_seconds if group else self.chat_seconds


# Telegram: ~30 messages/s per bot, ~1/s per chat, 20/min per group (Bot API FAQ). Evenly
# spaced at 28.2/s, any one-second window holds at most 29 sends as taken, which leaves
# one for network jitter between replicas before Telegram's 30th.
TELEGRAM = Budget(per_second=28.2, burst=1.5, chat_seconds=1.0, group_seconds=3.1)
# With allow_paid_broadcast Telegram takes up to 1,000 messages/s (0.1 Star each beyond the
# free 30/s); broadcasts then draw on this budget, personal messages keep TELEGRAM's.
TELEGRAM_PAID_BROADCAST = Budget(per_second=900.0, burst=5, chat_seconds=1.0, group_seconds=3.1)
# Discord: 50 requests/s per bot token (global limit); discord.py handles per-route buckets.
DISCORD = Budget(per_second=45.0, burst=2)
