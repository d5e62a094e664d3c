"""Incoming updates for FakeTelegram: builders (messages, commands, button presses) and
webhook delivery (POST with the X-Telegram-Bot-Api-Secret-Token header, like Telegram).

Update shapes follow what Telegram sends: a command message carries a `bot_command` entity
at offset 0 spanning up to the first space (PTB's CommandHandler ignores it otherwise);
private chats have the user's id as chat id, groups negative ids.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import aiohttp

from fakes._tg_objects import chat_obj, user_obj

if TYPE_CHECKING:
    from fakes.telegram import FakeTelegram

#: The user who speaks in group chats unless a test names one.
DEFAULT_GROUP_USER = 5_000_001


class Speaker(TypedDict, total=False):
    """Who sends a user message: keywords of `push_command` and co. (defaults: `_user_message`)."""

    user_id: int | None
    chat_type: str | None
    username: str


class TelegramUpdates:
    """Mixin: `*_update` build (not queue) updates; `deliver_*` POST them to the webhook."""

    def _user_message(
        self: FakeTelegram,
        chat_id: int,
        text: str,
        *,
        command: bool,
        user_id: int | None = None,
        chat_type: str | None = "private",
        username: str = "alice",
    ) -> dict[str, Any]:
        if chat_type == "private" and chat_id < 0:
            chat_type = None  # a negative id is a group whatever the default says
        if chat_id > 0:
            chat_type = chat_type or "private"
            first = username.capitalize()
            self.chats.setdefault(chat_id, chat_obj(chat_id, chat_type, first_name=first))
            self.chats[chat_id].setdefault("username", username)
            user_id = user_id or chat_id
        else:
            self.chats.setdefault(chat_id, chat_obj(chat_id, chat_type))
            user_id = user_id or DEFAULT_GROUP_USER
        user = self.users.setdefault(user_id, user_obj(user_id, username))
        msg: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "from": user,
            "chat": self.chats[chat_id],
            "date": int(time.time()),
            "text": text,
        }
        if command and text.startswith("/"):
            length = len(text.split(maxsplit=1)[0]) if text.strip() else 1
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        self.messages[(chat_id, msg["message_id"])] = msg
        return {"update_id": next(self._update_ids), "message": msg}

    def migration_updates(
        self: FakeTelegram, chat_id: int, new_chat_id: int
    ) -> list[dict[str, Any]]:
        """The service messages of a group → supergroup upgrade (not queued)."""
        self.chats.setdefault(chat_id, chat_obj(chat_id, "group"))
        self.chats.setdefault(new_chat_id, chat_obj(new_chat_id, "supergroup"))
        user = self.users.setdefault(DEFAULT_GROUP_USER, user_obj(DEFAULT_GROUP_USER, "alice"))
        updates = []
        for where, field, other in (
            (chat_id, "migrate_to_chat_id", new_chat_id),
            (new_chat_id, "migrate_from_chat_id", chat_id),
        ):
            msg = {
                "message_id": self._new_message_id(where),
                "from": user,
                "chat": self.chats[where],
                "date": int(time.time()),
                field: other,
            }
            updates.append({"update_id": next(self._update_ids), "message": msg})
        return updates

    def command_update(
        self: FakeTelegram, chat_id: int, text: str, **who: Unpack[Speaker]
    ) -> dict[str, Any]:
        """A message update with a bot_command entity (not queued; see push_command)."""
        return self._user_message(chat_id, text, command=True, **who)

    def text_update(
        self: FakeTelegram, chat_id: int, text: str, **who: Unpack[Speaker]
    ) -> dict[str, Any]:
        """A plain text message update without entities (not queued)."""
        return self._user_message(chat_id, text, command=False, **who)

    def callback_update(
        self: FakeTelegram,
        chat_id: int,
        data: str,
        *,
        message_id: int,
        user_id: int | None = None,
        username: str = "alice",
    ) -> dict[str, Any]:
        """A callback_query update for a button on message `message_id` (not queued)."""
        chat = self.chats.get(chat_id) or self.add_chat(chat_id)
        user_id = user_id or (chat_id if chat_id > 0 else DEFAULT_GROUP_USER)
        user = self.users.setdefault(user_id, user_obj(user_id, username))
        message = self.messages.get((chat_id, message_id)) or {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
            "text": "",
        }
        query_id = str(next(self._callback_seq))
        self.callback_ids[query_id] = chat_id
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(abs(chat_id) * 7919 % 10**18),
            "data": data,
        }
        return {"update_id": next(self._update_ids), "callback_query": query}

    # ---- webhook ---------------------------------------------------------------------------
    async def deliver_via_webhook(
        self: FakeTelegram,
        update: dict[str, Any],
        secret: str | None = None,
        *,
        omit_secret: bool = False,
    ) -> int:
        """POST one update to the registered webhook like Telegram; returns the HTTP status."""
        url = self.webhook.get("url")
        if not url:
            raise RuntimeError("no webhook registered (setWebhook was not called)")
        if "update_id" not in update:
            update["update_id"] = next(self._update_ids)
        token = secret if secret is not None else self.webhook.get("secret_token")
        headers = {}
        if token and not omit_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=update, headers=headers) as resp,
        ):
            await resp.read()
            status = resp.status
        self.webhook_deliveries.append((int(update["update_id"]), status))
        if status != 200:
            self.webhook["last_error_date"] = int(time.time())
            self.webhook["last_error_message"] = f"Wrong response from the webhook: {status}"
        return status

    async def deliver_pending(self: FakeTelegram) -> list[int]:
        """Send queued updates to the webhook in order; those answered 200 leave the queue."""
        statuses = []
        while self._updates:
            status = await self.deliver_via_webhook(self._updates[0])
            statuses.append(status)
            if status != 200:
                break
            self._updates.popleft()
        return statuses
