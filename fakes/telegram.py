"""A fake Telegram Bot API server for real python-telegram-bot 22.x.

Point PTB at it::

    app = (ApplicationBuilder().token(fake.token)
           .base_url(f"{fake.url}/bot").base_file_url(f"{fake.url}/file/bot").build())

Calls arrive as `POST {url}/bot{token}/{method}` (form-encoded, JSON or multipart) and get
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": N, "description": ...}`.
Tests drive users with `push_command` / `push_text` / `push_callback` (served by
`getUpdates` long polling, or POSTed with `deliver_via_webhook`) and read the bot's
answers from `sent` / `messages_to()` / `await wait_for(...)`.

Realism kept on purpose: per-chat message ids, parse_mode validation ("can't parse
entities"), 4096-char limit, "message is not modified", BUTTON_DATA_INVALID, 409 when two
pollers compete or a webhook is set, optional flood control (`enforce_limits=True`).
Method implementations live in `_tg_methods.py`.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any, Unpack

from aiohttp import web

from fakes._base import FakeServer, Fault, FaultMode, Signal, json_response
from fakes._tg_methods import TelegramMethods
from fakes._tg_objects import (
    DEFAULT_DESCRIPTIONS,
    OTHER_POLLER,
    SentMessage,
    TgError,
    chat_obj,
    error_response,
    parse_params,
)
from fakes._tg_updates import Speaker, TelegramUpdates

__all__ = ["FakeTelegram", "SentMessage"]

SEND_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument"})
BURST_PER_CHAT = 3
TG_PARAMS = web.RequestKey("tg_params", dict)


# Plainly not a real token (real ones are `<bot id>:AA…` plus 33 characters).
FAKE_TOKEN = "123456789:fake-token-for-local-tests"


class FakeTelegram(TelegramUpdates, TelegramMethods, FakeServer):
    """Bot API fake; all state is plain attributes tests may read or change."""

    def __init__(
        self,
        token: str = FAKE_TOKEN,
        *,
        bot_username: str = "altbot_test_bot",
        enforce_limits: bool = False,
        strict_chats: bool = False,
        port: int = 0,
        hang_seconds: float = 30.0,
    ) -> None:
        super().__init__(port=port, hang_seconds=hang_seconds)
        self.token = token
        bot_id = int(token.split(":")[0]) if token.split(":")[0].isdigit() else 1_000_001
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Altbot Test",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.enforce_limits = enforce_limits
        self.strict_chats = strict_chats
        self.sent: list[SentMessage] = []
        self.unknown_methods: list[str] = []
        self.chat_actions: list[tuple[int | str, str]] = []
        self.too_many_requests = 0
        self.conflicts = 0
        self.webhook: dict[str, Any] = {"url": "", "secret_token": None}
        self.webhook_deliveries: list[tuple[int, int]] = []
        self.my_commands: dict[str, list[dict[str, Any]]] = {}
        self.chats: dict[int | str, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.members: dict[tuple[int | str, int], str] = {}
        self.blocked: dict[int | str, TgError] = {}
        self.logged_out = False
        self.on_sent: Callable[[SentMessage], None] | None = None
        self.messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self.callback_ids: dict[str, int] = {}  # query id -> chat id
        self._sent_by_chat: dict[int | str | None, list[SentMessage]] = defaultdict(list)
        self._next_message_id: dict[int | str, int] = defaultdict(lambda: 1)
        self._updates: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(700_000_001)
        self._callback_seq = itertools.count(4_200_000_000_000_000_001)
        self._allowed_updates: set[str] | None = None
        self._poll_generation = 0
        self._updates_signal = Signal()
        self._sent_signal = Signal()
        self._global_window: deque[float] = deque()
        self._group_windows: dict[int | str, deque[float]] = defaultdict(deque)
        self._buckets: dict[int | str, tuple[float, float]] = {}

    # ---- users and updates -----------------------------------------------------------------
    def add_chat(self, chat_id: int | str, chat_type: str | None = None, **extra: Any) -> dict:
        """Register (or replace) a chat, e.g. `add_chat(-1001, "supergroup", title="Desk")`."""
        self.chats[chat_id] = chat_obj(chat_id, chat_type, **extra)
        return self.chats[chat_id]

    def _chat(self, chat_id: int | str, chat_type: str | None = None) -> dict[str, Any]:
        """The chat for an id, created on first use unless `strict_chats`."""
        chat = self.chats.get(chat_id)
        if chat is None:
            if self.strict_chats or (isinstance(chat_id, str) and chat_type is None):
                raise TgError(400, "Bad Request: chat not found")
            chat = self.add_chat(chat_id, chat_type)
        return chat

    def _new_message_id(self, chat_id: int | str) -> int:
        mid = self._next_message_id[chat_id]
        self._next_message_id[chat_id] = mid + 1
        return mid

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue any update for getUpdates (an update_id is assigned if missing)."""
        if "update_id" not in update:
            update["update_id"] = next(self._update_ids)
        self._updates.append(update)
        self._updates_signal.pulse()
        return int(update["update_id"])

    def push_command(self, chat_id: int, text: str, **who: Unpack[Speaker]) -> int:
        """Queue `/cmd args` from a user (bot_command entity up to the first space).

        Private chats: user id = chat id. A negative chat id is a group ("supergroup" for
        -100xxxxxxxxxx ids) whatever `chat_type` says, unless it names "group"/"supergroup".
        """
        return self.push_update(self.command_update(chat_id, text, **who))

    def push_text(self, chat_id: int, text: str, **who: Unpack[Speaker]) -> int:
        """Queue a plain text message (no entities) from a user."""
        return self.push_update(self.text_update(chat_id, text, **who))

    def push_callback(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int,
        user_id: int | None = None,
        username: str = "alice",
    ) -> int:
        """Queue an inline-button press on message `message_id`; its id is answerable."""
        update = self.callback_update(
            chat_id, data, message_id=message_id, user_id=user_id, username=username
        )
        return self.push_update(update)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return list(self._updates)

    # ---- membership, blocking, faults ------------------------------------------------------
    def set_member_status(self, chat_id: int | str, user_id: int, status: str) -> None:
        """ "creator" | "administrator" | "member" | "restricted" | "left" | "kicked"."""
        self.members[(chat_id, user_id)] = status

    def block_chat(
        self,
        chat_id: int | str,
        status: int = 403,
        description: str | None = None,
        *,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Every call for this chat fails (403 blocked by default; 400 = chat not found)."""
        if description is None:
            description = "Bad Request: chat not found" if status == 400 else None
        self.blocked[chat_id] = TgError(
            status, description or DEFAULT_DESCRIPTIONS[403], parameters
        )

    def unblock_chat(self, chat_id: int | str) -> None:
        self.blocked.pop(chat_id, None)

    def migrate_chat(self, chat_id: int, new_chat_id: int, *, announce: bool = False) -> None:
        """The group became a supergroup: calls answer 400 with migrate_to_chat_id.

        `announce`: also queue the two service messages Telegram sends then (the old
        group's `migrate_to_chat_id`, the new supergroup's `migrate_from_chat_id`).
        """
        desc = "Bad Request: group chat was upgraded to a supergroup chat"
        self.block_chat(chat_id, 400, desc, parameters={"migrate_to_chat_id": new_chat_id})
        self.add_chat(new_chat_id, "supergroup")
        if announce:
            for update in self.migration_updates(chat_id, new_chat_id):
                self.push_update(update)

    def forbid_posting(self, chat_id: int) -> None:
        """The bot lost the right to post in this group (a permanent 400)."""
        desc = "Bad Request: not enough rights to send text messages to the chat"
        self.block_chat(chat_id, 400, desc)

    def _method_matcher(
        self, methods: str | tuple[str, ...] | None
    ) -> Callable[[web.Request], bool]:
        if methods is None:
            return lambda r: r.match_info.get("method", "").lower() != "getupdates"
        wanted = {m.lower() for m in ((methods,) if isinstance(methods, str) else methods)}
        return lambda r: r.match_info.get("method", "").lower() in wanted

    def fail_next(
        self,
        n: int = 1,
        status: FaultMode = 500,
        retry_after: int | None = None,
        *,
        description: str | None = None,
        methods: str | tuple[str, ...] | None = None,
    ) -> Fault:
        """Fail the next `n` calls (all methods but getUpdates unless `methods` is given)."""
        extra = {"retry_after": retry_after, "description": description}
        return self.add_fault(Fault(status, n, self._method_matcher(methods), extra=extra))

    def set_outage(
        self, mode: FaultMode | None, *, methods: str | tuple[str, ...] | None = None
    ) -> Fault | None:
        """Fail every matching call until `set_outage(None)` (e.g. 502, "timeout")."""
        return self._replace_outage(mode, self._method_matcher(methods))

    def _error_response(self, status: int, fault: Fault, request: web.Request) -> web.Response:
        retry = fault.extra.get("retry_after")
        if status == 429:
            self.too_many_requests += 1
            retry = retry or 1
        desc = fault.extra.get("description") or (
            f"Too Many Requests: retry after {retry}"
            if status == 429
            else DEFAULT_DESCRIPTIONS.get(status, "Internal Server Error")
        )
        return error_response(status, desc, {"retry_after": retry} if retry else None)

    def reset_limits(self) -> None:
        """Forget flood-control history (as if everyone had waited long enough)."""
        self._global_window.clear()
        self._group_windows.clear()
        self._buckets.clear()

    def _check_limits(self, chat_id: int | str) -> None:
        """Flood control: 30 sends/s overall, ~1/s per private chat (burst 3), 20/min per group."""
        now = time.monotonic()
        window = self._global_window
        while window and window[0] <= now - 1:
            window.popleft()
        retry: float | None = None
        if len(window) >= 30:
            retry = window[0] + 1 - now
        group = isinstance(chat_id, str) or chat_id < 0
        if retry is None and group:
            gw = self._group_windows[chat_id]
            while gw and gw[0] <= now - 60:
                gw.popleft()
            if len(gw) >= 20:
                retry = gw[0] + 60 - now
        tokens = 0.0
        if retry is None and not group:
            tokens, last = self._buckets.get(chat_id, (float(BURST_PER_CHAT), now))
            tokens = min(float(BURST_PER_CHAT), tokens + (now - last))
            if tokens < 1:
                retry = 1 - tokens
        if retry is not None:
            self.too_many_requests += 1
            seconds = max(1, math.ceil(retry))
            raise TgError(
                429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
            )
        window.append(now)
        if group:
            self._group_windows[chat_id].append(now)
        else:
            self._buckets[chat_id] = (tokens - 1, now)

    # ---- sent log --------------------------------------------------------------------------
    def _record(self, entry: SentMessage) -> SentMessage:
        self.sent.append(entry)
        self._sent_by_chat[entry.chat_id].append(entry)
        self._sent_signal.pulse()
        if self.on_sent is not None:
            self.on_sent(entry)
        return entry

    def messages_to(self, chat_id: int | str) -> list[SentMessage]:
        """Everything the bot successfully did in one chat, in order (O(1) lookup)."""
        return list(self._sent_by_chat.get(chat_id, ()))

    def texts_to(self, chat_id: int | str) -> list[str]:
        """Just the texts/captions sent to a chat (sendMessage/sendPhoto/sendDocument)."""
        return [
            m.text or "" for m in self._sent_by_chat.get(chat_id, ()) if m.method.startswith("send")
        ]

    async def wait_for(
        self,
        predicate_or_count: Callable[[list[SentMessage]], bool] | int = 1,
        timeout: float = 5.0,
        *,
        chat_id: int | str | None = None,
        method: str | None = None,
    ) -> list[SentMessage]:
        """Wait until the (optionally filtered) sent log satisfies a predicate or a count.

        Returns the filtered log; raises TimeoutError listing what did arrive.
        """

        def view() -> list[SentMessage]:
            items = self.sent if chat_id is None else self._sent_by_chat.get(chat_id, [])
            return items if method is None else [m for m in items if m.method == method]

        if isinstance(predicate_or_count, int):
            count = predicate_or_count
            if method is None:  # O(1) checks: the 10k-chat benchmark waits like this
                src = self.sent if chat_id is None else self._sent_by_chat[chat_id]
                ok = await self._sent_signal.wait_until(lambda: len(src) >= count, timeout)
            else:
                ok = await self._sent_signal.wait_until(lambda: len(view()) >= count, timeout)
        else:
            check = predicate_or_count
            ok = await self._sent_signal.wait_until(lambda: bool(check(view())), timeout)
        if not ok:
            got = [(m.method, m.chat_id, (m.text or "")[:60]) for m in view()[-5:]]
            raise TimeoutError(
                f"wait_for({predicate_or_count!r}) timed out after {timeout}s; last: {got}"
            )
        return list(view())

    # ---- HTTP ------------------------------------------------------------------------------
    def _setup_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        app.router.add_route("*", "/{tail:.*}", self._not_found)

    async def _describe_body(self, request: web.Request) -> Any:
        params = await parse_params(request)
        request[TG_PARAMS] = params
        return params

    async def _on_stop(self) -> None:
        self._updates_signal.pulse()
        self._sent_signal.pulse()

    async def _not_found(self, request: web.Request) -> web.Response:
        self.unknown_methods.append(request.path)
        return error_response(404, "Not Found")

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return error_response(401, "Unauthorized")
        impl = self.api_methods.get(method.lower())
        if impl is None:
            self.unknown_methods.append(method)
            return error_response(404, "Not Found")
        params: dict[str, Any] = request.get(TG_PARAMS, {})
        try:
            chat = params.get("chat_id")
            if chat is not None:
                blocked = self.blocked.get(chat) or self.blocked.get(_maybe_int(chat))
                if blocked is not None:
                    raise blocked
            if self.enforce_limits and method.lower() in SEND_METHODS and chat is not None:
                self._check_limits(_maybe_int(chat))
            result = await impl(self, params)
        except TgError as err:
            transport = request.transport
            if err.description == OTHER_POLLER and transport and not transport.is_closing():
                self.conflicts += 1  # only when the superseded poller is still listening
            return err.response()
        return json_response({"ok": True, "result": result})


def _maybe_int(value: Any) -> int | str:
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)
