"""The one staleness rule: the real poll period (configured, or ccxt's throttle), a floor."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis

from alerts.domain.freshness import FLOOR_SECONDS, STALE_PERIODS, FeedFreshness
from bot.feeds.exchange import CcxtExchange
from fakes.tg_harness import telegram_app


def test_stale_after_three_real_periods_never_under_the_floor() -> None:
    slow = FeedFreshness(interval=10.0)
    assert slow.max_age == STALE_PERIODS * 10.0
    assert not slow.is_stale(100.0, 100.0 + 30.0) and slow.is_stale(100.0, 130.1)
    throttled = FeedFreshness(interval=0.5, throttle=2.5)  # the client cannot poll faster
    assert throttled.period == 2.5 and throttled.interval_too_short
    assert throttled.max_age == STALE_PERIODS * 2.5
    fast = FeedFreshness(interval=0.5, throttle=0.8)
    assert fast.max_age == FLOOR_SECONDS and not fast.is_stale(100.0, 104.0)
    assert fast.is_stale(None, 100.0)


async def test_ccxt_binance_batched_tickers_throttle_is_its_weight_times_rate_limit() -> None:
    exchange = CcxtExchange("binance")
    try:
        assert exchange.batch_seconds == pytest.approx(0.8)  # 16 units × 50 ms
    finally:
        await exchange.close()
    unthrottled = CcxtExchange("binance", rate_limit=False)
    try:
        assert unthrottled.batch_seconds == 0.0
    finally:
        await unthrottled.close()


async def test_start_up_warns_when_the_interval_is_shorter_than_the_throttle(
    redis: Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.app")
    async with telegram_app(redis, prefix, poll_interval_seconds=0.5) as h:
        freshness = h.app.freshness.prices
        assert freshness.period == pytest.approx(0.8) and freshness.max_age == FLOOR_SECONDS
        warned = [r for r in caplog.records if "POLL_INTERVAL_SECONDS=0.5" in r.getMessage()]
        assert len(warned) == 1
        reply = await h.say(601, "/alert BCH above 490")  # fresh by the real period's rule
        assert "No fresh price" not in (reply.text or "")
