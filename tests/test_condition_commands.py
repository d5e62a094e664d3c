"""Condition alerts through the command core: /alert replies, /alerts, the push wording,
and evaluation of bar values through the use case (issue 16)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from alerts.domain.jobs import Job
from bot.app import App
from handlers.chat.notify import render_jobs
from tests.replay import ask, replay_app

LINK = "LINK/USDT"


@pytest.fixture
async def app(redis: Redis, prefix: str) -> AsyncIterator[App]:
    application = replay_app(redis, prefix)
    await application.poller.run_once()
    yield application
    await application.stop()


async def test_indicator_alert_is_confirmed_with_when_it_is_checked(app: App) -> None:
    reply = await ask(app, "/alert LINK rsi14 1h above 70")
    assert reply.title.startswith("✅") and "rsi14 1h above 70 (on 1h close)" in reply.title
    text = "\n".join(reply.lines)
    assert "at a bar close (a wick inside the bar does not count)" in text
    assert "no value yet; it comes within a minute, from the last closed 1h bar" in text
    listed = await ask(app, "/alerts")
    assert any("rsi14 1h above 70" in line for line in listed.lines)


async def test_condition_already_true_is_refused(app: App) -> None:
    await app.evaluation.on_series(LINK, {"rsi14@1h": 75.0}, 3600)
    reply = await ask(app, "/alert LINK rsi14 1h above 70")
    assert reply.tone == "error" and "already holds" in reply.title
    ok = await ask(app, "/alert LINK rsi14 1h below 70")
    assert ok.title.startswith("✅") and "rsi14 1h below 70: now rsi14 1h 75.0." in ok.lines
    listed = await ask(app, "/alerts")
    assert any("rsi14 1h below 70 (on 1h close) — armed; now rsi14 1h 75.0" in line
               for line in listed.lines)  # fmt: skip


async def test_bad_condition_gets_the_wrong_part_named(app: App) -> None:
    reply = await ask(app, "/alert LINK rsj 1h above 70")
    assert reply.tone == "error"
    assert "unknown indicator 'rsj' — rsi, ema, sma, macd, bb" in reply.title


async def test_bar_close_fires_once_and_the_push_names_the_bar(app: App, redis: Redis) -> None:
    await ask(app, "/alert LINK ema9 1h crosses above ema21")
    series = "ema9-ema21@1h"
    await app.evaluation.on_series(LINK, {series: -0.02}, 3600 * 10)
    await app.evaluation.on_series(LINK, {series: 0.01}, 3600 * 11)
    await app.evaluation.on_series(LINK, {series: 0.03}, 3600 * 12)
    entries = await redis.xrange(app.keys.outbox)
    fired = [Job.from_fields(i, f) for i, f in entries if f["t"] == "fire"]
    assert len(fired) == 1
    reply = render_jobs(fired)
    line = reply.lines[0]
    assert "LINK/USDT crossed: ema9 1h crosses above ema21 (on 1h close)" in line
    assert "ema9 − ema21 1h +0.01" in line and "on the bar closing" in line


async def test_multi_condition_alert_lists_each_value(app: App) -> None:
    reply = await ask(app, "/alert LINK above 1000 and rsi14 1h below 70 and mcap above 10B")
    assert reply.title.startswith("✅")
    text = "\n".join(reply.lines)
    assert "when the last of them turns true while the others hold" in text
    assert "above 1000: now price" in text
    assert "mcap above 10B: no value yet (it needs the next data refresh)." in text
