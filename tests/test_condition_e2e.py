"""Issue 16 end to end: the fake exchange serves 1h klines over real ccxt, the bar feed
computes RSI with TA-Lib, the engine claims, real PTB delivers to the fake Bot API.

An `on close` alert fires exactly once, after the bar whose close pushes RSI(14) over
70 has closed, and not on an intrabar wick; an `intrabar` alert on the same condition
fires on the wick (at most once per bar)."""

from __future__ import annotations

import numpy as np
import talib
from redis.asyncio import Redis

from fakes.tg_harness import Harness, shown, telegram_app

HOUR = 3600
SYM = "LINK/USDT"


def rsi(closes: list[float]) -> float:
    return float(talib.RSI(np.array(closes, dtype=float), 14)[-1])


def history() -> list[float]:
    """300 closes that leave RSI(14) in the 50s: a gentle zigzag around 10."""
    return [round(10 + 0.2 * np.sin(i / 3) + 0.002 * i, 4) for i in range(300)]


async def at(h: Harness, ts: float) -> None:
    """Move the exchange and the app to `ts`, poll prices, run the bar feed."""
    h.binance.freeze_at(ts)
    h.clock.advance(ts - h.clock())
    await h.poll()
    await h.app.bars.run_once(ts)
    await h.app.worker.run_once(block_ms=None)


async def test_rsi_alert_fires_once_on_the_close_not_on_the_wick(redis: Redis, prefix: str) -> None:
    async with telegram_app(redis, prefix) as h:
        now = h.clock()
        start = now - now % HOUR  # the forming 1h bar opened here
        closes = history()
        h.binance.freeze_at(start + 60)
        h.binance.set_bars(SYM, "1h", closes, end_s=start)
        h.binance.set_price(SYM, closes[-1])
        await at(h, start + 60)
        on_close = await h.say(42, "/alert LINK rsi14 1h above 70")
        assert "rsi14 1h above 70 (on 1h close)" in shown(on_close)
        intrabar = await h.say(43, "/alert LINK rsi14 1h above 70 intrabar")
        assert "(intrabar, once per bar at most)" in shown(intrabar)
        await at(h, start + 90)  # first values: a baseline below 70, nothing fires
        await at(h, start + 120)  # (intrabar values come with ticks, after the bars)
        assert rsi(closes[:-1]) < 70 and rsi(closes) < 70

        # A wick inside the forming bar: the live price spikes, then falls back.
        spike = closes[-1] * 1.25
        assert rsi([*closes[:-1], spike]) > 70
        h.binance.set_forming(SYM, "1h", spike, high=spike)
        h.binance.set_price(SYM, spike)
        await at(h, start + 1800)
        h.binance.set_forming(SYM, "1h", closes[-1], high=spike)
        h.binance.set_price(SYM, closes[-1])
        await at(h, start + 1900)
        wick = await h.tg.wait_for(2, chat_id=43, timeout=10)
        assert "LINK/USDT crossed: rsi14 1h above 70 (intrabar" in wick[1].text
        await h.quiet(42, seconds=0.5)
        assert len(h.posts(42)) == 1  # the on-close alert ignored the wick

        # The wick bar closes back in range; the next bar closes strong: RSI crosses 70.
        h.binance.append_bar(SYM, "1h", closes[-1])
        await at(h, start + HOUR + 10)
        assert len(h.posts(42)) == 1
        strong = [*closes, closes[-1] * 1.2]
        assert rsi(strong) > 70 > rsi(closes)
        h.binance.set_forming(SYM, "1h", strong[-1])
        h.binance.append_bar(SYM, "1h", strong[-1])
        await at(h, start + 2 * HOUR + 10)
        fired = await h.tg.wait_for(2, chat_id=42, timeout=10)
        text = fired[1].text
        assert "LINK/USDT crossed: rsi14 1h above 70 (on 1h close)" in text
        assert f"rsi14 1h {rsi(strong):.1f}" in text and "on the bar closing" in text
        await at(h, start + 2 * HOUR + 20)  # the same close again: nothing new
        await h.quiet(42, seconds=0.5)
        assert len(h.posts(42)) == 2
