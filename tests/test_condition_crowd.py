"""Condition alerts under a crowd: 300 chats set the same indicator alert in the same
second while one chat floods commands; one bar close then fires every alert exactly once
with a single claim, and the flooder never slows the others down."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from alerts.domain.chat import COMMANDS_PER_MINUTE
from bot.app import App
from handlers.chat.reply import Request
from tests.replay import ask, replay_app

LINK, SERIES = "LINK/USDT", "rsi14@1h"
CROWD = 300


@pytest.fixture
async def app(redis: Redis, prefix: str) -> AsyncIterator[App]:
    application = replay_app(redis, prefix)
    await application.poller.run_once()
    yield application
    await application.stop()


async def test_a_crowd_sets_one_condition_and_one_close_fires_each_once(
    app: App, redis: Redis
) -> None:
    await app.evaluation.on_series(LINK, {SERIES: 55.0}, 3600)  # the series' baseline
    words = "/alert LINK rsi14 1h above 70"
    crowd = [ask(app, words, chat=f"tg:{9000 + i}") for i in range(CROWD)]
    flooder = Request(chat="tg:666", user="tg:666", text=words)
    flood = [app.core.handle(flooder) for _ in range(60)]
    replies = await asyncio.gather(*crowd, *flood)
    made = [r for r in replies[:CROWD] if r is not None and r.title.startswith("✅")]
    assert len(made) == CROWD  # nobody in the crowd was refused
    flooded = replies[CROWD:]
    flooder_made = sum(r is not None and r.title.startswith("✅") for r in flooded)
    assert flooder_made == COMMANDS_PER_MINUTE  # its own budget, then one refusal, then quiet
    assert sum(r is None for r in flooded) == 60 - COMMANDS_PER_MINUTE - 1
    assert await app.alerts.series.in_use(LINK) == [SERIES]  # one series for them all

    await app.evaluation.on_series(LINK, {SERIES: 72.0}, 7200)  # one close crosses 70
    await app.evaluation.on_series(LINK, {SERIES: 74.0}, 7200)  # the same close again
    jobs = [f for _, f in await redis.xrange(app.keys.outbox) if f["t"] == "fire"]
    ids = [int(f["id"]) for f in jobs]
    assert len(ids) == len(set(ids)) == CROWD + flooder_made  # each alert once, none twice
    assert await app.engine.count_active() == 0  # once-alerts: all claimed, none left armed
