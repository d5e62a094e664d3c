"""Watchlists end to end: core commands, Redis state, the poller's tracked union and its cap."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from alerts.domain import fmt
from alerts.storage.engine import DEFAULT_SYMBOLS_PER_CHAT as WATCHLIST_MAX
from alerts.storage.keys import Keys
from alerts.storage.watchlists import Watchlists
from bot.app import App
from bot.config import Settings
from bot.feeds.exchange import CcxtExchange, ExchangeChain
from bot.feeds.index_feed import YahooIndexFeed
from bot.feeds.poller import Poller
from bot.feeds.replay import ReplayExchange
from fakes.binance import FakeBinance, market_id
from fakes.yahoo import FakeYahoo
from tests.replay import ask, replay_app


@pytest.fixture
async def app(redis: Redis, prefix: str) -> AsyncIterator[App]:
    application = replay_app(redis, prefix, max_tracked_symbols=10)
    await application.worker.ensure_group()
    await application.poller.run_once()
    yield application
    await application.stop()


async def poll(app: App) -> None:
    exchange = app.exchange
    assert isinstance(exchange, ReplayExchange)
    exchange.advance(app.settings.poll_interval_seconds)
    await app.poller.run_exchange_once()


async def test_watched_symbol_is_polled_from_the_next_poll_then_coin_and_alert_work(
    app: App,
) -> None:
    added = await ask(app, "/watch add sol")
    assert added.title == "👀 Watching SOL/USDT" and "next poll" in added.lines[0]
    for text in ("/coin SOL", "/alert SOL above 999"):
        early = await ask(app, text)
        assert early.tone == "error" and "tracking starts with the next poll" in early.title
    assert "SOL/USDT" not in app.poller.symbols
    await poll(app)
    assert app.poller.symbols[-1] == "SOL/USDT" and len(app.poller.symbols) == 8
    coin = await ask(app, "/coin sol")
    snap = await app.store.snapshot("SOL/USDT")
    assert coin.title == "SOL/USDT" and snap is not None and "Price" in dict(coin.fields)
    created = await ask(app, f"/alert SOL above {snap.price * 1.1:.2f}")
    assert created.title.startswith("✅ Alert #") and "SOL/USDT" in created.title
    listing = await ask(app, "/watch")
    assert listing.title == f"Your watchlist (1/{WATCHLIST_MAX})"
    assert listing.lines[0].startswith("SOL/USDT ") and "%" in listing.lines[0]
    assert "tracks 8 of at most 10 symbols" in (listing.footer or "")
    assert [b.data for row in listing.buttons for b in row] == ["unwatch:SOL"]
    await app.poller.refresh_history()  # the history loop wakes for new symbols
    chart = await ask(app, "/chart SOL 30d")
    assert chart.tone != "error" and chart.image is not None, chart.plain_text()


async def test_replicas_agree_on_the_tracked_symbols(app: App, redis: Redis, prefix: str) -> None:
    other = replay_app(redis, prefix, max_tracked_symbols=10)
    try:
        await ask(app, "/watch add ARB")
        await other.poller.run_exchange_once()
        assert "ARB/USDT" in other.poller.symbols
        assert await other.store.snapshot("ARB/USDT") is not None
    finally:
        await other.stop()


async def test_a_symbol_stays_tracked_while_watched_or_alerted(app: App) -> None:
    await ask(app, "/watch add ARB", chat="tg:1")
    await ask(app, "/watch add ARB", chat="tg:2")
    await poll(app)
    snap = await app.store.snapshot("ARB/USDT")
    assert snap is not None
    created = await ask(app, f"/alert ARB below {snap.price * 0.8:.4f}", chat="tg:1")
    alert_id = created.title.split("#")[1].split(":")[0]
    removed = await ask(app, "/watch remove ARB", chat="tg:1")
    assert removed.title == "Removed ARB/USDT from this chat's watchlist."
    await ask(app, "/watch remove arb/usdt", chat="tg:2")
    assert await app.watchlists.prune() == []  # nobody watches it, but an alert uses it
    await poll(app)
    assert "ARB/USDT" in app.poller.symbols
    await ask(app, f"/delete {alert_id}", chat="tg:1")
    assert await app.watchlists.prune() == ["ARB/USDT"]
    await poll(app)
    assert "ARB/USDT" not in app.poller.symbols
    gone = await ask(app, "/coin ARB")
    assert gone.tone == "error" and "/watch add ARB" in (gone.lines[0] if gone.lines else "")


async def test_move_alert_keeps_its_symbol_tracked_until_deleted(app: App) -> None:
    await ask(app, "/watch add DOGE")
    await poll(app)
    created = await ask(app, "/alert DOGE move 5% 1h")
    assert created.title.startswith("✅"), created.plain_text()
    await ask(app, "/watch remove DOGE")
    assert await app.watchlists.prune() == []
    await ask(app, f"/delete {created.title.split('#')[1].split(':')[0]}")
    assert await app.watchlists.prune() == ["DOGE/USDT"]


async def test_unknown_and_default_symbols_get_clear_answers(app: App) -> None:
    typo = await ask(app, "/watch add SOLL")
    assert typo.title == "⚠️ SOLL/USDT is not a market I know."
    assert typo.lines[0].startswith("Did you mean SOL?")
    far = await ask(app, "/watch add QQQQQQ")
    assert "not a market I know" in far.title and "Did you mean" not in far.lines[0]
    default = await ask(app, "/watch add link")
    assert default.title == "LINK/USDT is a default coin: it is on every board already."
    euro = await ask(app, "/watch add LINK/EUR")
    assert "Only USDT markets" in euro.title
    not_watched = await ask(app, "/coin ARB")
    assert "listed but not tracked" in not_watched.title
    assert "/watch add ARB" in not_watched.lines[0]
    missing = await ask(app, "/watch remove SOL")
    assert "not on this chat's watchlist" in missing.title
    assert "Use one of" in (await ask(app, "/watch sideways SOL")).title


async def reference_text(app: App) -> str:
    """The Reference line as the store's BTC and ETH snapshots say it should read."""
    parts = []
    for base in ("BTC", "ETH"):
        snap = await app.store.snapshot(f"{base}/USDT")
        assert snap is not None
        parts.append(f"{base} {fmt.price(snap.price)} {fmt.pct(snap.change_pct)}")
    return "Reference: " + " · ".join(parts)


