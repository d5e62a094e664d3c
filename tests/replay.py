"""An App over the demo replay feeds (deterministic prices, no network), and asking it."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.app import App
from bot.config import Settings
from bot.feeds.replay import ReplayExchange, ReplayIndex, Scenario
from handlers.chat.reply import Reply, Request

TODAY = 1_764_000_000


def replay_app(redis: Redis, prefix: str, **overrides: object) -> App:
    scenario = Scenario(today=TODAY)
    exchange = ReplayExchange(scenario)
    settings = Settings(_env_file=None, key_prefix=prefix, http_port=0, **overrides)  # type: ignore[call-arg, arg-type]
    return App(settings, redis, exchange, ReplayIndex(scenario, exchange), clock=exchange.clock)


async def ask(app: App, text: str, chat: str = "tg:1", **kw: object) -> Reply:
    reply = await app.core.handle(Request(chat=chat, user=chat, text=text, **kw))  # type: ignore[arg-type]
    assert reply is not None
    return reply
