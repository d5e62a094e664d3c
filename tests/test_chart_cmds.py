"""/chart and /evidence through the real command core, store and Redis (scenario data)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest
from PIL import Image
from redis.asyncio import Redis

from alerts.domain.indicators import Timeframe
from alerts.storage.chart_cache import CHARTS_PER_MINUTE
from alerts.storage.keys import Keys
from alerts.storage.market_store import MarketStore
from bot.app import App
from bot.feeds.replay import Scenario
from handlers.chat.bar_chart import chart_indicators, render_bar_chart
from handlers.chat.charting import FRAME_KEY
from handlers.chat.core import CommandCore
from handlers.chat.reply import Reply, Request
from tests.replay import ask as ask_app
from tests.replay import replay_app

TODAY = 1_764_000_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def empty(redis: Redis, prefix: str) -> App:
    """An app whose store holds nothing yet (no poll has run)."""
    return replay_app(redis, prefix, clock=lambda: TODAY)


@pytest.fixture
def store(empty: App) -> MarketStore:
    return empty.store


@pytest.fixture
async def core(empty: App, store: MarketStore) -> CommandCore:
    """A core over a store holding the scenario's R2K history and daily candles."""
    scenario = Scenario(today=TODAY)
    await store.save_index(scenario.r2k_at(24), TODAY - 60)
    for symbol, candles in scenario.daily.items():
        await store.save_daily(symbol, candles)
    return empty.core


async def ask(core: CommandCore, text: str, chat: str = "tg:1") -> Reply:
    reply = await core.handle(Request(chat=chat, user=chat, text=text))
    assert reply is not None
    return reply


async def test_chart_symbol_range_is_a_png_with_the_not_advice_footer(core: CommandCore) -> None:
    reply = await ask(core, "/chart LINK 90d")
    assert reply.tone != "error", reply.plain_text()
    assert reply.image is not None and reply.image[:8] == PNG_MAGIC
    assert reply.title == "LINK/USDT · 90d" and reply.image_name == "LINK-90d.png"
    assert "not advice" in (reply.footer or "")
    assert any(line.startswith("Last daily close") for line in reply.lines)
    datas = [b.data for row in reply.buttons for b in row]
    assert "chart:LINK:7d" in datas and "chart:LINK:90d" not in datas


async def test_bad_range_names_the_valid_ones(core: CommandCore) -> None:
    reply = await ask(core, "/chart LINK 5y")
    assert reply.tone == "error" and reply.image is None
    assert "5y is not a chart range" in reply.title
    assert "7d, 30d, 90d, 1y" in reply.plain_text()


async def test_unknown_symbol_and_missing_argument_are_user_errors(core: CommandCore) -> None:
    assert "Which chart" in (await ask(core, "/chart")).title
    assert (await ask(core, "/chart NOPE")).tone == "error"


async def test_chart_button_and_default_range(core: CommandCore) -> None:
    reply = await core.handle_callback(Request(chat="tg:1", user="u", text=""), "chart:ADA")
    assert reply.title == "ADA/USDT · 30d" and reply.image is not None


async def test_r2k_and_regime_charts(core: CommandCore) -> None:
    r2k = await ask(core, "/chart R2K")
    assert r2k.image is not None and r2k.image[:8] == PNG_MAGIC
    assert any("Breakouts" in line for line in r2k.lines)
    regime = await ask(core, "/chart regime")
    assert regime.image is not None and "not advice" in (regime.footer or "")
    assert regime.lines[0].startswith("Regime now:")


async def test_evidence_is_text_plus_the_regime_chart(core: CommandCore) -> None:
    reply = await ask(core, "/evidence")
    assert reply.image is not None and reply.image[:8] == PNG_MAGIC
    assert reply.lines[0].startswith("History: 1 R2K breakout since 2024")
    assert any("Too few events to mean anything" in line for line in reply.lines)
    assert any(line.startswith("Daily correlation with the R2K") for line in reply.lines)
    assert "not advice" in (reply.footer or "")


async def test_charts_are_cached_briefly(core: CommandCore, redis: Redis, keys: Keys) -> None:
    first = await ask(core, "/chart LINK 7d")
    cached = [k async for k in redis.scan_iter(match=keys.chart("*"))]
    assert len(cached) == 1 and 0 < await redis.ttl(cached[0]) <= 60
    again = await ask(core, "/chart LINK 7d")
    assert again.image == first.image


