"""An App over the demo replay feeds (deterministic prices, no network), and asking it."""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from alerts.domain.market import MarketCapSource
from bot.app import App
from bot.config import Settings
from bot.feeds.replay import ReplayExchange, ReplayIndex, Scenario
from handlers.chat.reply import Reply, Request

TODAY = 1_764_000_000


def replay_app(
    redis: Redis,
    prefix: str,
    *,
    clock: Callable[[], float] | None = None,
    caps: MarketCapSource | None = None,
    **overrides: object,
) -> App:
    """The whole app over the replay feeds; `clock` defaults to the replay's own; `caps`
    (e.g. a CoinGecko client on the fake) adds the market-cap feed."""
    scenario = Scenario(today=TODAY)
    exchange = ReplayExchange(scenario)
    settings = Settings(_env_file=None, key_prefix=prefix, http_port=0, **overrides)  # type: ignore[call-arg, arg-type]
    index = ReplayIndex(scenario, exchange)
    return App(settings, redis, exchange, index, clock=clock or exchange.clock, caps=caps)


async def ask(app: App, text: str, chat: str = "tg:1", **kw: object) -> Reply:
    reply = await app.core.handle(Request(chat=chat, user=chat, text=text, **kw))  # type: ignore[arg-type]
    assert reply is not None
    return reply
