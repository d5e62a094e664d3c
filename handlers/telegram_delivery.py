"""Sending to Telegram within its flood limits, and mapping its errors to delivery outcomes.

Telegram's limits (Bot API FAQ): about 30 messages/s overall, about 1 message/s to one
chat, 20 messages/minute to one group. `FloodLimiter` is a PTB rate limiter built on
aiolimiter's leaky buckets with small capacities (no bursts past the limits); only
sending methods are throttled. On a 429 it holds every send for the `retry_after`
Telegram gave and resends, so nothing is dropped.
"""

from __future__ import annotations

import asyncio
import html
import logging
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from alerts.outbox import Coalesce
from handlers.reply import ChatMoved, ChatUnreachable, DeliveryDeferred, Reply

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4096
MAX_CAPTION_CHARS = 1024
# Any 1 s window holds at most burst + rate = 30.2 sends, so never a 31st; the burst of 2
# absorbs timer lateness, so the sustained rate really is 28.2/s.
OVERALL_PER_SECOND = 28.2
OVERALL_BURST = 2
CHAT_SECONDS_PER_MESSAGE = 1.0
GROUP_SECONDS_PER_MESSAGE = 3.1  # 60 s / 20, rounded up: never 21 in one minute
MAX_RETRIES = 8  # 429s retried inside the limiter before the job is deferred
CHAT_LIMITERS_KEPT = 1024
LIMITED_METHODS = frozenset(
    {
        "sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "sendAnimation",
        "sendVideo", "sendAudio", "sendVoice", "copyMessage", "forwardMessage",
    }
)  # fmt: skip
# A chat's first alert goes out at once; its messages are >= 3 s apart (within 1/s per
# chat and 20/min per group) and alerts arriving meanwhile join the next one.
COALESCE = Coalesce(gap=3.0)
# 400s that stay true until someone acts (unblocks, re-adds the bot, grants rights)
PERMANENT_400 = (
    "chat not found", "peer_id_invalid", "user not found", "not enough rights",
    "have no rights", "chat_write_forbidden", "user is deactivated",
    "group chat was deactivated", "bot is not a member",
)  # fmt: skip

