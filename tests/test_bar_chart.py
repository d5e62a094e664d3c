"""/chart SYMBOL TIMEFRAME: bars of that timeframe, and the chat's indicators under them."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from redis.asyncio import Redis

from alerts.domain.indicators import Timeframe
from bot.app import App
from handlers.chat.bar_chart import chart_indicators, render_bar_chart
from handlers.chat.charting import FRAME_KEY
from tests.replay import ask, replay_app

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def app(redis: Redis, prefix: str) -> AsyncIterator[App]:
    application = replay_app(redis, prefix)
    await application.poller.run_once()
    yield application
    await application.stop()


async def test_chart_of_a_timeframe_is_a_png_of_its_bars(app: App) -> None:
    reply = await ask(app, "/chart LINK 1h")
    assert reply.image is not None and reply.image.startswith(PNG_MAGIC)
    assert reply.title == "LINK/USDT · 1h bars"
    assert "(the 1h bar still forming)" in reply.lines[0]
    assert "e.g. /alert LINK rsi14 1h above 70" in reply.lines[1]
    datas = [b.data for row in reply.buttons for b in row]
    assert "chart:LINK:4h" in datas and "chart:LINK:1h" not in datas
    again = await ask(app, "/chart LINK 1h")
    assert again.image == reply.image  # the shared render, from the cache


async def test_unknown_timeframe_lists_the_choices(app: App) -> None:
    reply = await ask(app, "/chart LINK 2h")
    assert reply.tone == "error" and "2h is not a chart range" in reply.title
    assert "5m 15m 1h 4h 1d" in " ".join(reply.lines)


def _frame_bottom(png: bytes) -> float:
    """The price axes' bottom edge in pixels, from the frame the render stores."""
    return float(Image.open(io.BytesIO(png)).info[FRAME_KEY].split(",")[3])


async def test_indicator_panel_under_the_price(app: App) -> None:
    bars = await app.exchange.fetch_bars("LINK/USDT", Timeframe.H1, 400)  # type: ignore[attr-defined]
    keys = ["rsi14@1h", "ema9-ema21@1h", "rsi14@4h", "nonsense"]
    assert [i.text for i in chart_indicators(keys, Timeframe.H1)] == ["rsi14", "ema9", "ema21"]
    with_rsi = render_bar_chart("LINK/USDT", "1h", bars, keys)
    plain = render_bar_chart("LINK/USDT", "1h", bars, [])
    assert with_rsi.startswith(PNG_MAGIC)
    # the RSI panel takes the lower part of the figure: the price axes end higher up
    assert _frame_bottom(with_rsi) < _frame_bottom(plain) - 100
    macd = "macd(12,26,9)-macd(12,26,9).signal@1h"
    both = render_bar_chart("LINK/USDT", "1h", bars, [*keys, macd])
    assert _frame_bottom(both) < _frame_bottom(with_rsi) - 50
