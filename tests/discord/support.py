"""Shared pieces of the Discord end-to-end tests: ids, a running App, slash commands,
buttons and answers as FakeDiscord records them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis

from alerts.domain.market import IndexSource, TickerSource
from bot.app import App
from bot.config import Settings
from bot.feeds.replay import ReplayExchange
from fakes._discord_rest_wire import InteractionRecord
from fakes._discord_world import JSON
from fakes.discord import FakeDiscord

TOKEN = "fake-token.for-tests"
TODAY = 1_764_000_000
GUILD, GENERAL, ALERTS = 100000000000000001, 100000000000000010, 100000000000000011
TRADER, ADMIN, CLOSED = 200000000000000001, 200000000000000003, 200000000000000002
MANAGE_GUILD = 0x20
EPHEMERAL = 64


@contextlib.asynccontextmanager
async def running_app(
    fake: FakeDiscord, redis: Redis, prefix: str, exchange: TickerSource, index: IndexSource,
    clock: Callable[[], float],
) -> AsyncIterator[App]:
    settings = Settings(
        key_prefix=prefix, http_port=0, discord_bot_token=TOKEN,  # type: ignore[arg-type]
        discord_api_url=fake.api_url, discord_gateway_url=fake.gateway_url,
        discord_guild_id=GUILD, telegram_bot_token=None,
    )
    app = App(settings, redis, exchange, index, clock=clock)
    try:
        await app.start(poll=False, http=False, telegram=False)
        yield app
    finally:
        await app.stop()


def replay(app: App) -> ReplayExchange:
    assert isinstance(app.exchange, ReplayExchange)
    return app.exchange


async def step(app: App) -> None:
    """One poll of the replay: prices move, the engine runs, the outbox is delivered."""
    replay(app).advance(app.settings.poll_interval_seconds)
    await app.poller.run_exchange_once()
    await app.worker.run_once(block_ms=None)


def price(app: App, base: str, at: int | None = None) -> float:
    ex = replay(app)
    return ex.scenario.price_at(f"{base}/USDT", ex.step if at is None else at)


async def eventually(cond: Callable[[], bool], seconds: float = 5.0) -> None:
    """Deliveries run on the App's background worker too: poll for the outcome."""
    for _ in range(int(seconds / 0.02)):
        if cond():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not true after {seconds}s")


def option(name: str, value: object) -> JSON:
    return {"name": name, "value": value}


async def command(fake: FakeDiscord, name: str, *options: JSON, user: int = TRADER,
                  guild: bool = True, channel: int = GENERAL, **kw: Any) -> InteractionRecord:
    """Invoke a slash command and wait for its answer (the follow-up too when it deferred)."""
    iid = await fake.invoke_command(name, list(options), user_id=user,
                                    guild_id=GUILD if guild else None,
                                    channel_id=channel if guild else None, **kw)
    cb = await fake.wait_for_callback(iid, timeout=3.0)
    if cb.type == 5:
        await fake.wait_for_messages(lambda m: m.get("_fake_interaction_id") == str(iid)
                                     and m not in [cb.message], timeout=10)
    return fake.interaction(iid)


def answer(rec: InteractionRecord) -> JSON:
    """The message that answered: the follow-up of a deferred command, else the response."""
    if rec.followups:
        return rec.followups[-1]
    assert rec.callback is not None and rec.callback.message is not None
    return rec.callback.message


def embed(rec: InteractionRecord) -> JSON:
    [e] = answer(rec)["embeds"]
    return e


def custom_ids(message: JSON) -> list[str]:
    return [c["custom_id"] for row in message["components"] for c in row["components"]]


async def press(fake: FakeDiscord, message: JSON, custom_id: str, *, user: int,
                guild: bool = True, channel: int = GENERAL) -> InteractionRecord:
    """Press a button: a component interaction (type 3), as Discord sends it."""
    payload = fake.world.interaction_payload(
        2, "", [], command=None, guild_command=False, user_id=user,
        channel_id=channel if guild else None, guild_id=GUILD if guild else None,
        permissions=None, resolved=None, locale="en-US")
    payload.update(type=3, data={"custom_id": custom_id, "component_type": 2},
                   message={k: v for k, v in message.items() if not k.startswith("_fake_")})
    rec = InteractionRecord(int(payload["id"]), payload["token"], 3, custom_id,
                            int(payload["channel_id"]), GUILD if guild else None, user,
                            asyncio.get_running_loop().time(), payload)
    fake.interactions[rec.id] = rec
    fake._by_token[rec.token] = rec  # the fake has no button API: register like _interact does
    assert await fake.dispatch("INTERACTION_CREATE", payload) == 1
    await fake.wait_for_callback(rec.id)
    return rec
