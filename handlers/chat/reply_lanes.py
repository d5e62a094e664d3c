"""Per-chat reply queues, so answering one chat never holds a slot other chats need.

A reply may wait for its chat's send spacing (1 s per private chat, 3 s per group).
Sent from inside the update handler, that wait would hold one of the transport's
concurrent-update slots: 60 commands from one chat then stall everyone else's. The
handler instead puts the reply on its chat's lane and returns at once; one task per
chat with queued replies sends them in order and ends when the lane is empty.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

MAX_QUEUED = 50  # per chat; commands are rate limited far below this (20/min)
Chat = TypeVar("Chat")
Item = TypeVar("Item")


class ReplyLanes(Generic[Chat, Item]):
    """`put` queues an item for a chat; `send` (which handles its own errors) delivers it."""

    def __init__(self, send: Callable[[Chat, Item], Awaitable[None]]) -> None:
        self._send = send
        self._lanes: dict[Chat, deque[Item]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def put(self, chat: Chat, item: Item) -> None:
        lane = self._lanes.get(chat)
        if lane is None:
            lane = self._lanes[chat] = deque()
            task = asyncio.create_task(self._drain(chat, lane), name=f"replies {chat}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if len(lane) >= MAX_QUEUED:
            log.warning("reply lane of %s is full; dropping its oldest reply", chat)
            lane.popleft()
        lane.append(item)

    async def _drain(self, chat: Chat, lane: deque[Item]) -> None:
        try:
            while lane:
                try:
                    await self._send(chat, lane.popleft())
                except Exception:  # one failed reply must not drop the chat's next ones
                    log.exception("could not send a reply to %s", chat)
        finally:
            self._lanes.pop(chat, None)

    async def close(self) -> None:
        """Stop sending (shutdown): replies still queued are dropped."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
