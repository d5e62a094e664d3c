"""Telegram transport (python-telegram-bot): formats replies as HTML and sends them.

It runs with PTB's manual lifecycle (`initialize`, `start`, `updater.start_polling`)
so it shares the one asyncio loop with the poller and the engine. No business
logic here: every text goes to the command core.
"""

from __future__ import annotations

import html
import logging
import time
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from handlers.core import CommandCore
from handlers.reply import Reply, Request

log = logging.getLogger(__name__)

ADMIN_CACHE_SECONDS = 60.0
MAX_MESSAGE_CHARS = 4096
MAX_CAPTION_CHARS = 1024


def render_html(reply: Reply) -> str:
    """Telegram HTML with every piece of user-visible text escaped."""
    parts = [f"<b>{html.escape(reply.title)}</b>"]
    parts.extend(f"{html.escape(k)}: <b>{html.escape(v)}</b>" for k, v in reply.fields)
    parts.extend(html.escape(line) for line in reply.lines)
    if reply.footer:
        parts.append(f"<i>{html.escape(reply.footer)}</i>")
    return "\n".join(parts)


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split on line boundaries so no chunk exceeds Telegram's limit (4096)."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current or not chunks:
        chunks.append(current)
    return chunks


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in reply.buttons]
    )


def chat_key(chat_id: int) -> str:
    return f"tg:{chat_id}"


class TelegramTransport:
    """Owns the PTB Application; `start`/`stop` are called by the composition root."""

    def __init__(self, core: CommandCore, token: str, api_url: str) -> None:
        self.core = core
        base = api_url.rstrip("/")
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .rate_limiter(AIORateLimiter(max_retries=5))
            .build()
        )
        self.app.add_handler(MessageHandler(filters.COMMAND, self._on_command))
        self.app.add_handler(CallbackQueryHandler(self._on_callback))
        self._admin_cache: dict[tuple[int, int], tuple[float, bool]] = {}

    async def start(self, *, polling: bool = True) -> None:
        await self.app.initialize()
        await self._register_menu()
        await self.app.start()
        if polling and self.app.updater is not None:
            await self.app.updater.start_polling(poll_interval=0.0, timeout=10, drop_pending_updates=False)
        log.info("telegram transport started as @%s", self.app.bot.username)

    async def stop(self) -> None:
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _register_menu(self) -> None:
        commands = [BotCommand(s.name, s.summary[:256]) for s in self.core.menu() if not s.admin_only]
        for scope in (BotCommandScopeAllPrivateChats(), BotCommandScopeAllGroupChats()):
            await self.app.bot.set_my_commands(commands, scope=scope)

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        """Group admin check via getChatMember, cached briefly to spare the API."""
        now = time.monotonic()
        cached = self._admin_cache.get((chat_id, user_id))
        if cached and now - cached[0] < ADMIN_CACHE_SECONDS:
            return cached[1]
        member = await self.app.bot.get_chat_member(chat_id, user_id)
        is_admin = member.status in ("administrator", "creator")
        self._admin_cache[(chat_id, user_id)] = (now, is_admin)
        return is_admin

    async def _request(self, update: Update, text: str) -> Request | None:
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None:
            return None
        is_group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        is_admin = await self._is_admin(chat.id, user.id) if is_group else True
        return Request(chat_key(chat.id), f"tg:{user.id}", text, is_group, is_admin, "telegram")

    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        req = await self._request(update, message.text)
        if req is None:
            return
        reply = await self.core.handle(req)
        if reply is not None:
            await self.send(message.chat_id, reply)

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        req = await self._request(update, query.data or "")
        if req is None or not query.data:
            await query.answer("That button is no longer valid.")
            return
        reply = await self.core.handle_callback(req, query.data)
        await query.answer(reply.title[:200] if reply.tone == "error" else None)
        if update.effective_chat is not None:
            await self.send(update.effective_chat.id, reply)

    async def send(self, chat_id: int, reply: Reply) -> None:
        """Send a reply: a photo with caption when it has an image, else split text."""
        text = render_html(reply)
        markup = keyboard(reply)
        if reply.image:
            caption = text if len(text) <= MAX_CAPTION_CHARS else f"<b>{html.escape(reply.title)}</b>"
            await self.app.bot.send_photo(
                chat_id, reply.image, caption=caption, parse_mode=ParseMode.HTML, reply_markup=markup
            )
            if caption == text:
                return
        chunks = split_message(text)
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            await self.app.bot.send_message(
                chat_id,
                chunk,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None,
                disable_web_page_preview=True,
            )

    async def push(self, chat: str, reply: Reply) -> None:
        """Deliver a pushed notification to `tg:<id>`."""
        await self.send(int(chat.split(":", 1)[1]), reply)
