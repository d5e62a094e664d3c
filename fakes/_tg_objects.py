"""Telegram Bot API object builders and request parsing for the fake.

Objects carry every field python-telegram-bot 22.x needs to `de_json` them (it raises on
missing required fields such as ChatFullInfo.accepted_gift_types or the can_* flags of an
administrator), and request bodies are accepted form-encoded, as JSON or as multipart.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from fakes._base import json_response

#: Parameters whose values are JSON documents when sent form-encoded.
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
    }
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
OTHER_POLLER = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


class TgError(Exception):
    """An error answer: HTTP status = error_code, plus description and parameters."""

    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def response(self) -> web.Response:
        return error_response(self.status, self.description, self.parameters)


def error_response(
    status: int, description: str | None = None, parameters: dict[str, Any] | None = None
) -> web.Response:
    """`{"ok": false, "error_code": N, "description": ..., "parameters": {...}}`."""
    body: dict[str, Any] = {
        "ok": False,
        "error_code": status,
        "description": description or DEFAULT_DESCRIPTIONS.get(status, "Internal Server Error"),
    }
    if parameters:
        body["parameters"] = parameters
    return json_response(body, status=status)


@dataclass(slots=True)
class SentMessage:
    """One successful outgoing action of the bot, in arrival order."""

    method: str
    chat_id: int | str | None
    text: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    photo: bytes | None = None
    document: bytes | None = None
    message_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    message: dict[str, Any] | None = None
    time: float = field(default_factory=time.monotonic)

    @property
    def rendered(self) -> str | None:
        """The text as users see it (markup parsed away), from the returned Message."""
        if self.message is None:
            return self.text
        return self.message.get("text", self.message.get("caption"))


async def parse_params(request: web.Request) -> dict[str, Any]:
    """Query string + body (form, JSON or multipart), JSON-valued fields decoded.

    Uploaded files become `bytes`; their file names go to `_filenames`.
    """
    params: dict[str, Any] = dict(request.query)
    ctype = request.content_type
    if request.method not in ("GET", "HEAD"):
        if ctype == "multipart/form-data":
            names: dict[str, str] = {}
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = value.file.read()
                    names[key] = value.filename
                else:
                    params[key] = value
            params["_filenames"] = names
        elif ctype == "application/json":
            raw = await request.read()
            try:
                data = json.loads(raw) if raw else {}
            except ValueError:
                data = {}
            if isinstance(data, dict):
                params.update(data)
        else:
            raw = await request.read()
            params.update(parse_qsl(raw.decode(), keep_blank_values=True))
    for key in JSON_FIELDS & params.keys():
        if isinstance(params[key], str):
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                params[key] = {"_unparsable": params[key]}
    return params


def as_int(value: Any) -> int | None:
    """Telegram accepts numbers as strings in form bodies."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def chat_key(value: Any) -> int | str | None:
    """chat_id as int, or "@username" unchanged."""
    as_number = as_int(value)
    if as_number is not None:
        return as_number
    return value if isinstance(value, str) and value else None


def bool_param(value: Any) -> bool:
    return value in (True, "true", "True", "1", 1)


def user_obj(
    user_id: int, username: str | None, *, first_name: str | None = None
) -> dict[str, Any]:
    """A human User as Telegram sends it in `from`."""
    out: dict[str, Any] = {
        "id": user_id,
        "is_bot": False,
        "first_name": first_name or (username or f"user{user_id}").capitalize(),
        "language_code": "en",
    }
    if username:
        out["username"] = username
    return out


def chat_obj(chat_id: int | str, chat_type: str | None = None, **extra: Any) -> dict[str, Any]:
    """A Chat; the type is inferred from the id sign when not given."""
    if chat_type is None:
        if isinstance(chat_id, str):
            chat_type = "channel"
        elif chat_id > 0:
            chat_type = "private"
        else:
            # real supergroup ids look like -100xxxxxxxxxx (13+ digits)
            chat_type = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
    out: dict[str, Any] = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        out["first_name"] = extra.pop("first_name", f"User{chat_id}")
    else:
        out["title"] = extra.pop("title", f"Test {chat_type} {chat_id}")
    out.update(extra)
    return out


def chat_full_info(chat: dict[str, Any]) -> dict[str, Any]:
    """getChat's ChatFullInfo (PTB requires accent_color_id and friends)."""
    out = dict(chat)
    out.update(
        accent_color_id=0,
        max_reaction_count=11,
        accepted_gift_types={
            "unlimited_gifts": True,
            "limited_gifts": True,
            "unique_gifts": True,
            "premium_subscription": True,
            "gifts_from_channels": True,
        },
    )
    if chat["type"] in ("group", "supergroup"):
        out["permissions"] = {"can_send_messages": True, "can_send_polls": True}
    return out


ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
    "can_manage_topics": False,
}
RESTRICTED_RIGHTS = {
    "is_member": True,
    "until_date": 0,
    "can_edit_tag": False,
    "can_react_to_messages": False,  # PTB 22.8 requires it although typed optional
    **{
        f"can_{name}": False
        for name in (
            "change_info",
            "invite_users",
            "pin_messages",
            "send_messages",
            "send_polls",
            "send_other_messages",
            "add_web_page_previews",
            "manage_topics",
            "send_audios",
            "send_documents",
            "send_photos",
            "send_videos",
            "send_video_notes",
            "send_voice_notes",
        )
    },
}


def member_obj(user: dict[str, Any], status: str) -> dict[str, Any]:
    """A ChatMember of the given status with the fields PTB requires for it."""
    out: dict[str, Any] = {"user": user, "status": status}
    if status == "creator":
        out["is_anonymous"] = False
    elif status == "administrator":
        out.update(ADMIN_RIGHTS)
    elif status == "restricted":
        out.update(RESTRICTED_RIGHTS)
    elif status == "kicked":
        out["until_date"] = 0
    return out


def check_reply_markup(markup: Any) -> None:
    """Reject what Telegram rejects: unparsable JSON, callback_data over 64 bytes, etc."""
    if markup is None:
        return
    if not isinstance(markup, dict) or "_unparsable" in markup:
        raise TgError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return
    for row in rows:
        for button in row:
            if not button.get("text"):
                raise TgError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise TgError(400, "Bad Request: BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not str(url).startswith(("http://", "https://", "tg://")):
                raise TgError(400, "Bad Request: BUTTON_URL_INVALID")


def scope_key(scope: Any, language_code: Any = None) -> str:
    """A readable key for setMyCommands' (scope, language) pair: "default", "chat:-100|de"."""
    kind = scope.get("type", "default") if isinstance(scope, dict) else "default"
    parts = [kind]
    if isinstance(scope, dict):
        parts += [str(scope[k]) for k in ("chat_id", "user_id") if k in scope]
    key = ":".join(parts)
    return f"{key}|{language_code}" if language_code else key
