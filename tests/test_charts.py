"""Charts are valid, right-sized PNGs, and rendering them leaves the event loop free."""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from PIL import Image

from alerts.domain.backtest import History, basket_index, breakouts, closes_of, record_highs
from bot.feeds.replay import Scenario
from handlers.chat.charting import (
    ALERT,
    draw_levels,
    render_async,
    render_price_chart,
    render_r2k_chart,
    render_regime_chart,
)

TODAY = 1_764_000_000
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, which must come first."""
    assert png[:8] == PNG_MAGIC and png[12:16] == b"IHDR"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def assert_chart(png: bytes) -> None:
    width, height = png_size(png)
    assert (width, height) == (1000, 600)
    assert 10_000 < len(png) < 200_000


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario(today=TODAY)


def history(s: Scenario) -> History:
    coins = {"AVAX", "BCH", "ADA", "LINK", "HBAR"}
    return History(
        s.r2k_at(24),
        closes_of(s.daily["BTC/USDT"]),
        {sym.split("/")[0]: closes_of(c) for sym, c in s.daily.items() if sym[:-5] in coins},
    )


@pytest.mark.parametrize("days", [7, 30, 90, 365])
def test_price_chart_every_range(scenario: Scenario, days: int) -> None:
    candles = scenario.daily["LINK/USDT"]
    records = [candles[-3].ts, candles[-20].ts]
    assert_chart(render_price_chart("LINK/USDT", candles, r2k_records=records, range_days=days))


def alert_rows(png: bytes) -> set[int]:
    """Rows of the image holding a run of the alert colour (a dashed level line)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colour = tuple(int(ALERT[i : i + 2], 16) for i in (1, 3, 5))
    width, height = image.size
    return {
        y for y in range(height)
        if sum(image.getpixel((x, y)) == colour for x in range(0, width, 2)) > 100
    }  # fmt: skip


def test_alert_levels_are_drawn_over_the_shared_chart(scenario: Scenario) -> None:
    candles = scenario.daily["LINK/USDT"]
    shared = render_price_chart("LINK/USDT", candles, range_days=30)
    assert alert_rows(shared) == set()  # nothing chat-specific in the shared render
    shown = candles[-30:]
    low, high = min(c.low for c in shown), max(c.high for c in shown)
    mid, lower = (low + high) / 2, low + (high - low) / 4
    levels = [(mid, "#1 above"), (lower, "#2 below"), (high * 9, "#3 +800%")]
    drawn, off_chart = draw_levels(shared, levels)
    assert_chart(drawn)
    assert off_chart == ["#3 +800%"]  # pinned at the top edge, and listed by the caller
    rows = sorted(alert_rows(drawn))
    assert rows and rows[0] < rows[-1] - 20  # two lines, the higher price further up
    assert draw_levels(shared, []) == (shared, [])
    pinned, beyond = draw_levels(shared, [(high * 9, "#3"), (low / 9, "#4")])
    assert beyond == ["#3", "#4"] and pinned != shared  # ▲/▼ labels at the edges
    assert alert_rows(pinned) == set()  # but no level line


def test_price_chart_without_levels_or_records(scenario: Scenario) -> None:
    assert_chart(render_price_chart("HBAR/USDT", scenario.daily["HBAR/USDT"][-3:], range_days=30))


def test_price_chart_refuses_no_data() -> None:
    with pytest.raises(ValueError):
        render_price_chart("LINK/USDT", [], range_days=30)


def test_r2k_chart(scenario: Scenario) -> None:
    rows = scenario.r2k_at(24)
    assert record_highs(rows) and breakouts(rows)  # something to mark
    assert_chart(render_r2k_chart(rows))


def test_regime_chart(scenario: Scenario) -> None:
    h = history(scenario)
    assert_chart(render_regime_chart(h.r2k, basket_index(h), h.btc, breakouts(h.r2k)))


def test_regime_chart_without_r2k_still_draws_crypto(scenario: Scenario) -> None:
    h = history(scenario)
    assert_chart(render_regime_chart([], basket_index(h), h.btc, []))


async def test_render_async_keeps_the_loop_ticking(scenario: Scenario) -> None:
    """A 10 ms ticker keeps ticking while three heavy renders run through render_async."""
    candles = scenario.daily["LINK/USDT"]
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    pngs = [
        await render_async(render_price_chart, "LINK/USDT", candles, range_days=days)
        for days in (365, 90, 365)
    ]
    rendering = time.perf_counter() - started
    done.set()
    await task
    assert all(p[:8] == PNG_MAGIC for p in pngs)
    assert rendering > 0.15  # the renders took real time...
    assert max(gaps) < 0.1, f"loop stalled {max(gaps):.3f}s during {rendering:.2f}s of renders"
