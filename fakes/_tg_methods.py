"""Bot API method implementations of FakeTelegram (a mixin; state lives on the fake).

Each method takes the decoded parameters and returns the `result` value, or raises TgError
with the status and description the real server uses for that mistake.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fakes._tg_markup import MarkupError, render
from fakes._tg_objects import (
    CHAT_ACTIONS,
    COMMAND_RE,
    NOT_MODIFIED,
    OTHER_POLLER,
    QUERY_TOO_OLD,
    SECRET_RE,
    WEBHOOK_ACTIVE,
    SentMessage,
    TgError,
    as_int,
    bool_param,
    chat_full_info,
    chat_key,
    check_reply_markup,
    member_obj,
    scope_key,
    user_obj,
)

if TYPE_CHECKING:
    from fakes.telegram import FakeTelegram

Method = Callable[["FakeTelegram", dict[str, Any]], Awaitable[Any]]
REGISTRY: dict[str, Method] = {}
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def api(name: str) -> Callable[[Method], Method]:
    """Register a Bot API method (names are case-insensitive, as on Telegram)."""

    def deco(fn: Method) -> Method:
        REGISTRY[name.lower()] = fn
        return fn

    return deco


def _rendered(text: Any, parse_mode: Any, limit: int, what: str) -> tuple[str, list[Any]]:
    if text is None or not str(text).strip():
        raise TgError(400, f"Bad Request: {what} text is empty")
    try:
        plain, entities = render(str(text), parse_mode if parse_mode else None)
    except MarkupError as exc:
        raise TgError(400, f"Bad Request: can't parse entities: {exc}") from None
    if len(plain) > limit:
        raise TgError(400, f"Bad Request: {what} is too long")
    return plain, entities


def _file_meta(data: bytes | str, kind: str) -> tuple[str, str, int]:
    """Stable file_id / file_unique_id derived from the content (or the reference string)."""
    raw = data if isinstance(data, bytes) else data.encode()
    digest = hashlib.sha1(raw).hexdigest()  # an id, not security
    return f"Ag{kind[:2].upper()}{digest[:40]}", f"AQ{digest[:14]}", len(raw)


class TelegramMethods:
    """Mixin: `api_methods` maps lowercase method names to implementations."""

    api_methods = REGISTRY

    @api("getMe")
    async def _get_me(self: FakeTelegram, p: dict[str, Any]) -> Any:
        return self.bot_user

    @api("logOut")
    async def _log_out(self: FakeTelegram, p: dict[str, Any]) -> Any:
        self.logged_out = True
        return True

    @api("close")
    async def _close(self: FakeTelegram, p: dict[str, Any]) -> Any:
        return True

    @api("deleteWebhook")
    async def _delete_webhook(self: FakeTelegram, p: dict[str, Any]) -> Any:
        self.webhook = {"url": "", "secret_token": None}
        if bool_param(p.get("drop_pending_updates")):
            self._updates.clear()
        return True

    @api("setWebhook")
    async def _set_webhook(self: FakeTelegram, p: dict[str, Any]) -> Any:
        url = str(p.get("url") or "")
        secret = p.get("secret_token")
        if secret and not SECRET_RE.match(str(secret)):
            raise TgError(400, "Bad Request: secret token contains unallowed characters")
        if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise TgError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        if bool_param(p.get("drop_pending_updates")):
            self._updates.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret or None,
            "allowed_updates": p.get("allowed_updates"),
            "max_connections": as_int(p.get("max_connections")) or 40,
        }
        return True

    @api("getWebhookInfo")
    async def _get_webhook_info(self: FakeTelegram, p: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        for key in ("max_connections", "allowed_updates", "last_error_date", "last_error_message"):
            if self.webhook.get(key) is not None and info["url"]:
                info[key] = self.webhook[key]
        return info

    @api("getUpdates")
    async def _get_updates(self: FakeTelegram, p: dict[str, Any]) -> Any:
        """Long poll: confirm below `offset`, then hold until an update or `timeout`."""
        if self.webhook.get("url"):
            raise TgError(409, WEBHOOK_ACTIVE)
        offset = as_int(p.get("offset"))
        limit = min(max(as_int(p.get("limit")) or 100, 1), 100)
        timeout = float(p.get("timeout") or 0)
        allowed = p.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = set(allowed) or None
        if offset is not None and offset > 0:
            while self._updates and self._updates[0]["update_id"] < offset:
                self._updates.popleft()
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.pulse()  # an older poll still waiting now loses with 409

        def available() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] | deque[dict[str, Any]] = self._updates
            if offset is not None and offset < 0:
                items = list(self._updates)[offset:]
            if self._allowed_updates is not None:
                allowed_set = self._allowed_updates
                items = [u for u in items if allowed_set & u.keys()]
            return list(items)

        def ready() -> bool:
            return (
                bool(available()) or self._closing.is_set() or self._poll_generation != generation
            )

        if timeout > 0:
            await self._updates_signal.wait_until(ready, timeout)
        if self._poll_generation != generation:
            raise TgError(409, OTHER_POLLER)
        return available()[:limit]

    @api("setMyCommands")
    async def _set_my_commands(self: FakeTelegram, p: dict[str, Any]) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise TgError(400, "Bad Request: can't parse commands JSON object")
        for c in commands:
            if not isinstance(c, dict) or not COMMAND_RE.match(str(c.get("command", ""))):
                raise TgError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise TgError(400, "Bad Request: command description is empty")
        self.my_commands[scope_key(p.get("scope"), p.get("language_code"))] = commands
        return True

    @api("getMyCommands")
    async def _get_my_commands(self: FakeTelegram, p: dict[str, Any]) -> Any:
        return self.my_commands.get(scope_key(p.get("scope"), p.get("language_code")), [])

    @api("deleteMyCommands")
    async def _delete_my_commands(self: FakeTelegram, p: dict[str, Any]) -> Any:
        self.my_commands.pop(scope_key(p.get("scope"), p.get("language_code")), None)
        return True

    # ---- messages --------------------------------------------------------------------------
    def _target_chat(self: FakeTelegram, p: dict[str, Any]) -> tuple[int | str, dict[str, Any]]:
        key = chat_key(p.get("chat_id"))
        if key is None:
            raise TgError(400, "Bad Request: chat_id is empty")
        return key, self._chat(key)

    def _new_message(
        self: FakeTelegram, chat_id: int | str, chat: dict[str, Any], p: dict[str, Any]
    ) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        markup = p.get("reply_markup")
        check_reply_markup(markup)
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        if as_int(p.get("message_thread_id")):
            msg["message_thread_id"] = as_int(p.get("message_thread_id"))
        return msg

    def _store(
        self: FakeTelegram,
        method: str,
        chat_id: int | str,
        msg: dict[str, Any],
        p: dict[str, Any],
        **kw: Any,
    ) -> dict[str, Any]:
        self.messages[(chat_id, msg["message_id"])] = msg
        markup = p.get("reply_markup") if isinstance(p.get("reply_markup"), dict) else None
        self._record(
            SentMessage(
                method=method,
                chat_id=chat_id,
                parse_mode=p.get("parse_mode") or None,
                reply_markup=markup,
                message_id=msg["message_id"],
                params={k: v for k, v in p.items() if not isinstance(v, bytes)},
                message=dict(msg),  # a snapshot: later edits change `msg`
                **kw,
            )
        )
        return msg

    @api("sendMessage")
    async def _send_message(self: FakeTelegram, p: dict[str, Any]) -> Any:
        chat_id, chat = self._target_chat(p)
        plain, entities = _rendered(p.get("text"), p.get("parse_mode"), TEXT_LIMIT, "message")
        msg = self._new_message(chat_id, chat, p)
        msg["text"] = plain
        entities = entities or (p.get("entities") if isinstance(p.get("entities"), list) else [])
        if entities:
            msg["entities"] = entities
        return self._store("sendMessage", chat_id, msg, p, text=str(p.get("text")))

    def _media(self: FakeTelegram, p: dict[str, Any], field: str) -> tuple[bytes | None, str]:
        value = p.get(field)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.get(value.removeprefix("attach://"))
        if value is None or value == "":
            raise TgError(400, f"Bad Request: there is no {field} in the request")
        return (value, "") if isinstance(value, bytes) else (None, str(value))

    def _caption(self: FakeTelegram, msg: dict[str, Any], p: dict[str, Any]) -> str | None:
        caption = p.get("caption")
        if caption in (None, ""):
            return None
        plain, entities = _rendered(caption, p.get("parse_mode"), CAPTION_LIMIT, "message caption")
        msg["caption"] = plain
        if entities:
            msg["caption_entities"] = entities
        return str(caption)

    @api("sendPhoto")
    async def _send_photo(self: FakeTelegram, p: dict[str, Any]) -> Any:
        chat_id, chat = self._target_chat(p)
        data, ref = self._media(p, "photo")
        msg = self._new_message(chat_id, chat, p)
        caption = self._caption(msg, p)
        file_id, unique, size = _file_meta(data or ref, "photo")
        msg["photo"] = [
            {
                "file_id": f"{file_id}{w}",
                "file_unique_id": f"{unique}{w}",
                "width": w,
                "height": w * 3 // 4,
                "file_size": max(1, size * w // 1280),
            }
            for w in (90, 320, 800, 1280)
        ]
        return self._store("sendPhoto", chat_id, msg, p, text=caption, photo=data)

    @api("sendDocument")
    async def _send_document(self: FakeTelegram, p: dict[str, Any]) -> Any:
        chat_id, chat = self._target_chat(p)
        data, ref = self._media(p, "document")
        msg = self._new_message(chat_id, chat, p)
        caption = self._caption(msg, p)
        file_id, unique, size = _file_meta(data or ref, "document")
        name = p.get("_filenames", {}).get("document") or "file"
        msg["document"] = {
            "file_id": file_id,
            "file_unique_id": unique,
            "file_name": name,
            "mime_type": "application/octet-stream",
            "file_size": size,
        }
        return self._store("sendDocument", chat_id, msg, p, text=caption, document=data)

    def _find(self: FakeTelegram, p: dict[str, Any], action: str) -> tuple[int | str, dict]:
        if p.get("inline_message_id"):
            raise TgError(400, "Bad Request: inline messages are not supported by the fake")
        chat_id, _ = self._target_chat(p)
        msg = self.messages.get((chat_id, as_int(p.get("message_id")) or -1))
        if msg is None or msg.get("from", {}).get("id") != self.bot_user["id"]:
            raise TgError(400, f"Bad Request: message to {action} not found")
        return chat_id, msg

    @api("editMessageText")
    async def _edit_message_text(self: FakeTelegram, p: dict[str, Any]) -> Any:
        chat_id, msg = self._find(p, "edit")
        if "text" not in msg:
            raise TgError(400, "Bad Request: there is no text in the message to edit")
        plain, entities = _rendered(p.get("text"), p.get("parse_mode"), TEXT_LIMIT, "message")
        markup = p.get("reply_markup")
        check_reply_markup(markup)
        new_markup = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        same_text = plain == msg["text"] and entities == msg.get("entities", [])
        if same_text and new_markup == msg.get("reply_markup"):
            raise TgError(400, NOT_MODIFIED)
        msg.update(text=plain, edit_date=int(time.time()))
        msg.pop("entities", None)
        msg.pop("reply_markup", None)
        if entities:
            msg["entities"] = entities
        if new_markup:
            msg["reply_markup"] = new_markup
        return self._store("editMessageText", chat_id, msg, p, text=str(p.get("text")))

    @api("editMessageReplyMarkup")
    async def _edit_reply_markup(self: FakeTelegram, p: dict[str, Any]) -> Any:
        chat_id, msg = self._find(p, "edit")
        markup = p.get("reply_markup")
        check_reply_markup(markup)
        new_markup = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        if new_markup == msg.get("reply_markup"):
            raise TgError(400, NOT_MODIFIED)
        msg.pop("reply_markup", None)
        if new_markup:
            msg["reply_markup"] = new_markup
        msg["edit_date"] = int(time.time())
        return self._store("editMessageReplyMarkup", chat_id, msg, p)

    @api("deleteMessage")
    async def _delete_message(self: FakeTelegram, p: dict[str, Any]) -> Any:
        chat_id, _ = self._target_chat(p)
        key = (chat_id, as_int(p.get("message_id")) or -1)
        msg = self.messages.pop(key, None)
        if msg is None:
            raise TgError(400, "Bad Request: message to delete not found")
        self._record(SentMessage("deleteMessage", chat_id, message_id=key[1], params=dict(p)))
        return True

    @api("answerCallbackQuery")
    async def _answer_callback(self: FakeTelegram, p: dict[str, Any]) -> Any:
        query_id = str(p.get("callback_query_id") or "")
        if query_id not in self.callback_ids:
            raise TgError(400, QUERY_TOO_OLD)
        chat_id = self.callback_ids[query_id]
        text = p.get("text")
        self._record(SentMessage("answerCallbackQuery", chat_id, text=text, params=dict(p)))
        return True

    @api("sendChatAction")
    async def _send_chat_action(self: FakeTelegram, p: dict[str, Any]) -> Any:
        chat_id, _ = self._target_chat(p)
        action = str(p.get("action") or "")
        if action not in CHAT_ACTIONS:
            raise TgError(400, "Bad Request: wrong parameter action in request")
        self.chat_actions.append((chat_id, action))
        return True

    @api("getChat")
    async def _get_chat(self: FakeTelegram, p: dict[str, Any]) -> Any:
        _, chat = self._target_chat(p)
        return chat_full_info(chat)

    @api("getChatMember")
    async def _get_chat_member(self: FakeTelegram, p: dict[str, Any]) -> Any:
        chat_id, _ = self._target_chat(p)
        user_id = as_int(p.get("user_id"))
        if user_id is None:
            raise TgError(400, "Bad Request: invalid user_id specified")
        if user_id == self.bot_user["id"]:
            user = {k: self.bot_user[k] for k in ("id", "is_bot", "first_name", "username")}
        else:
            user = self.users.get(user_id) or user_obj(user_id, None)
        return member_obj(user, self.members.get((chat_id, user_id), "member"))
