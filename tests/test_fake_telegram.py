"""FakeTelegram is only useful if REAL python-telegram-bot accepts it: polling, webhooks,
buttons, edits, media, flood control, and the PTB exception for each injected error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
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

from fakes.telegram import FakeTelegram

# PTB itself reads RetryAfter.retry_after, which warns about its future timedelta type.
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning")


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
