"""The fakes are only useful if the REAL clients accept them: prove it with ccxt, aiohttp
and python-telegram-bot, and pin down how each client reacts to each injected fault.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import ccxt
import ccxt.async_support as ccxt_async
import pytest
import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
)

from fakes._data import DAY_MS
from fakes.binance import FakeBinance, point_ccxt_at
from fakes.telegram import FakeTelegram
from fakes.yahoo import FakeYahoo

# PTB itself reads RetryAfter.retry_after, which warns about its future timedelta type.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")

COINS = ["BTC/USDT", "ETH/USDT", "AVAX/USDT", "BCH/USDT", "ADA/USDT", "LINK/USDT", "HBAR/USDT"]
UA = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0 Safari/537.36"}

#: What ccxt 4.5 (binance, async) raises for each fault of FakeBinance, on fetch_ticker.
#: Note 429 -> DDoSProtection (binance.handle_errors), NOT RateLimitExceeded, and a 500
#: carrying Binance's {"code": -1001} body -> OperationFailed (the exact-code map wins).
CCXT_ERRORS: dict[int | str, type[Exception]] = {
    500: ccxt.OperationFailed,
    502: ccxt.ExchangeNotAvailable,
    503: ccxt.ExchangeNotAvailable,
    504: ccxt.RequestTimeout,
    429: ccxt.DDoSProtection,
    418: ccxt.DDoSProtection,
    451: ccxt.ExchangeNotAvailable,
    "timeout": ccxt.RequestTimeout,
    "disconnect": ccxt.ExchangeNotAvailable,
}


# ---- fixtures ------------------------------------------------------------------------------
@pytest.fixture
async def binance() -> AsyncIterator[FakeBinance]:
    async with FakeBinance(history_days=450, hang_seconds=10) as fake:
        yield fake


@pytest.fixture
async def exchange(binance: FakeBinance) -> AsyncIterator[Any]:
    ex = point_ccxt_at(ccxt_async.binance({"enableRateLimit": False, "timeout": 400}), binance.url)
    ex.timeout_on_exit = 0  # close() otherwise sleeps 250 ms for TLS shutdown we do not have
    try:
        yield ex
    finally:
        await ex.close()


@pytest.fixture
async def yahoo() -> AsyncIterator[FakeYahoo]:
    async with FakeYahoo() as fake:
        day = 86_400
        base = (int(time.time()) // day - 10) * day + 52_200
        fake.set_history("^RUT", [(base + i * day, 2400.0 + i) for i in range(10)])
        fake.append_day("^RUT", base + 3 * day, None)  # Yahoo sends null for a missing close
        yield fake


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def build_app(fake: FakeTelegram, *, rate_limiter: AIORateLimiter | None = None) -> Application:
    builder = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(f"{fake.url}/bot")
        .base_file_url(f"{fake.url}/file/bot")
    )
    if rate_limiter is not None:
        builder = builder.rate_limiter(rate_limiter)
    return builder.build()


async def pong(update: Update, context: Any) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("pong")


async def run_polling(app: Application) -> None:
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1)


async def stop_polling(app: Application) -> None:
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


# ---- Binance via real ccxt -----------------------------------------------------------------
async def test_point_ccxt_at_rewrites_every_api_url(exchange: Any, binance: FakeBinance) -> None:
    assert all(binance.url in url for url in exchange.urls["api"].values())
    assert exchange.options["fetchMarkets"]["types"] == ["spot"]


async def test_ccxt_markets_tickers_and_time(exchange: Any, binance: FakeBinance) -> None:
    markets = await exchange.load_markets()
    assert set(COINS) <= set(markets)
    link = markets["LINK/USDT"]
    assert link["active"] and link["spot"] and link["precision"]["price"] == 0.01
    assert [r.path for r in binance.requests] == ["/api/v3/exchangeInfo"]  # no fapi/dapi/sapi
    assert binance.unknown_paths == []

    binance.set_price("LINK/USDT", 9.6, change_pct=4.2, quote_volume=7.5e7)
    ticker = await exchange.fetch_ticker("LINK/USDT")
    assert ticker["last"] == 9.6 and ticker["quoteVolume"] == 7.5e7
    assert ticker["percentage"] == pytest.approx(4.2, abs=1e-3)

    binance.clear_log()
    tickers = await exchange.fetch_tickers(COINS)
    assert set(tickers) == set(COINS)
    calls = binance.requests_to("ticker/24hr")
    assert len(calls) == 1 and len(binance.requests) == 1
    assert json.loads(calls[0].query["symbols"]) == [c.replace("/", "") for c in COINS]

    server_ms = await exchange.fetch_time()
    assert abs(server_ms - time.time() * 1000) < 5_000


async def test_ccxt_ohlcv_pagination(exchange: Any, binance: FakeBinance) -> None:
    await exchange.load_markets()
    newest = await exchange.fetch_ohlcv("BTC/USDT", "1d", limit=5)
    assert len(newest) == 5 and newest[-1][4] == 97_000.0  # today's bar closes at the ticker
    first = binance.klines[("BTCUSDT", "1d")][0][0]
    rows: list[list[float]] = []
    since = first
    while True:
        page = await exchange.fetch_ohlcv("BTC/USDT", "1d", since=since, limit=200)
        rows += page
        if len(page) < 200:
            break
        since = int(page[-1][0]) + DAY_MS
    assert len(rows) == 450
    assert all(b[0] - a[0] == DAY_MS for a, b in itertools.pairwise(rows))
    starts = [
        int(r.query["startTime"]) for r in binance.requests_to("klines") if "startTime" in r.query
    ]
    assert starts == [first, first + 200 * DAY_MS, first + 400 * DAY_MS]


async def test_ccxt_unknown_symbol_is_bad_symbol(exchange: Any, binance: FakeBinance) -> None:
    await exchange.load_markets()
    binance.remove_market("HBAR/USDT")  # delisted after markets were loaded
    with pytest.raises(ccxt.BadSymbol, match="-1121"):
        await exchange.fetch_ticker("HBAR/USDT")


@pytest.mark.parametrize("mode", list(CCXT_ERRORS))
async def test_ccxt_exception_per_fault(
    mode: int | str, exchange: Any, binance: FakeBinance
) -> None:
    await exchange.load_markets()
    binance.set_outage(mode, paths="ticker/24hr")  # exchangeInfo and klines keep working
    with pytest.raises(ccxt.BaseError) as info:
        await exchange.fetch_ticker("ADA/USDT")
    assert type(info.value) is CCXT_ERRORS[mode], f"{mode}: {type(info.value).__name__}"
    if mode in (429, 418):  # the only place ccxt keeps Retry-After; the message lacks it
        assert exchange.last_response_headers.get("Retry-After") in ("2", "120")
        assert "retry-after" not in str(info.value).lower()
    assert len(await exchange.fetch_ohlcv("ADA/USDT", "1d", limit=3)) == 3
    binance.set_outage(None)
    assert (await exchange.fetch_ticker("ADA/USDT"))["last"] == 0.9


async def test_ccxt_503_with_binance_busy_body(exchange: Any, binance: FakeBinance) -> None:
    await exchange.load_markets()
    busy = '{"code":-1008,"msg":"Server is currently overloaded with other requests."}'
    binance.fail_next(1, 503, body=busy, paths="ticker")
    with pytest.raises(ccxt.ExchangeError) as info:  # the JSON code wins over HTTP 503, and
        await exchange.fetch_ticker("ADA/USDT")  # -1008 is unmapped for spot: not a NetworkError
    assert type(info.value) is ccxt.ExchangeError
    assert (await exchange.fetch_ticker("ADA/USDT"))["last"] == 0.9  # one-shot fault used up


async def test_ccxt_truncated_json_is_not_a_ccxt_error(exchange: Any, binance: FakeBinance) -> None:
    """ccxt swallows the JSON error and parses the raw text: garbage, or a plain exception."""
    await exchange.load_markets()
    binance.set_outage("truncated")
    ticker = await exchange.fetch_ticker("LINK/USDT")
    assert ticker["last"] is None and ticker["symbol"] == "LINK/USDT"  # silently empty
    with pytest.raises(AttributeError):  # not a ccxt.BaseError
        await exchange.fetch_tickers(COINS)
    candles = await exchange.fetch_ohlcv("LINK/USDT", "1d", limit=3)
    assert candles and all(c[4] is None for c in candles)  # rows built from characters
    assert await exchange.fetch_time() is None
    assert await exchange.load_markets(reload=True) == {}  # markets wiped


async def test_stop_releases_hanging_requests() -> None:
    fake = FakeBinance(hang_seconds=60)
    url = await fake.start()
    fake.set_outage("timeout")
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.get(f"{url}/api/v3/time"))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await fake.stop()  # must not wait out the 60 s hang
        assert time.monotonic() - started < 2
        try:
            resp = await asyncio.wait_for(request, 2)
            status: int | None = resp.status
            resp.release()
        except aiohttp.ClientError:
            status = None
    assert status in (None, 504)


# ---- Yahoo via aiohttp ---------------------------------------------------------------------
async def test_yahoo_chart_shape_nulls_and_user_agent(yahoo: FakeYahoo) -> None:
    url = f"{yahoo.url}/v8/finance/chart/%5ERUT"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, params={"interval": "1d", "range": "max"}, headers=UA) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "application/json"
            body = await r.json()
        async with session.get(url, params={"interval": "1d", "range": "max"}) as r:
            assert r.status == 429 and "Too Many Requests" in await r.text()
        async with session.get(f"{yahoo.url}/v8/finance/chart/NOPE", headers=UA) as r:
            assert r.status == 404
            assert (await r.json())["chart"]["error"]["code"] == "Not Found"
    assert body["chart"]["error"] is None
    result = body["chart"]["result"][0]
    assert result["meta"]["symbol"] == "^RUT" and result["meta"]["instrumentType"] == "INDEX"
    closes = result["indicators"]["quote"][0]["close"]
    assert len(result["timestamp"]) == len(closes) == 10 and closes[3] is None
    assert result["meta"]["regularMarketPrice"] == closes[-1] == 2409.0
    assert result["indicators"]["adjclose"][0]["adjclose"] == closes
    assert yahoo.requests[0].path == "/v8/finance/chart/^RUT"


async def test_yahoo_windows_and_faults(yahoo: FakeYahoo) -> None:
    url = f"{yahoo.url}/v8/finance/chart/%5ERUT"
    rows = yahoo.series["^RUT"].rows
    window = {"interval": "1d", "period1": str(rows[5][0]), "period2": str(rows[8][0])}
    async with aiohttp.ClientSession(headers=UA) as session:
        async with session.get(url, params=window) as r:
            assert [t for t in (await r.json())["chart"]["result"][0]["timestamp"]] == [
                rows[5][0],
                rows[6][0],
                rows[7][0],
            ]
        async with session.get(url, params={"interval": "1d", "range": "5d"}) as r:
            assert len((await r.json())["chart"]["result"][0]["timestamp"]) == 5
        yahoo.fail_next(1, "error_object")
        async with session.get(url, params={"range": "1mo"}) as r:
            assert r.status == 200 and (await r.json())["chart"]["result"] is None
        yahoo.fail_next(1, "truncated")
        async with session.get(url, params={"range": "1mo"}) as r:
            with pytest.raises(ValueError):
                json.loads(await r.read())
        yahoo.set_outage(429)
        async with session.get(url, params={"range": "1mo"}) as r:
            assert r.status == 429
        yahoo.set_outage(None)
        async with session.get(url, params={"range": "1mo"}) as r:
            assert r.status == 200


# ---- Telegram via real python-telegram-bot -------------------------------------------------
async def test_ptb_polling_ping_pong(tg: FakeTelegram) -> None:
    app = build_app(tg)
    app.add_handler(CommandHandler("ping", pong))
    await run_polling(app)
    try:
        tg.push_command(1001, "/ping")
        tg.push_command(-100500, "/ping@altbot_test_bot", user_id=42, chat_type="supergroup")
        await tg.wait_for(2)
    finally:
        await stop_polling(app)
    assert tg.texts_to(1001) == ["pong"] and tg.texts_to(-100500) == ["pong"]
    assert tg.messages_to(1001)[0].message_id == 2  # the user's /ping was message 1
    methods = [r.path.rsplit("/", 1)[1] for r in tg.requests]
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    assert tg.unknown_methods == [] and tg.pending_updates == [] and tg.conflicts == 0


async def test_ptb_inline_button_round_trip(tg: FakeTelegram) -> None:
    async def menu(update: Update, context: Any) -> None:
        assert update.effective_message is not None
        button = InlineKeyboardButton("Mute LINK", callback_data="mute:LINK")
        await update.effective_message.reply_text(
            "<b>LINK</b> +5%", parse_mode="HTML", reply_markup=InlineKeyboardMarkup([[button]])
        )

    async def pressed(update: Update, context: Any) -> None:
        query = update.callback_query
        assert query is not None and query.data == "mute:LINK"
        await query.answer("Muted")
        await query.edit_message_text(f"muted by {query.from_user.username}")

    app = build_app(tg)
    app.add_handler(CommandHandler("coin", menu))
    app.add_handler(CallbackQueryHandler(pressed))
    await run_polling(app)
    try:
        tg.push_command(1001, "/coin LINK")
        (reply,) = await tg.wait_for(1, chat_id=1001)
        assert reply.rendered == "LINK +5%" and reply.parse_mode == "HTML"
        tg.push_callback(1001, "mute:LINK", message_id=reply.message_id or 0)
        await tg.wait_for(lambda sent: any(m.method == "editMessageText" for m in sent))
    finally:
        await stop_polling(app)
    assert [(m.method, m.rendered) for m in tg.messages_to(1001)] == [
        ("sendMessage", "LINK +5%"),
        ("answerCallbackQuery", "Muted"),
        ("editMessageText", "muted by alice"),
    ]
    assert "reply_markup" not in tg.messages[(1001, reply.message_id or 0)]


async def test_ptb_rate_limiter_retries_429_once(tg: FakeTelegram) -> None:
    app = build_app(tg, rate_limiter=AIORateLimiter(max_retries=3))
    app.add_handler(CommandHandler("ping", pong))
    await run_polling(app)
    try:
        tg.fail_next(1, 429, retry_after=1, methods="sendMessage")
        started = time.monotonic()
        tg.push_command(1001, "/ping")
        await tg.wait_for(1, timeout=5)
        assert time.monotonic() - started >= 1.0  # PTB slept retry_after + 0.1 s
        await asyncio.sleep(0.2)
    finally:
        await stop_polling(app)
    assert tg.texts_to(1001) == ["pong"] and tg.too_many_requests == 1
    assert len(tg.requests_to("sendMessage")) == 2


async def test_ptb_error_mapping(tg: FakeTelegram) -> None:
    bot = telegram.Bot(tg.token, base_url=f"{tg.url}/bot")
    async with bot:
        tg.fail_next(1, 429, retry_after=7)
        with pytest.raises(telegram.error.RetryAfter) as retry:
            await bot.send_message(1, "x")
        assert "Retry in 7 seconds" in str(retry.value)  # .retry_after warns (int -> timedelta)
        tg.block_chat(2)
        with pytest.raises(telegram.error.Forbidden, match="blocked by the user"):
            await bot.send_message(2, "x")
        tg.block_chat(3, 400)
        with pytest.raises(telegram.error.BadRequest, match="Chat not found"):
            await bot.send_message(3, "x")
        tg.migrate_chat(-4, -1004)
        with pytest.raises(telegram.error.ChatMigrated) as migrated:
            await bot.send_message(-4, "x")
        assert migrated.value.new_chat_id == -1004
        with pytest.raises(telegram.error.BadRequest, match="Message is too long"):
            await bot.send_message(5, "x" * 4097)
        with pytest.raises(telegram.error.BadRequest, match="Can't parse entities"):
            await bot.send_message(5, "LINK up 5.2%", parse_mode="MarkdownV2")
        with pytest.raises(telegram.error.BadRequest, match="Button_data_invalid"):
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="y" * 65)]])
            await bot.send_message(5, "x", reply_markup=markup)
        assert (await bot.send_message(5, "*LINK* up 5\\.2%", parse_mode="MarkdownV2")).text == (
            "LINK up 5.2%"
        )
        with pytest.raises(telegram.error.EndPointNotFound):
            await bot.do_api_request("noSuchMethod")
    assert tg.unknown_methods == ["noSuchMethod"]
    with pytest.raises(telegram.error.InvalidToken):
        async with telegram.Bot("1:wrong", base_url=f"{tg.url}/bot") as wrong:
            await wrong.get_me()


async def test_ptb_buttons_edits_photos_members(tg: FakeTelegram) -> None:
    bot = telegram.Bot(tg.token, base_url=f"{tg.url}/bot")
    async with bot:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Mute", callback_data="mute:LINK")]])
        msg = await bot.send_message(
            1001, "<b>LINK</b> +5%", parse_mode="HTML", reply_markup=keyboard
        )
        assert msg.text == "LINK +5%" and msg.reply_markup == keyboard
        edited = await bot.edit_message_text("muted", chat_id=1001, message_id=msg.message_id)
        assert isinstance(edited, telegram.Message) and edited.text == "muted"
        with pytest.raises(telegram.error.BadRequest, match="Message is not modified"):
            await bot.edit_message_text("muted", chat_id=1001, message_id=msg.message_id)
        photo = await bot.send_photo(1001, b"\x89PNG\r\n fake chart", caption="RUT")
        assert photo.photo and photo.caption == "RUT"
        await bot.send_document(1001, b"csv,data", filename="prices.csv")
        for status, cls in [
            ("creator", telegram.ChatMemberOwner),
            ("administrator", telegram.ChatMemberAdministrator),
            ("restricted", telegram.ChatMemberRestricted),
            ("left", telegram.ChatMemberLeft),
            ("kicked", telegram.ChatMemberBanned),
        ]:
            tg.set_member_status(-100, 7, status)
            assert isinstance(await bot.get_chat_member(-100, 7), cls)
        assert (await bot.get_chat(-100)).type == "group"
        await bot.send_chat_action(1001, "typing")
        await bot.set_my_commands([("coin", "Price of a coin")])
        assert [c.command for c in await bot.get_my_commands()] == ["coin"]
    assert [m.method for m in tg.messages_to(1001)] == [
        "sendMessage",
        "editMessageText",
        "sendPhoto",
        "sendDocument",
    ]
    assert tg.sent[2].photo == b"\x89PNG\r\n fake chart" and tg.sent[3].document == b"csv,data"
    assert tg.sent[0].reply_markup == keyboard.to_dict() and tg.chat_actions == [(1001, "typing")]


async def test_long_poll_offset_and_conflict(tg: FakeTelegram) -> None:
    url = f"{tg.url}/bot{tg.token}/getUpdates"
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.post(url, data={"timeout": "0.3"}) as r:
            assert (await r.json())["result"] == []
        assert 0.25 < time.monotonic() - started < 1.5
        asyncio.get_running_loop().call_later(0.1, tg.push_text, 7, "hello")
        started = time.monotonic()
        async with session.post(url, json={"timeout": 5}) as r:
            updates = (await r.json())["result"]
        assert time.monotonic() - started < 1 and updates[0]["message"]["text"] == "hello"
        assert "entities" not in updates[0]["message"]
        async with session.post(url, data={"offset": str(updates[0]["update_id"] + 1)}) as r:
            assert (await r.json())["result"] == [] and tg.pending_updates == []
        first = asyncio.create_task(session.post(url, data={"timeout": "5"}))
        await asyncio.sleep(0.1)
        async with session.post(url, data={"timeout": "0"}):
            pass
        async with await first as r:
            assert r.status == 409 and "terminated by other getUpdates" in (await r.text())
    assert tg.conflicts == 1


async def test_webhook_delivery_and_getupdates_conflict(tg: FakeTelegram) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
        received.append((secret, await request.json()))
        return web.Response(status=200 if secret == "s3cret" else 403)

    app = web.Application()
    app.router.add_post("/tg", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with telegram.Bot(tg.token, base_url=f"{tg.url}/bot") as bot:
            await bot.set_webhook(f"http://127.0.0.1:{port}/tg", secret_token="s3cret")
            assert (await bot.get_webhook_info()).url.endswith("/tg")
            with pytest.raises(telegram.error.Conflict):
                await bot.get_updates()
        assert await tg.deliver_via_webhook(tg.command_update(1001, "/coin LINK")) == 200
        assert await tg.deliver_via_webhook(tg.text_update(1001, "x"), secret="nope") == 403
    finally:
        await runner.cleanup()
    assert received[0][0] == "s3cret"
    assert received[0][1]["message"]["entities"][0] == {
        "type": "bot_command",
        "offset": 0,
        "length": 5,
    }


async def test_flood_control(tg: FakeTelegram) -> None:
    tg.enforce_limits = True
    async with telegram.Bot(tg.token, base_url=f"{tg.url}/bot") as bot:
        for _ in range(3):  # burst of 3 allowed per private chat
            await bot.send_message(1, "x")
        with pytest.raises(telegram.error.RetryAfter):
            await bot.send_message(1, "x")
        for _ in range(20):
            await bot.send_message(-200, "x")
        with pytest.raises(telegram.error.RetryAfter):  # 20 per minute per group
            await bot.send_message(-200, "x")
        tg.reset_limits()
        results = await asyncio.gather(
            *(bot.send_message(100 + i, "x") for i in range(31)), return_exceptions=True
        )
        assert sum(isinstance(r, telegram.error.RetryAfter) for r in results) == 1  # 30/s
    assert tg.too_many_requests == 3 and len(tg.sent) == 3 + 20 + 30


async def test_wait_for_times_out_with_context(tg: FakeTelegram) -> None:
    with pytest.raises(TimeoutError, match="wait_for"):
        await tg.wait_for(1, timeout=0.2)


def test_main_prints_env_lines() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fakes", "--days", "30"],
        input="say 1001 /coin LINK\nprice LINK 9.6\nquit\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    keys = [line.split("=", 1)[0] for line in proc.stdout.splitlines() if "=" in line][:4]
    assert keys == ["EXCHANGE_API_URL", "INDEX_API_URL", "TELEGRAM_API_URL", "TELEGRAM_BOT_TOKEN"]
    assert "<< update" in proc.stdout and "LINK/USDT last=9.6" in proc.stdout