RequestCallback = Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]]


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait Telegram asked for, without PTB's int-vs-timedelta deprecation noise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class FloodLimiter(BaseRateLimiter[int]):
    """PTB rate limiter on aiolimiter buckets: the bot overall, each chat, each group.

    Unlike PTB's `AIORateLimiter`, a 429 pause holds requests *before* they take a slot
    (a request that got a slot during the pause queues again), so the pause is not
    followed by a burst that trips the limit again. Only sending methods are limited.
    """

    def __init__(
        self,
        *,
        overall_per_second: float = OVERALL_PER_SECOND,
        overall_burst: int = OVERALL_BURST,
        chat_seconds: float = CHAT_SECONDS_PER_MESSAGE,
        group_seconds: float = GROUP_SECONDS_PER_MESSAGE,
        max_retries: int = MAX_RETRIES,
        on_retry_after: Callable[[float], None] | None = None,
    ) -> None:
        self._overall = AsyncLimiter(overall_burst, overall_burst / overall_per_second)
        self._chat_seconds = chat_seconds
        self._group_seconds = group_seconds
        self._chats: dict[int | str, AsyncLimiter] = {}
        self._open = asyncio.Event()
        self._open.set()
        self._resume_at = 0.0
        self.max_retries = max_retries
        self.on_retry_after = on_retry_after  # e.g. a metrics counter
        self.retry_afters = 0

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def _chat_limiter(self, chat_id: int | str) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            if len(self._chats) >= CHAT_LIMITERS_KEPT:  # forget idle chats (a full bucket)
                self._chats = {c: lim for c, lim in self._chats.items() if not lim.has_capacity()}
            group = isinstance(chat_id, str) or chat_id < 0
            seconds = self._group_seconds if group else self._chat_seconds
            limiter = self._chats[chat_id] = AsyncLimiter(1, seconds)
        return limiter

    async def _slot(self, chat: AsyncLimiter | None) -> None:
        """Wait for this chat's turn and the bot's; a 429 pause in between means queue again."""
        while True:
            await self._open.wait()
            if chat is not None:
                await chat.acquire()
            await self._overall.acquire()
            if self._open.is_set():
                return

    async def _pause(self, seconds: float) -> None:
        """Hold every send for the `retry_after` Telegram gave (its limits are per bot)."""
        loop = asyncio.get_running_loop()
        self._resume_at = max(self._resume_at, loop.time() + seconds)
        self._open.clear()
        try:
            await asyncio.sleep(self._resume_at - loop.time())
        except asyncio.CancelledError:
            self._open.set()
            raise
        if loop.time() >= self._resume_at - 0.01:  # else a later 429 extended the pause
            self._open.set()

    async def process_request(
        self,
        callback: RequestCallback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        if endpoint not in LIMITED_METHODS:
            return await callback(*args, **kwargs)
        chat_id = data.get("chat_id")
        key = _as_int(chat_id) if _as_int(chat_id) is not None else chat_id
        chat = self._chat_limiter(key) if isinstance(key, int | str) else None
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        attempt = 0
        while True:
            await self._slot(chat)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = retry_after_seconds(exc)
                self.retry_afters += 1
                if self.on_retry_after is not None:
                    self.on_retry_after(wait)
                if attempt >= retries:
                    raise
                attempt += 1
                log.info("telegram 429 on %s: holding all sends for %.1f s", endpoint, wait)
                await self._pause(wait)


def _as_int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return None


def _html_lines(reply: Reply) -> list[tuple[str, str, str]]:
    """(HTML, plain text, wrapping tag) of each line of a reply; all user text escaped."""
    e = html.escape
    rows = [(f"<b>{e(reply.title)}</b>", reply.title, "b")]
    rows.extend((f"{e(k)}: <b>{e(v)}</b>", f"{k}: {v}", "") for k, v in reply.fields)
    rows.extend((e(line), line, "") for line in reply.lines)
    if reply.footer:
        rows.append((f"<i>{e(reply.footer)}</i>", reply.footer, "i"))
    return rows


def render_html(reply: Reply) -> str:
    """Telegram HTML with every piece of user-visible text escaped."""
    return "\n".join(markup for markup, _, _ in _html_lines(reply))


def render_chunks(reply: Reply, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """The reply as messages of at most `limit` chars, split between lines.

    A line too long for one message is cut in its plain text and each piece escaped
    (and re-tagged) on its own, so no chunk ends inside a tag or an entity.
    """
    lines: list[str] = []
    for markup, plain, tag in _html_lines(reply):
        lines.extend([markup] if len(markup) <= limit else _cut(plain, tag, limit))
    return split_message("\n".join(lines), limit)


def _cut(plain: str, tag: str, limit: int) -> list[str]:
    budget = limit - 2 * len(tag) - 5
    pieces = []
    while plain:
        n = min(len(plain), budget)
        while len(escaped := html.escape(plain[:n])) > budget:
            n = max(1, n * budget // len(escaped))
        pieces.append(f"<{tag}>{escaped}</{tag}>" if tag else escaped)
        plain = plain[n:]
    return pieces


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
        [
            [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
            for row in reply.buttons
        ]
    )


class TelegramSender:
    """Sends replies to chat ids; `push` turns Telegram's answers into outbox outcomes."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, reply: Reply) -> None:
        """A photo with caption when the reply has an image, else text split at 4096."""
        markup = keyboard(reply)
        if reply.image:
            text = render_html(reply)
            caption = (
                text if len(text) <= MAX_CAPTION_CHARS else f"<b>{html.escape(reply.title)}</b>"
            )
            await self.bot.send_photo(
                chat_id,
                reply.image,
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
            if caption == text:
                return
        chunks = render_chunks(reply)
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            try:
                await self.bot.send_message(
                    chat_id,
                    chunk,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup if last else None,
                    disable_web_page_preview=True,
                )
            except BadRequest as exc:
                if "parse entities" not in exc.message.lower():
                    raise
                log.error("telegram refused our HTML (%s); sending plain text", exc.message)
                plain = reply.plain_text() if len(chunks) == 1 else chunk
                await self.bot.send_message(chat_id, plain[:MAX_MESSAGE_CHARS], reply_markup=markup)

    async def push(self, chat: str, reply: Reply) -> None:
        """Deliver a notification to `tg:<id>`, classifying Telegram's answer once, here.

        Permanent — 403 (blocked, kicked, deactivated) and the 400s of `PERMANENT_400` —
        raise `ChatUnreachable` (dead letter, chat paused); a group that became a
        supergroup raises `ChatMoved`; transient — flood limits still hit after the
        limiter's retries, other 400s, 5xx, timeouts, network — raise `DeliveryDeferred`
        (retried a few times with backoff).
        """
        chat_id = _as_int(chat.split(":", 1)[1] if ":" in chat else None)
        if chat_id is None:
            raise ChatUnreachable(f"not a Telegram chat key: {chat!r}")
        try:
            await self.send(chat_id, reply)
        except ChatMigrated as exc:  # a group became a supergroup: same people, new id
            raise ChatMoved(f"tg:{exc.new_chat_id}") from exc
        except Forbidden as exc:
            raise ChatUnreachable(exc.message) from exc
        except BadRequest as exc:
            if any(marker in exc.message.lower() for marker in PERMANENT_400):
                raise ChatUnreachable(exc.message) from exc
            raise DeliveryDeferred(f"telegram refused: {exc.message}") from exc
        except RetryAfter as exc:
            raise DeliveryDeferred("telegram flood limit", retry_after_seconds(exc)) from exc
        except NetworkError as exc:
            raise DeliveryDeferred(f"telegram unreachable: {exc.message}") from exc
