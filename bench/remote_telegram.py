"""FakeTelegram in a child process, so the benchmark's Bot API lives on "another machine".

In one process the fake's growing message log and its CPU share the bot's event loop
and garbage collector: a collection pause then delays a send until it lands next to
its successors, which no real deployment would see from Telegram. The child runs the
fake with flood limits enforced; the parent asks it for counts and logs over a pipe.
Both sides use CLOCK_MONOTONIC, which is system-wide on Linux, so times compare.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from fakes.telegram import FakeTelegram


def _serve(conn: Connection) -> None:
    asyncio.run(_serve_async(conn))


async def _serve_async(conn: Connection) -> None:
    fake = FakeTelegram(enforce_limits=True)
    await fake.start()
    conn.send((fake.url, fake.token))
    while True:
        command, arg = await asyncio.to_thread(conn.recv)
        if command == "stop":
            break
        conn.send(_answer(fake, command, arg))
    await fake.stop()
    conn.send("stopped")


def _answer(fake: FakeTelegram, command: str, arg: Any) -> Any:
    if command == "count":
        return len(fake.sent)
    if command == "sends":  # (chat, time) of every send since index `arg`
        return [(m.chat_id, m.time) for m in fake.sent[arg:] if m.method.startswith("send")]
    if command == "texts":
        return [(m.time, m.message["text"]) for m in fake.messages_to(arg) if m.message]
    if command == "too_many_requests":
        return fake.too_many_requests
    if command == "forbid_posting":  # the bot lost the right to post in group `arg`
        fake.forbid_posting(arg)
        return None
    raise ValueError(f"unknown command {command!r}")


class RemoteTelegram:
    """Parent-side handle of the child process's fake Bot API."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process with a running loop
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._lock = threading.Lock()
        self.url = self.token = ""

    async def start(self) -> tuple[str, str]:
        self._process.start()
        self.url, self.token = await asyncio.to_thread(self._conn.recv)
        return self.url, self.token

    def _call(self, command: str, arg: Any) -> Any:
        with self._lock:
            self._conn.send((command, arg))
            return self._conn.recv()

    async def ask(self, command: str, arg: Any = None) -> Any:
        return await asyncio.to_thread(self._call, command, arg)

    async def wait_for_count(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while await self.ask("count") < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} sends after {timeout:.0f} s")
            await asyncio.sleep(0.5)

    async def stop(self) -> None:
        if self._process.is_alive():
            await self.ask("stop")
            await asyncio.to_thread(self._process.join, 10)