async def test_missing_data_is_said_not_invented(empty: App) -> None:
    core = empty.core
    for text in ("/chart LINK", "/chart R2K", "/chart regime", "/evidence"):
        reply = await ask(core, text)
        assert reply.image is None and reply.tone == "warn", text
        assert "No " in reply.lines[0] and "yet" in reply.lines[0], text
        assert "not advice" in (reply.footer or "")


@pytest.fixture
async def app(redis: Redis, prefix: str) -> AsyncIterator[App]:
    application = replay_app(redis, prefix)
    await application.poller.run_once()
    yield application
    await application.stop()


async def test_the_chats_alert_levels_are_drawn(app: App) -> None:
    req = Request(chat="tg:9", user="tg:9", text="/alert LINK +40%")
    created = await app.core.handle(req)
    assert created is not None
    assert created.tone != "error", created.plain_text()
    chart = await app.core.handle(Request(chat="tg:9", user="tg:9", text="/chart LINK 90d"))
    assert chart is not None and chart.image is not None
    assert "Your alert levels drawn: 1." in chart.lines
    assert not any(line.startswith("No price alerts") for line in chart.lines)
    assert chart.lines[-1].startswith("Beyond the price range (▲▼ at the edge): #1 +40% → ")
    other = await app.core.handle(Request(chat="tg:2", user="tg:2", text="/chart LINK 90d"))
    assert other is not None and not any("levels drawn" in line for line in other.lines)


def renders(app: App) -> float:
    """Charts actually rendered, as /metrics shows them."""
    return app.metrics.registry.get_sample_value("altbot_chart_renders_total") or 0.0


async def test_twenty_chats_at_once_share_one_render(app: App) -> None:
    for chat in ("tg:1", "tg:2"):  # two of them with their own alert levels on LINK
        created = await app.core.handle(Request(chat, chat, f"/alert LINK +{chat[-1]}0%"))
        assert created is not None and created.tone != "error", created
    chats = [f"tg:{n}" for n in range(1, 21)]
    replies = await asyncio.gather(
        *(app.core.handle(Request(chat, chat, "/chart LINK 1y")) for chat in chats)
    )
    assert renders(app) == 1
    images = [r.image for r in replies if r is not None]
    assert len(images) == 20 and all(i is not None and i[:8] == PNG_MAGIC for i in images)
    assert len(set(images[2:])) == 1  # chats without alerts: the very same shared image
    assert images[0] != images[1] != images[2]  # the others: their levels drawn over it
    again = await app.core.handle(Request("tg:21", "tg:21", "/chart LINK 1y"))
    assert again is not None and again.image == images[2] and renders(app) == 1  # from Redis
    await app.core.handle(Request("tg:21", "tg:21", "/chart LINK 7d"))
    assert renders(app) == 2  # another range is another chart


async def test_a_chat_gets_six_charts_a_minute(app: App) -> None:
    req = Request("tg:5", "tg:5", "/chart LINK 30d")
    for _ in range(CHARTS_PER_MINUTE):
        ok = await app.core.handle(req)
        assert ok is not None and ok.image is not None
    refused = await app.core.handle(req)
    assert refused is not None and refused.tone == "error" and refused.image is None
    assert refused.title == "⚠️ That is 6 charts this minute, the most a chat can ask for."
    assert refused.lines[0].startswith("Try again in ")
    other = await app.core.handle(Request("tg:6", "tg:6", "/chart LINK 30d"))
    assert other is not None and other.image is not None  # per chat


# ---- /chart SYMBOL TIMEFRAME: bars of that timeframe, the chat's indicators under them
async def test_chart_of_a_timeframe_is_a_png_of_its_bars(app: App) -> None:
    reply = await ask_app(app, "/chart LINK 1h")
    assert reply.image is not None and reply.image.startswith(PNG_MAGIC)
    assert reply.title == "LINK/USDT · 1h bars"
    assert "(the 1h bar still forming)" in reply.lines[0]
    assert "e.g. /alert LINK rsi14 1h above 70" in reply.lines[1]
    datas = [b.data for row in reply.buttons for b in row]
    assert "chart:LINK:4h" in datas and "chart:LINK:1h" not in datas
    again = await ask_app(app, "/chart LINK 1h")
    assert again.image == reply.image  # the shared render, from the cache


async def test_unknown_timeframe_lists_the_choices(app: App) -> None:
    reply = await ask_app(app, "/chart LINK 2h")
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
