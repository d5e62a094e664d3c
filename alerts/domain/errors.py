"""Domain errors every layer may raise; chat transports decide how they look.

`UserError` is a problem the user can fix (its message is shown as is);
`ChatUnreachable` and `DeliveryDeferred` are the two outcomes of a failed send that
the outbox acts on (pause the chat / retry later).
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; `message` is shown to them as is."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ChatUnreachable(Exception):
    """A permanent send failure (blocked, kicked, no rights, gone): dead-letter and pause."""


class ChatMoved(Exception):
    """The chat has a new id (a Telegram group became a supergroup): move it, resend there."""

    def __init__(self, new_chat: str) -> None:
        super().__init__(f"the chat moved to {new_chat}")
        self.new_chat = new_chat


class DeliveryDeferred(Exception):
    """A transient send failure: retried with backoff a few times, then dead-lettered."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
