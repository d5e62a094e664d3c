"""Moving a chat's state to its new id when the chat changed id (Telegram group → supergroup).

Telegram gives an upgraded group a new id and answers every send to the old one with
`migrate_to_chat_id`. Without a move, the group's alerts would keep firing at the old
id while nobody there can list or delete them. One script moves alerts, subscriptions,
watchlist, digest schedule, paused mark and webhooks together, so no reader sees half a move.
"""

from __future__ import annotations

from typing import Any

from alerts.storage.keys import RECORDS_PER_BUCKET, Keys
from alerts.storage.scripts import load_lua


class ChatMigration:
    """`move(old, new)`: everything `old` owns now belongs to `new`."""

    def __init__(self, redis: Any, keys: Keys) -> None:
        self.keys = keys
        self._move = redis.register_script(load_lua("migrate_chat"))

    async def move(self, old: str, new: str) -> int:
        """Returns how many alerts moved; a second call for the same pair moves nothing."""
        if old == new:
            return 0
        k = self.keys
        keys = [
            k.chat(old), k.chat(new), k.subscriptions(old), k.subscriptions(new),
            k.watchlist(old), k.watchlist(new), k.watchers, k.digest_config, k.digest_due,
            k.paused(old), k.paused(new), k.chat_symbols(old), k.chat_symbols(new),
            k.webhooks(old), k.webhooks(new),
        ]  # fmt: skip
        args = [old, new, k.bucket_prefix, RECORDS_PER_BUCKET, k.subscribers_prefix]
        return int(await self._move(keys=keys, args=args))
