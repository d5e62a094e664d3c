"""What the command core returns: transport-neutral replies, buttons and user errors.

Transports (Telegram, Discord, console) only format these; they decide nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeVar

Tone = Literal["neutral", "up", "down", "warn", "error"]
CALLBACK_MAX_BYTES = 64  # Telegram's limit for callback_data; Discord custom_id allows 100


class UserError(Exception):
    """A problem the user can fix; `message` is shown to them as is."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


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


T = TypeVar("T")


def available(part: T | None, what: str) -> T:
    """A part the app may not have wired (e.g. a test or demo without it): say so politely."""
    if part is None:
        raise UserError(f"{what} are not available right now.")
    return part


def require_group_admin(req: Request, what: str) -> None:
    """Buttons bypass the core's command check, so state-changing callbacks call this."""
    if req.is_group and not req.is_admin:
        raise UserError(f"Only this group's admins can change its {what}.")


def error_reply(err: UserError) -> Reply:
    """The one way errors look everywhere."""
    lines = [err.hint] if err.hint else []
    return Reply(title=f"⚠️ {err.message}", lines=lines, tone="error", ephemeral=True)


class ChatUnreachable(Exception):
    """A permanent send failure (blocked, kicked, no rights, gone): dead-letter and pause."""


class DeliveryDeferred(Exception):
    """A transient send failure: retried with backoff a few times, then dead-lettered."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChatMoved(Exception):
    """The chat has a new id (a Telegram group became a supergroup): move it, resend there."""

    def __init__(self, new_chat: str) -> None:
        super().__init__(f"the chat moved to {new_chat}")
        self.new_chat = new_chat
