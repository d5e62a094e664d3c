"""Fixtures of the Discord end-to-end tests: FakeDiscord with a guild, and a replay App."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from bot.app import App
from bot.feeds.replay import ReplayExchange, ReplayIndex, Scenario
from fakes.discord import FakeDiscord
from tests.discord.support import (
    ADMIN,
    ALERTS,
    CLOSED,
    GENERAL,
    GUILD,
    MANAGE_GUILD,
    TODAY,
    TOKEN,
    TRADER,
    running_app,
)


@pytest.fixture(autouse=True)
def no_client_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail when discord.py logged an error (a payload it could not parse, a failed callback)."""
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    errors = [r for r in records if r.name.startswith("discord") and r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as fake:
        fake.add_guild(GUILD, "altbot-lab", channels=[GENERAL, {"id": ALERTS, "name": "alerts"}],
                       members=[(TRADER, "trader", 0), (ADMIN, "admin", MANAGE_GUILD)])
        fake.add_user(CLOSED, "private-person")
        yield fake


@pytest.fixture
async def replay_app(fake: FakeDiscord, redis: Redis, prefix: str) -> AsyncIterator[App]:
    """An App over the demo replay, data loaded, Discord connected (guild commands synced)."""
    scenario = Scenario(today=TODAY)
    exchange = ReplayExchange(scenario)
    async with running_app(fake, redis, prefix, exchange, ReplayIndex(scenario, exchange),
                           exchange.clock) as app:
        await app.poller.run_index_once()
        await app.poller.refresh_history()
        await app.poller.run_exchange_once()
        yield app