async def test_reference_coins_are_on_every_board(app: App) -> None:
    added = await ask(app, "/watch add eth")
    assert added.title == (
        "ETH/USDT is a reference coin: every board shows it already, on its Reference line."
    )
    assert await app.watchlists.of("tg:1") == []
    empty = await ask(app, "/watch")
    assert empty.lines == [
        "On every board: AVAX, BCH, ADA, LINK, HBAR.",
        await reference_text(app),
        "Add your own coins with /watch add SOL.",
    ]
    await ask(app, "/watch add SOL")
    await poll(app)
    reference = await reference_text(app)
    listing = await ask(app, "/watch")
    assert listing.lines[-2:] == ["Also on every board: AVAX, BCH, ADA, LINK, HBAR.", reference]
    digest = await ask(app, "/digest now")
    start = digest.lines.index("Board (by 24h change):")
    board = [line.strip() for line in digest.lines[start + 1 :] if line.startswith("  ")]
    assert {line.split()[0] for line in board[:6]} == {"ADA", "AVAX", "BCH", "HBAR", "LINK", "SOL"}
    assert board[6] == reference  # after the coins, never sorted in among them


async def test_group_members_cannot_change_the_watchlist(app: App) -> None:
    denied = await ask(app, "/watch add SOL", chat="tg:-5", is_group=True, is_admin=False)
    assert "admins" in denied.title
    assert (await ask(app, "/watch", chat="tg:-5", is_group=True, is_admin=False)).tone != "error"


