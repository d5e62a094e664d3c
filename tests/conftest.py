"""Shared fixtures: a real Redis (REDIS_URL) under a unique key prefix per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from alerts.storage.keys import Keys

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


async def delete_prefix(client: Redis, prefix: str) -> None:
    batch: list[str] = []
    async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        batch.append(key)
        if len(batch) >= 1000:
            await client.unlink(*batch)
            batch.clear()
    if batch:
        await client.unlink(*batch)


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def keys(prefix: str) -> Keys:
    return Keys(prefix)


@pytest.fixture
async def redis(prefix: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await client.ping()
    except Exception as exc:  # pragma: no cover - environment problem, said clearly
        pytest.fail(f"tests need a real Redis at {REDIS_URL}: {exc}")
    yield client
    await delete_prefix(client, prefix)
    await client.aclose()
