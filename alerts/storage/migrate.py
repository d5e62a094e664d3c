"""One-shot start-up migration to the issue-14 layout (moves by window, bounded history).

Run by every replica at start (`App.start`) until `P:schema` says it is done; each
step is atomic per unit and recomputes from scratch, so replicas starting together
(or a crash half way) do no harm:
1. legacy move groups (`mv:`/`mvg:`) -> the armed move index of their window
   (windows outside the fixed set: the largest allowed window under them);
2. legacy tick lists (`ticks:`) -> 10 s buckets, then deleted;
3. each chat's alert-symbol counts (`cs:`) and the stored-alert counter (`active`).
The old layout is not read anywhere else after this.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis

from alerts.domain.moves import WINDOWS
from alerts.storage.engine import context_argv
from alerts.storage.keys import SCHEMA_VERSION, Keys
from alerts.storage.scripts import BadRecords, load_lua
from alerts.storage.tick_history import TickHistory

log = logging.getLogger(__name__)
BATCH = 500


def _symbol(key: str) -> str:
    """The `{SYM}` hash tag of a per-symbol key."""
    return key.split("{", 1)[1].rsplit("}", 1)[0]


async def migrate(client: Redis, keys: Keys, bad: BadRecords) -> None:
    redis: Any = client
    if await redis.get(keys.schema) == SCHEMA_VERSION:
        return
    groups = redis.register_script(load_lua("migrate_group"))
    recount = redis.register_script(load_lua("recount"))
    context = context_argv(keys)
    moved = 0
    async for registry in redis.scan_iter(match=f"{keys.prefix}:mvg:*", count=BATCH):
        symbol = _symbol(registry)
        for member in await redis.smembers(registry):
            window, pct = member.split(":")
            group_keys = [
                keys.move_group(symbol, int(window), float(pct)), registry, keys.last(symbol),
                *(keys.move_index(symbol, w) for w in WINDOWS),
            ]  # fmt: skip
            n, skipped = await groups(keys=group_keys, args=[*context, member, *WINDOWS])
            moved += int(n)
            bad.report(f"migrate move group {member} of {symbol}", "record", skipped)
    history = TickHistory(client, keys, bad)
    async for legacy in redis.scan_iter(match=f"{keys.prefix}:ticks:*", count=BATCH):
        symbol = _symbol(legacy)
        pipe = redis.pipeline(transaction=False)
        for member in await redis.zrange(legacy, 0, -1):
            ts, price = member.split(":", 1)
            await history.queue(pipe, symbol, float(ts), float(price))
        await pipe.execute()
        await redis.delete(legacy)
    chats: list[str] = []
    async for chat_key in redis.scan_iter(match=f"{keys.chat_prefix}*", count=BATCH):
        chats.append(chat_key[len(keys.chat_prefix) :])
    for start in range(0, len(chats), BATCH):
        pipe = redis.pipeline(transaction=False)
        for chat in chats[start : start + BATCH]:
            chat_keys = [keys.chat(chat), keys.chat_symbols(chat)]
            await recount(keys=chat_keys, args=[*context, "chat"], client=pipe)
        for chat, skipped in zip(chats[start:], await pipe.execute(), strict=False):
            bad.report(f"migrate chat {chat}", "record", skipped)
    skipped = await recount(keys=[keys.active, keys.seq], args=[*context, "active"])
    bad.report("migrate active count", "key", skipped)
    await redis.set(keys.schema, SCHEMA_VERSION)
    if moved or chats:
        log.info("migrated %d move alerts and the counters of %d chats", moved, len(chats))
