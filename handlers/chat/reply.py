"""What the command core returns: transport-neutral replies, buttons and user errors.

Transports (Telegram, Discord, console) only format these; they decide nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

from alerts.domain.errors import UserError
from alerts.domain.jobs import Notice

Tone = Literal["neutral", "up", "down", "warn", "error"]
CALLBACK_MAX_BYTES = 64  # Telegram's limit for callback_data; Discord custom_id allows 100
NONCE_CHARS = 8  # 48 random bits: a one-shot button's id, unguessable and short




@dataclass(frozen=True, slots=True)
class Button:
    """A button; `data` is a compact callback (`verb:arg:...`) the core validates."""

    label: str
    data: str

    def __post_init__(self) -> None:
        if len(self.data.encode()) > CALLBACK_MAX_BYTES:
            raise ValueError(f"callback data too long: {self.data!r}")


@dataclass(frozen=True, slots=True)
class Reply:
    """A reply: a title, body lines, optional key/value fields, image and buttons."""

    title: str
    lines: list[str] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    footer: str | None = None
    image: bytes | None = None
    image_name: str = "chart.png"
    buttons: list[list[Button]] = field(default_factory=list)
    tone: Tone = "neutral"
    ephemeral: bool = False

    def plain_text(self) -> str:
        """The reply as plain text (console, logs, notifications)."""
        parts = [self.title]
        parts.extend(f"{name}: {value}" for name, value in self.fields)
        parts.extend(self.lines)
        if self.footer:
            parts.append(self.footer)
        return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Request:
    """Who asked what: `chat` is the owner of alerts (e.g. `tg:42`, `dc:u:7`)."""

    chat: str
    user: str
    text: str
    is_group: bool = False
    is_admin: bool = True
    transport: str = "console"


def require_group_admin(req: Request, what: str) -> None:
    """Buttons bypass the core's command check, so state-changing callbacks call this."""
    if req.is_group and not req.is_admin:
        raise UserError(f"Only this group's admins can change its {what}.")


def button_nonce() -> str:
    """A fresh id for a button that must act once (URL-safe: never contains `:`)."""
    return secrets.token_urlsafe(NONCE_CHARS * 3 // 4)


def notice_of(reply: Reply) -> Notice:
    """A reply as a pushed notice (digests are built like replies, then queued)."""
    buttons = tuple((b.label, b.data) for row in reply.buttons for b in row)
    return Notice(reply.title, list(reply.lines), buttons)


def error_reply(err: UserError) -> Reply:
    """The one way errors look everywhere."""
    lines = [err.hint] if err.hint else []
    return Reply(title=f"⚠️ {err.message}", lines=lines, tone="error", ephemeral=True)