async def test_global_cap_is_enforced_and_said_clearly(app: App) -> None:
    for chat, base in (("tg:1", "SOL"), ("tg:2", "ARB"), ("tg:3", "DOGE")):
        assert (await ask(app, f"/watch add {base}", chat=chat)).title.startswith("👀")
    full = await ask(app, "/watch add DOT", chat="tg:4")
    assert full.tone == "error"
    assert "maximum of 10 symbols (MAX_TRACKED_SYMBOLS)" in full.title
    assert "DOT/USDT" in full.title
    shared = await ask(app, "/watch add SOL", chat="tg:4")  # already tracked: no new slot
    assert shared.title == "👀 Watching SOL/USDT"
    await poll(app)
    assert len(app.poller.symbols) == 10


async def test_poller_truncates_to_its_cap_and_keeps_the_defaults(app: App) -> None:
    for chat, base in (("tg:1", "SOL"), ("tg:2", "ARB"), ("tg:3", "DOGE")):
        await ask(app, f"/watch add {base}", chat=chat)
    small = Poller(
        app.exchange, app.index, app.store, app.settings.universe.tracked_symbols,
        poll_interval=10, index_interval=300, clock=app.clock,
        extra_symbols=app.watchlists.tracked, max_symbols=8,
    )  # fmt: skip
    assert await small.refresh_symbols() == ["ARB/USDT"]  # sorted, the first one fits
    assert small.symbols == [*app.settings.universe.tracked_symbols, "ARB/USDT"]


async def test_per_chat_limit(redis: Redis, keys: Keys) -> None:
    lists = Watchlists(redis, keys, defaults=["BTC/USDT"], cap=1000)
    for i in range(WATCHLIST_MAX):
        assert await lists.add("tg:9", f"C{i}/USDT") == "added"
    assert await lists.add("tg:9", "C0/USDT") == "already"
    assert await lists.add("tg:9", "EXTRA/USDT") == "chat_full"
    assert await lists.count() == 1 + WATCHLIST_MAX
    assert await lists.add("tg:10", "EXTRA/USDT") == "added"


async def test_one_batched_request_covers_defaults_and_watched_symbols(
    redis: Redis, prefix: str
) -> None:
    """Real ccxt against the fake Binance: still one ticker request per poll."""
    async with FakeBinance(history_days=60) as binance, FakeYahoo() as yahoo:
        exchange = ExchangeChain([CcxtExchange("binance", api_url=binance.url)])
        settings = Settings(_env_file=None, key_prefix=prefix, http_port=0)  # type: ignore[call-arg]
        app = App(settings, redis, exchange, YahooIndexFeed(yahoo.url))
        try:
            await app.poller.run_exchange_once()
            for base in ("SOL", "XRP"):
                assert (await ask(app, f"/watch add {base}")).title.startswith("👀")
            binance.clear_log()
            await app.poller.run_exchange_once()
            calls = binance.requests_to("ticker/24hr")
            assert len(calls) == 1
            asked = calls[0].query["symbols"]
            assert all(market_id(s) in asked for s in app.poller.symbols)
            assert market_id("SOL/USDT") in asked and market_id("XRP/USDT") in asked
            await app.poller.refresh_history()
            assert await app.store.daily("SOL/USDT")  # volume means for the digest board
            assert (await ask(app, "/coin XRP")).title == "XRP/USDT"
        finally:
            await app.stop()


async def test_history_of_a_new_symbol_is_fetched_without_waiting_for_the_hourly_refresh(
    redis: Redis, prefix: str
) -> None:
    application = replay_app(redis, prefix, poll_interval_seconds=0.05)
    running = asyncio.create_task(application.poller.run())
    try:
        await ask(application, "/watch add SOL")
        async with asyncio.timeout(30):  # generous: a loaded CI box; locally well under 1 s
            while not await application.store.daily("SOL/USDT"):
                await asyncio.sleep(0.05)
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await application.stop()
