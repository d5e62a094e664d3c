"""Market caps and the ticker -> coin-id map in Redis (keys `P:mcap`, `P:mcap:ids`).

Each value keeps its own fetch time: a failed refresh writes nothing, so readers see
the last good value with its real age and judge staleness themselves. A coin id is
written with HSETNX, so the first resolution wins on every replica and stays.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Redis

from alerts.domain.market import MarketCap
from alerts.storage.keys import Keys
from alerts.storage.scripts import BadRecords


class MarketCaps:
    """Reads and writes market caps (by base ticker, e.g. `LINK`) under one prefix."""

    def __init__(self, redis: Redis, keys: Keys, bad: BadRecords | None = None) -> None:
        # redis-py annotates replies as bytes | str; with decode_responses=True they are str.
        self.redis: Any = redis
        self.keys = keys
        self.bad = bad or BadRecords()

    async def save(self, values: Iterable[MarketCap]) -> None:
        """Store freshly fetched values; bases not given keep their last good value."""
        mapping = {
            v.base: json.dumps({"id": v.coin_id, "usd": v.usd, "rank": v.rank, "at": v.fetched_at})
            for v in values
        }
        if mapping:
            await self.redis.hset(self.keys.market_caps, mapping=mapping)

    async def get(self, base: str) -> MarketCap | None:
        raw = await self.redis.hget(self.keys.market_caps, base)
        return None if raw is None else self._decode(base, raw)

    async def all(self) -> dict[str, MarketCap]:
        raw = await self.redis.hgetall(self.keys.market_caps)
        decoded = {base: self._decode(base, value) for base, value in raw.items()}
        return {base: value for base, value in decoded.items() if value is not None}

    def _decode(self, base: str, raw: str) -> MarketCap | None:
        """A stored record, or None (reported once) when it is not one we wrote."""
        try:
            data = json.loads(raw)
            rank = data["rank"]
            value = MarketCap(
                base,
                str(data["id"]),
                float(data["usd"]),
                None if rank is None else int(rank),
                float(data["at"]),
            )
        except (ValueError, TypeError, KeyError):
            self.bad.report("market caps", "record", [f"{self.keys.market_caps} {base}"])
            return None
        return value if value.usd > 0 else None

    async def coin_ids(self) -> dict[str, str]:
        """Every resolved ticker -> coin id."""
        found: dict[str, str] = await self.redis.hgetall(self.keys.coin_ids)
        return found

    async def keep_coin_id(self, base: str, coin_id: str) -> str:
        """Remember `coin_id` for `base` unless one is already chosen; returns the one kept."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hsetnx(self.keys.coin_ids, base, coin_id)
        pipe.hget(self.keys.coin_ids, base)
        _, kept = await pipe.execute()
        return str(kept)
