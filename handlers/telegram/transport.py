"""Telegram transport (python-telegram-bot): updates in, HTML replies out.

It runs with PTB's manual lifecycle (`initialize`, `start`, then long polling or a
webhook) so it shares the one asyncio loop with the poller and the engine. No
business logic here: every command and button goes to the command core; this
module only knows Telegram's ways — who is a group admin, which commands are
addressed to this bot, the optional allow-list, and how to answer a button press.
Sending, flood limits and error mapping live in `handlers.telegram.delivery`; replies
go through per-chat lanes (`handlers.chat.reply_lanes`), so an update handler never waits
for its chat's send spacing while holding one of the concurrent-update slots.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from typing import Any

from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    CallbackQuery,
    Chat,
    Update,
    User,
)
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from alerts.domain.chat import ChatAddress
from alerts.domain.delivery import SendClass
from alerts.storage.send_budget import SendBudget
from handlers.chat.core import CommandCore
from handlers.chat.reply import Reply, Request
from handlers.chat.reply_lanes import ReplyLanes
from handlers.telegram.delivery import (
    COALESCE,
    FloodLimiter,
    TelegramSender,
)
from handlers.telegram.webhook import ALLOWED_UPDATES, TelegramWebhook

log = logging.getLogger(__name__)

ADMIN_CACHE_SECONDS = 60.0
ADMIN_CACHE_KEPT = 10_000
CONCURRENT_UPDATES = 32  # updates handled at once; replies wait for send slots in lanes
ANSWER_CHARS = 200  # Telegram's limit for a callback answer
STALE_BUTTON = "That button is no longer valid."
NOT_ALLOWED = "Sorry, this altbot is private: this chat is not on its allow-list."


def chat_key(chat_id: int) -> str:
    return str(ChatAddress.telegram(chat_id))


class TelegramTransport:
    """Owns the PTB Application; `start`/`stop` are called by the composition root."""

    def __init__(
        self,
        core: CommandCore,
        token: str,
        api_url: str,
        *,
        allowed_chats: Collection[int] = (),
        admin_chats: Collection[int] = (),
        webhook_url: str | None = None,
        limiter: FloodLimiter | None = None,
        budget: SendBudget | None = None,
        paid_broadcast: bool = False,
    ) -> None:
        self.core = core
        self.limiter = limiter or FloodLimiter(budget=budget)
        base = api_url.rstrip("/")
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .rate_limiter(self.limiter)
            .concurrent_updates(CONCURRENT_UPDATES)
            .build()
        )
        commands = filters.COMMAND & filters.UpdateType.MESSAGE  # no edits, no channel posts
        self.app.add_handler(MessageHandler(commands, self._on_command))
        self.app.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, self._on_migrate))
        self.app.add_handler(CallbackQueryHandler(self._on_callback))
        self.app.add_error_handler(self._on_error)
        self.sender = TelegramSender(self.app.bot, paid_broadcast=paid_broadcast)
        self.replies: ReplyLanes[int, Reply] = ReplyLanes(self._send)
        self.coalesce = COALESCE
        self.allowed = frozenset(allowed_chats)
        self.admins = frozenset(admin_chats)
        self.webhook = TelegramWebhook(self.app, webhook_url) if webhook_url else None
        self._webhook_mounted = False
        self.polls_updates = True  # False in webhook mode: updates arrive over HTTP
        self._admin_cache: dict[tuple[int, int], tuple[float, bool]] = {}
        self._refused: set[int] = set()

    # ---- lifecycle -------------------------------------------------------------------------
    def mount_webhook(self, http_app: web.Application) -> bool:
        """Serve the webhook route on the app's HTTP server (before it starts)."""
        if self.webhook is None:
            return False
        self.webhook.mount(http_app)
        self._webhook_mounted = True
        self.polls_updates = False
        return True

    async def start(self, *, polling: bool = True) -> None:
        await self.app.initialize()
        await self._register_menu()
        await self.app.start()
        if self.webhook is not None and self._webhook_mounted:
            await self.webhook.register()
        elif polling:
            await self.start_polling()
        log.info("telegram transport started as @%s", self.app.bot.username)

    async def start_polling(self) -> None:
        """Long-poll getUpdates; only one process per token may do this (the leader)."""
        if self.app.updater is not None and not self.app.updater.running:
            await self.app.updater.start_polling(
                poll_interval=0.0, timeout=10, allowed_updates=ALLOWED_UPDATES
            )

    async def stop_polling(self) -> None:
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()

    async def stop(self) -> None:
        await self.stop_polling()
        await self.replies.close()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    async def _register_menu(self) -> None:
        """The `/` menu: public commands everywhere, plus admin ones in admin chats."""
        specs = self.core.menu()
        public = [BotCommand(s.name, s.summary[:256]) for s in specs if not s.operator_only]
        scopes: list[Any] = [BotCommandScopeAllPrivateChats(), BotCommandScopeAllGroupChats()]
        try:
            for scope in scopes:
                await self.app.bot.set_my_commands(public, scope=scope)
        except TelegramError as exc:
            log.warning("could not set the telegram command menu: %s", exc)
        every = [BotCommand(s.name, s.summary[:256]) for s in specs]
        for chat_id in self.admins:
            try:
                await self.app.bot.set_my_commands(every, scope=BotCommandScopeChat(chat_id))
            except TelegramError as exc:  # e.g. the admin never opened a chat with the bot
                log.info("no admin menu for chat %s: %s", chat_id, exc)

    # ---- who may do what -------------------------------------------------------------------
    def _allowed(self, chat_id: int, user_id: int) -> bool:
        if not self.allowed:
            return True
        return chat_id in self.allowed or chat_id in self.admins or user_id in self.admins

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        """Group admin check via getChatMember, cached briefly to spare the API."""
        now = time.monotonic()
        cached = self._admin_cache.get((chat_id, user_id))
        if cached and now - cached[0] < ADMIN_CACHE_SECONDS:
            return cached[1]
        try:
            member = await self.app.bot.get_chat_member(chat_id, user_id)
        except TelegramError as exc:  # unknown: refuse changes this time, ask again next time
            log.warning("getChatMember(%s, %s) failed: %s", chat_id, user_id, exc)
            return False
        is_admin = member.status in ("administrator", "creator")
        if len(self._admin_cache) >= ADMIN_CACHE_KEPT:
            self._admin_cache = {
                k: v for k, v in self._admin_cache.items() if now - v[0] < ADMIN_CACHE_SECONDS
            }
        self._admin_cache[(chat_id, user_id)] = (now, is_admin)
        return is_admin

    async def _request(
        self, chat: Chat, user: User, text: str, *, as_group: bool = False
    ) -> Request:
        """`as_group`: an anonymous admin posting as the group itself (only admins can)."""
        is_group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        is_admin = as_group or not is_group or await self._is_admin(chat.id, user.id)
        return Request(chat_key(chat.id), chat_key(user.id), text, is_group, is_admin, "telegram")

    def _addressed_to_me(self, text: str, is_group: bool) -> bool:
        """`/coin@otherbot` is not for us; in groups, unknown bare commands are not either."""
        head = text.split(maxsplit=1)[0] if text.strip() else ""
        name, _, target = head[1:].partition("@")
        if target:
            return target.lower() == (self.app.bot.username or "").lower()
        return not is_group or name.lower() in self.core.commands

    # ---- updates ---------------------------------------------------------------------------
    async def _on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, chat, user = update.message, update.effective_chat, update.effective_user
        if message is None or not message.text or chat is None or user is None:
            return
        is_group = chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)
        if not self._addressed_to_me(message.text, is_group):
            return
        if not self._allowed(chat.id, user.id):
            if chat.id not in self._refused:  # one polite refusal per chat, then silence
                self._refused.add(chat.id)
                self.replies.put(chat.id, Reply(NOT_ALLOWED, tone="warn"))
            return
        as_group = message.sender_chat is not None and message.sender_chat.id == chat.id
        reply = await self.core.handle(
            await self._request(chat, user, message.text, as_group=as_group)
        )
        if reply is not None:
            self.replies.put(chat.id, reply)

    async def _on_migrate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A group became a supergroup: its alerts, subscriptions, … follow it to the new id."""
        message, move = update.message, self.core.services.migrate_chat
        if message is None or move is None:
            return
        if message.migrate_to_chat_id:
            old, new = message.chat.id, message.migrate_to_chat_id
        elif message.migrate_from_chat_id:
            old, new = message.migrate_from_chat_id, message.chat.id
        else:
            return
        moved = await move(chat_key(old), chat_key(new))
        log.info("telegram chat %s became %s: %d alerts moved", old, new, moved)

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query, chat, user = update.callback_query, update.effective_chat, update.effective_user
        if query is None:
            return
        if chat is None or user is None or not query.data:
            await self._answer(query, STALE_BUTTON)
            return
        if not self._allowed(chat.id, user.id):
            await self._answer(query, NOT_ALLOWED)
            return
        reply = await self.core.handle_callback(
            await self._request(chat, user, query.data), query.data
        )
        if reply.tone == "error":  # a toast only the presser sees; no message in the chat
            await self._answer(query, " ".join([reply.title, *reply.lines]))
            return
        await self._answer(query, None)
        self.replies.put(chat.id, reply)

    async def _answer(self, query: CallbackQuery, text: str | None) -> None:
        try:
            await query.answer(text[:ANSWER_CHARS] if text else None)
        except TelegramError as exc:  # e.g. "query is too old": the spinner already stopped
            log.debug("could not answer a callback: %s", exc)

    async def _send(self, chat_id: int, reply: Reply) -> None:
        """Answer a user; a failure is logged (the user may have blocked us meanwhile)."""
        try:
            await self.sender.send(chat_id, reply)
        except TelegramError as exc:
            log.warning("could not answer telegram chat %s: %s", chat_id, exc)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed", exc_info=context.error)

    # ---- pushes ----------------------------------------------------------------------------
    async def send(self, chat_id: int, reply: Reply) -> None:
        await self.sender.send(chat_id, reply)

    async def push(
        self, chat: str, reply: Reply, send_class: SendClass = SendClass.PERSONAL
    ) -> None:
        """Deliver a pushed notification to `tg:<id>` (see `TelegramSender.push`)."""
        await self.sender.push(chat, reply, send_class)
