"""A real App with the real Telegram transport, wired to the local fakes.

FakeTelegram (Bot API), FakeBinance (ccxt) and FakeYahoo (R2K) run on 127.0.0.1; the
App, PTB, Redis and the delivery worker are the production code. Used by the
Telegram tests and the delivery benchmark.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from alerts.domain.grammar import AlertSpec
from bot.app import App
from bot.config import Settings
from bot.feeds.exchange import CcxtExchange
from bot.feeds.index_feed import YahooIndexFeed
from fakes.binance import FakeBinance
from fakes.telegram import FakeTelegram, SentMessage
from fakes.yahoo import FakeYahoo


def shown(message: SentMessage) -> str:
    """What the user reads: the text after Telegram parsed the HTML."""
    if message.message is not None:
        return str(message.message.get("text") or message.message.get("caption") or "")
    return message.text or ""


class Clock:
    """A wall clock tests can move forward (cooldowns, snoozes)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Harness:
    tg: FakeTelegram
    binance: FakeBinance
    yahoo: FakeYahoo
    app: App
    clock: Clock

    async def poll(self) -> None:
        """One exchange poll: the engine evaluates it, the worker delivers what fired."""
        await self.app.poller.run_exchange_once()

    async def price(self, base: str, price: float) -> None:
        self.binance.set_price(f"{base}/USDT", price)
        await self.poll()

    async def tick(self, base: str, price: float) -> int:
        """Evaluate one price straight through the engine (no exchange round trip)."""
        now = self.clock()
        return await self.app.engine.on_tick(f"{base}/USDT", price, now, int(now), None)

    async def say(self, chat_id: int, text: str, wait: float = 10.0, **kw: Any) -> SentMessage:
        """Send a command as a user and return the bot's next message in that chat."""
        before = len(self.posts(chat_id))
        self.tg.push_command(chat_id, text, **kw)
        await self.tg.wait_for(lambda _: len(self.posts(chat_id)) > before, timeout=wait)
        return self.posts(chat_id)[before]

    async def press(self, chat_id: int, data: str, message_id: int = 1, **kw: Any) -> SentMessage:
        """Press a button; returns the bot's answer to the callback query."""
        answers = len([m for m in self.tg.sent if m.method == "answerCallbackQuery"])
        self.tg.push_callback(chat_id, data, message_id=message_id, **kw)
        done = await self.tg.wait_for(answers + 1, method="answerCallbackQuery", timeout=10)
        return done[answers]

    async def press_for_reply(
        self, chat_id: int, data: str, message_id: int = 1, **kw: Any
    ) -> tuple[SentMessage, SentMessage]:
        """Press a button that posts a message; returns (answer, message)."""
        before = len(self.posts(chat_id))
        answer = await self.press(chat_id, data, message_id, **kw)
        await self.tg.wait_for(lambda _: len(self.posts(chat_id)) > before, timeout=10)
        return answer, self.posts(chat_id)[before]

    def posts(self, chat_id: int) -> list[SentMessage]:
        """Messages the bot posted in a chat (not its answers to button presses)."""
        return [m for m in self.tg.messages_to(chat_id) if m.method.startswith("send")]

    async def alert(self, chat_id: int, base: str, level: float, **kw: Any) -> int:
        """Create an `above` alert directly through the alert service."""
        spec = AlertSpec("above", level, **kw)
        created = await self.app.alerts.create(f"tg:{chat_id}", f"{base}/USDT", spec)
        return created.alert.id

    async def quiet(self, chat_id: int | None = None, seconds: float = 2.5) -> None:
        """Assert that nothing more is sent (to one chat) for a while."""
        before = len(self.tg.sent if chat_id is None else self.tg.messages_to(chat_id))
        await asyncio.sleep(seconds)
        after = self.tg.sent if chat_id is None else self.tg.messages_to(chat_id)
        assert len(after) == before, [m.text for m in after[before:]]


@asynccontextmanager
async def telegram_app(
    redis: Redis,
    prefix: str,
    *,
    enforce_limits: bool = False,
    http: bool = False,
    webhook: bool = False,
    remote: tuple[str, str] | None = None,
    webhook_resolver: Any = None,
    **overrides: Any,
) -> AsyncIterator[Harness]:
    """Start the fakes and a real App (Telegram on, leader duties off: tests poll).

    `webhook=True` serves HTTP on a free port and sets TELEGRAM_WEBHOOK_URL to it.
    `remote=(url, token)` uses a Bot API served elsewhere (e.g. a fake in another
    process); `Harness.tg` is then a placeholder that must not be used.
    `webhook_resolver` stands in for DNS (an aiohttp resolver) for webhook sends.
    """
    fakes: list[Any] = [FakeBinance(), FakeYahoo()]
    if remote is None:
        fakes.append(FakeTelegram(enforce_limits=enforce_limits))
    for fake in fakes:
        await fake.start()
    binance, yahoo = fakes[0], fakes[1]
    tg: Any = fakes[2] if remote is None else None
    api_url, token = (tg.url, tg.token) if remote is None else remote
    clock = Clock()
    http = http or webhook
    port = free_port() if http else 0
    options: dict[str, Any] = {
        "telegram_bot_token": token,
        "telegram_api_url": api_url,
        "telegram_webhook_url": f"http://127.0.0.1:{port}" if webhook else None,
        "key_prefix": prefix,
        "http_port": port,
        "alert_quota_per_chat": 1000,
        **overrides,
    }
    settings = Settings(_env_file=None, **options)  # type: ignore[call-arg]
    exchange = CcxtExchange("binance", api_url=binance.url)
    index = YahooIndexFeed(yahoo.url)
    app = App(settings, redis, exchange, index, clock=clock, webhook_resolver=webhook_resolver)
    try:
        await app.start(poll=False, http=http)
        await app.poller.run_exchange_once()
        yield Harness(tg, binance, yahoo, app, clock)
    finally:
        await app.stop()
        for fake in fakes:
            await fake.stop()
