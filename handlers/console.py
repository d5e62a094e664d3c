"""Console transport: a prompt that sends lines to the core and prints replies."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from typing import TextIO

from alerts.domain.delivery import SendClass
from handlers.chat.core import CommandCore
from handlers.chat.reply import Reply, Request

CONSOLE_CHAT = "console:local"


def render(reply: Reply) -> str:
    """Plain text with buttons listed, the way a phone would show them."""
    text = reply.plain_text()
    if reply.image:
        text += f"\n[image: {reply.image_name}, {len(reply.image):,} bytes]"
    for row in reply.buttons:
        text += "\n" + "  ".join(f"[{b.label}]" for b in row)
    return text


class ConsoleTransport:
    """Reads commands from a stream; prints replies and pushed notifications."""

    def __init__(self, core: CommandCore, out: TextIO = sys.stdout) -> None:
        self.core = core
        self.out = out

    async def ask(self, line: str) -> str | None:
        """Answer one line; None when the line is not a command."""
        reply = await self.core.handle(Request(chat=CONSOLE_CHAT, user="console", text=line))
        return None if reply is None else render(reply)

    def show(self, prompt: str, text: str) -> None:
        print(f"> {prompt}\n{text}\n", file=self.out, flush=True)

    async def push(
        self, chat: str, reply: Reply, send_class: SendClass = SendClass.PERSONAL
    ) -> None:
        """Deliver a pushed notification (alerts, signals) to the console (no budget)."""
        print(f"🔔 [{chat}]\n{render(reply)}\n", file=self.out, flush=True)

    async def run_lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            answer = await self.ask(line)
            self.show(line, answer or "(not a command: I only answer commands like /help)")

    async def interactive(self, stream: TextIO = sys.stdin) -> None:
        """The prompt; ends on EOF or /quit."""
        loop = asyncio.get_running_loop()
        while True:
            print("altbot> ", end="", file=self.out, flush=True)
            line = await loop.run_in_executor(None, stream.readline)
            if not line or line.strip() in ("/quit", "/exit"):
                print("bye", file=self.out)
                return
            if line.strip():
                answer = await self.ask(line)
                print(answer or "(I only answer commands: try /help)", file=self.out, flush=True)
