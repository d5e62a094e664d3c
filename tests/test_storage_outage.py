"""Redis refusing writes on the command path: a short answer, never silence, logged once.

A throwaway redis-server (its own port, so the shared Redis is never touched) is made
read-only (a replica of a primary that does not exist) or full (maxmemory under
noeviction) while the real App and Telegram transport run on it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from bot.app import connect_redis, redis_answers
from fakes.tg_harness import free_port, telegram_app

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs the redis-server binary"
)
STORAGE_DOWN = "Storage is unavailable right now; try again in a minute."
Toggle = Callable[[Redis, bool], Awaitable[None]]


@pytest.fixture
async def own_redis() -> AsyncIterator[Redis]:
    port = free_port()
    folder = tempfile.mkdtemp(prefix="altbot-test-redis-")
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
           "--appendonly", "no", "--dir", folder]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    client = connect_redis(f"redis://127.0.0.1:{port}/0")
    try:
        for _ in range(100):
            if await redis_answers(client):
                break
            await asyncio.sleep(0.05)
        yield client
    finally:
        await client.aclose()
        server.terminate()
        server.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


async def read_only(client: Redis, on: bool) -> None:
    if on:  # a replica of a primary nobody runs: reads work, every write says READONLY
        await client.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
    else:
        await client.execute_command("REPLICAOF", "NO", "ONE")


async def full(client: Redis, on: bool) -> None:
    await client.config_set("maxmemory-policy", "noeviction")
    await client.config_set("maxmemory", "1" if on else "0")  # 1 byte: every write is OOM


@pytest.mark.parametrize("refuse", [read_only, full], ids=["read-only", "full"])
async def test_refused_writes_get_a_storage_reply_logged_once(
    own_redis: Redis, prefix: str, refuse: Toggle, caplog: pytest.LogCaptureFixture
) -> None:
    async with telegram_app(own_redis, prefix) as h:
        assert "LINK/USDT" in (await h.say(501, "/coin LINK")).text
        await refuse(own_redis, True)
        caplog.set_level(logging.ERROR, logger="handlers.chat.core")
        for chat, text in ((501, "/alert LINK above 99"), (502, "/coin LINK"), (501, "/alerts")):
            reply = await h.say(chat, text, wait=30)
            assert STORAGE_DOWN in (reply.text or ""), reply.text
        logged = [r for r in caplog.records if "storage unavailable" in r.getMessage()]
        assert len(logged) == 1  # once per outage, not once per command
        await refuse(own_redis, False)
        created = await h.say(501, "/alert LINK above 99", wait=30)
        assert "Alert #1 set" in (created.text or "")
