"""Issue 14 through the command core: move windows, the "already moved" check on the
bucketed history, the per-chat symbol cap, bad records in the metric, O(1) counts."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from alerts.domain.conditions import ParseError
from alerts.domain.grammar import parse_alert_args
from bot.app import App
from tests.replay import ask, replay_app


@pytest.fixture
async def app(redis: Redis, prefix: str) -> AsyncIterator[App]:
    application = replay_app(redis, prefix, max_symbols_per_chat=2, max_tracked_symbols=20)
    await application.poller.run_once()
    yield application
    await application.stop()


async def price(app: App, symbol: str) -> float:
    snap = await app.store.snapshot(symbol)
    assert snap is not None
    return snap.price


@pytest.mark.parametrize(
    ("word", "seconds"), [("5m", 300), ("60m", 3600), ("24h", 86400), ("1d", 86400)]
)
def test_window_words(word: str, seconds: int) -> None:
    assert parse_alert_args(["move", "5%", word]).window == seconds


@pytest.mark.parametrize("word", ["2h", "30m", "1w", "0m", "abc"])
def test_other_windows_are_refused_with_the_list(word: str) -> None:
    with pytest.raises(ParseError, match="one of 5m, 15m, 1h, 4h, 24h"):
        parse_alert_args(["move", "5%", word])


async def test_windows_come_from_a_fixed_set(app: App) -> None:
    odd = await ask(app, "/alert LINK move 5% 2h")
    assert odd.tone == "error" and "5m, 15m, 1h, 4h, 24h" in odd.title
    ok = await ask(app, "/alert LINK move 5% 4h")
    assert ok.title.startswith("✅") and "within 4h" in ok.title


async def test_already_moved_is_checked_on_the_same_window_extremes(app: App) -> None:
    now, link = app.clock(), await price(app, "LINK/USDT")
    pipe = app.redis.pipeline(transaction=False)
    await app.store.history.queue(pipe, "LINK/USDT", now - 600, link * 0.9)  # 10 min ago
    await pipe.execute()
    moved = await ask(app, "/alert LINK move 5% 1h")
    assert moved.tone == "error" and "already moved 5% within 1h." in moved.title
    assert (await ask(app, "/alert LINK move 5% 5m")).title.startswith("✅")  # low is older
    assert (await ask(app, "/alert LINK move 15% 1h")).title.startswith("✅")


async def test_watchlist_and_alert_coins_share_the_chat_cap(app: App) -> None:
    for chat, base in (("tg:2", "SOL"), ("tg:2", "ARB"), ("tg:3", "DOGE")):
        assert (await ask(app, f"/watch add {base}", chat=chat)).title.startswith("👀")
    assert (await ask(app, "/watch add SOL")).title.startswith("👀")
    app.exchange.advance(app.settings.poll_interval_seconds)  # type: ignore[attr-defined]
    await app.poller.run_exchange_once()
    arb, sol = await price(app, "ARB/USDT"), await price(app, "SOL/USDT")
    assert (await ask(app, f"/alert ARB above {arb * 1.2:.4f}")).title.startswith("✅")
    full = await ask(app, "/watch add DOGE")  # SOL watched + ARB alerted = 2
    assert full.tone == "error" and "already follows 2 coins" in full.title
    assert "watchlist and alerts together" in full.title
    assert (await ask(app, "/alert LINK above 999")).title.startswith("✅")  # a default coin
    await ask(app, "/watch remove SOL")
    assert (await ask(app, "/watch add DOGE")).title.startswith("👀")  # ARB + DOGE
    refused = await ask(app, f"/alert SOL above {sol * 1.2:.4f}")
    assert refused.tone == "error" and "already follows 2 coins" in refused.title


async def test_bad_records_are_counted_and_active_alerts_are_counted(app: App) -> None:
    for level in ("999", "998"):
        await ask(app, f"/alert LINK above {level}")
    assert await app.engine.count_active() == 2
    stats = await app.services.stats() if app.services.stats else None
    assert stats is not None and stats.active_alerts == 2
    alert_id = min(int(i) for i in await app.redis.smembers(app.keys.chat("tg:1")))
    bucket = app.keys.bucket(alert_id)
    record = await app.redis.hget(bucket, str(alert_id))
    await app.redis.hset(bucket, str(alert_id), record.rsplit("|", 1)[0])
    listing = await ask(app, "/alerts")
    assert listing.title == "Your alerts (1/50)"
    assert app.metrics.registry.get_sample_value("altbot_bad_records_total") == 1
