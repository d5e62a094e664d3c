"""Sending to Telegram within its flood limits, and mapping its errors to delivery outcomes.

Telegram's limits (Bot API FAQ): about 30 messages/s overall, about 1 message/s to one
chat, 20 messages/minute to one group — per bot token, however many replicas send.
`FloodLimiter` is a PTB rate limiter: every send takes a slot from the token's shared
budget in Redis (alerts/storage/send_budget.py); only sending methods are throttled. On a
429 it holds every send, in every replica, for the `retry_after` Telegram gave and resends,
so nothing is dropped. Small aiolimiter buckets per process are the fallback while Redis
refuses the budget's writes (one process then keeps to the whole budget on its own).
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
import warnings
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from redis.exceptions import RedisError
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from alerts.domain.chat import ChatAddress, Transport, push_target
from alerts.domain.delivery import TELEGRAM, SendClass
from alerts.domain.errors import ChatMoved, ChatUnreachable, DeliveryDeferred
from alerts.storage.outbox_jobs import Coalesce
from alerts.storage.send_budget import SendBudget
from handlers.chat.reply import Reply

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 4096
MAX_CAPTION_CHARS = 1024
# The local fallback buckets keep the same limits as the shared budget (alerts/domain).
OVERALL_PER_SECOND = TELEGRAM.per_second
OVERALL_BURST = math.ceil(TELEGRAM.burst)
CHAT_SECONDS_PER_MESSAGE = TELEGRAM.chat_seconds
GROUP_SECONDS_PER_MESSAGE = TELEGRAM.group_seconds
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
    """PTB rate limiter: the token's shared budget (the bot overall, each chat, each group).

    Unlike PTB's `AIORateLimiter`, a 429 pause holds requests *before* they take a slot
    (a request that got a slot during the pause queues again), so the pause is not
    followed by a burst that trips the limit again. Only sending methods are limited.
    A request carrying `allow_paid_broadcast` spends the paid-broadcast budget.
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
        budget: SendBudget | None = None,
    ) -> None:
        self.budget = budget  # None: this process alone keeps to the limits (demo, tests)
        self._budget_down = False
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
            group = is_group(chat_id)
            seconds = self._group_seconds if group else self._chat_seconds
            limiter = self._chats[chat_id] = AsyncLimiter(1, seconds)
        return limiter

    async def _slot(self, key: int | str | None, paid: bool) -> None:
        """Wait for this chat's turn and the bot's; a 429 pause in between means queue again."""
        chat = self._chat_limiter(key) if key is not None else None
        while True:
            await self._open.wait()
            if chat is not None:
                await chat.acquire()
            if not await self._shared_slot(key, paid):
                await self._overall.acquire()
            if self._open.is_set():
                return

    async def _shared_slot(self, key: int | str | None, paid: bool) -> bool:
        """A slot of the token's budget in Redis; False when there is none to ask."""
        if self.budget is None:
            return False
        send_class = SendClass.BROADCAST if paid else SendClass.PERSONAL
        chat = None if key is None else str(key)
        try:
            await self.budget.acquire(chat, group=is_group(key), send_class=send_class)
        except RedisError as exc:
            if not self._budget_down:
                log.warning("shared send budget unavailable (%s); limiting locally", exc)
            self._budget_down = True
            return False
        if self._budget_down:
            log.info("shared send budget is back")
        self._budget_down = False
        return True

    async def _pause(self, seconds: float) -> None:
        """Hold every send for the `retry_after` Telegram gave (its limits are per bot)."""
        if self.budget is not None:
            try:
                await self.budget.pause(seconds)  # every other replica holds too
            except RedisError as exc:
                log.warning("could not share a telegram 429 pause: %s", exc)
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
        paid = bool(data.get("allow_paid_broadcast"))
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        attempt = 0
        while True:
            await self._slot(key if isinstance(key, int | str) else None, paid)
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


def is_group(chat_id: int | str | None) -> bool:
    """Groups have negative ids (or an @username); private chats positive ones."""
    return isinstance(chat_id, str) or (chat_id is not None and chat_id < 0)


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
    """Sends replies to chat ids; `push` turns Telegram's answers into outbox outcomes.

    With `paid_broadcast` (TELEGRAM_PAID_BROADCAST) broadcast pushes are sent with
    `allow_paid_broadcast`: up to 1,000 messages/s, billed in Stars beyond the free 30/s.
    """

    def __init__(self, bot: Bot, *, paid_broadcast: bool = False) -> None:
        self.bot = bot
        self.paid_broadcast = paid_broadcast

    async def send(self, chat_id: int, reply: Reply, *, paid: bool = False) -> None:
        """A photo with caption when the reply has an image, else text split at 4096."""
        markup = keyboard(reply)
        paid_flag = True if paid else None  # None: the field is not sent at all
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
                allow_paid_broadcast=paid_flag,
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
                    allow_paid_broadcast=paid_flag,
                )
            except BadRequest as exc:
                if "parse entities" not in exc.message.lower():
                    raise
                log.error("telegram refused our HTML (%s); sending plain text", exc.message)
                plain = reply.plain_text() if len(chunks) == 1 else chunk
                await self.bot.send_message(
                    chat_id,
                    plain[:MAX_MESSAGE_CHARS],
                    reply_markup=markup,
                    allow_paid_broadcast=paid_flag,
                )

    async def push(
        self, chat: str, reply: Reply, send_class: SendClass = SendClass.PERSONAL
    ) -> None:
        """Deliver a notification to `tg:<id>`; broadcasts may be paid ones (see the class).

        Permanent — 403 (blocked, kicked, deactivated) and the 400s of `PERMANENT_400` —
        raise `ChatUnreachable` (dead letter, chat paused); a group that became a
        supergroup raises `ChatMoved`; transient — flood limits still hit after the
        limiter's retries, other 400s, 5xx, timeouts, network — raise `DeliveryDeferred`
        (retried a few times with backoff).
        """
        _, chat_id = push_target(chat, Transport.TELEGRAM)
        paid = self.paid_broadcast and send_class is SendClass.BROADCAST
        try:
            await self.send(chat_id, reply, paid=paid)
        except ChatMigrated as exc:  # a group became a supergroup: same people, new id
            raise ChatMoved(str(ChatAddress.telegram(exc.new_chat_id))) from exc
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
