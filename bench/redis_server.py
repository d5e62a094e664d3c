"""A throwaway redis-server configured like docker-compose.yml, for memory numbers
that match the deployment (the machine's own Redis may use other settings)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import redis
from redis.asyncio import Redis

from bot.app import connect_redis, redis_answers

T = TypeVar("T")

# The same tuning as docker-compose.yml (persistence is irrelevant for a benchmark).
DEPLOY_ARGS = ["--hash-max-listpack-value", "128", "--save", "", "--appendonly", "no"]


@contextlib.contextmanager
def deployed_redis(fallback_url: str) -> Iterator[tuple[str, str]]:
    """Yield (url, description); falls back to `fallback_url` without the binary."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield fallback_url, "REDIS_URL (redis-server binary not found: default config)"
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="altbot-bench-redis-")
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", folder, *DEPLOY_ARGS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            time.sleep(0.05)
        client.close()
        yield (
            url,
            "throwaway redis-server with docker-compose.yml's settings: " + " ".join(DEPLOY_ARGS),
        )
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


async def run_with_redis(url: str, bench: Callable[[Redis], Awaitable[T]]) -> T:
    """Run one benchmark with the app's own Redis client, refusing clearly when none answers."""
    client = connect_redis(url)
    try:
        if not await redis_answers(client):
            raise SystemExit(f"bench: no Redis answers at REDIS_URL ({url.split('@')[-1]})")
        return await bench(client)
    finally:
        await client.aclose()
