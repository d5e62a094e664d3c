"""Chat addresses: who owns alerts and where pushes go, as one value object.

A chat key is the string stored in alert records and Redis keys: `tg:<chat id>`
(Telegram; negative ids are groups), `dc:u:<user id>` (a Discord user's DMs),
`dc:c:<channel id>` (a Discord channel), `console:<name>` (the local console).
Parsing and building it happen here only, so no module splits keys by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from alerts.domain.errors import ChatUnreachable


class Transport(StrEnum):
    TELEGRAM = "tg"
    DISCORD = "dc"
    CONSOLE = "console"


class BadChatKey(ValueError):
    """The text is not a chat key this bot writes."""


@dataclass(frozen=True, slots=True)
class ChatAddress:
    """One chat: its transport, an optional kind (Discord `u`/`c`) and its id."""

    transport: Transport
    ident: str
    kind: str = ""

    @classmethod
    def telegram(cls, chat_id: int) -> ChatAddress:
        return cls(Transport.TELEGRAM, str(chat_id))

    @classmethod
    def discord_user(cls, user_id: int) -> ChatAddress:
        return cls(Transport.DISCORD, str(user_id), "u")

    @classmethod
    def discord_channel(cls, channel_id: int) -> ChatAddress:
        return cls(Transport.DISCORD, str(channel_id), "c")

    @classmethod
    def parse(cls, key: str) -> ChatAddress:
        """`tg:42`, `dc:u:7`, `dc:c:9`, `console:local` → the address; anything else raises."""
        head, _, rest = key.partition(":")
        try:
            transport = Transport(head)
        except ValueError:
            raise BadChatKey(f"unknown transport in chat key {key!r}") from None
        kind = ""
        if transport is Transport.DISCORD:
            kind, _, rest = rest.partition(":")
            if kind not in ("u", "c"):
                raise BadChatKey(f"not a Discord chat key: {key!r}")
        numeric = rest.lstrip("-").isdigit()
        if not rest or (transport is not Transport.CONSOLE and not numeric):
            raise BadChatKey(f"not a chat key: {key!r}")
        return cls(transport, rest, kind)

    @property
    def numeric_id(self) -> int | None:
        """The platform's integer id (None for the console)."""
        return int(self.ident) if self.ident.lstrip("-").isdigit() else None

    @property
    def is_group(self) -> bool:
        """Telegram groups have negative ids; Discord channels are shared too."""
        if self.transport is Transport.TELEGRAM:
            return self.ident.startswith("-")
        return self.kind == "c"

    def __str__(self) -> str:
        parts = [self.transport.value, *([self.kind] if self.kind else []), self.ident]
        return ":".join(parts)


def push_target(key: str, transport: Transport) -> tuple[ChatAddress, int]:
    """The address and platform id a transport pushes to; anything else is unreachable
    (a job with a broken chat key must be dead-lettered, not retried)."""
    try:
        address = ChatAddress.parse(key)
    except BadChatKey as exc:
        raise ChatUnreachable(str(exc)) from exc
    ident = address.numeric_id
    if address.transport is not transport or ident is None:
        raise ChatUnreachable(f"not a {transport.name.title()} chat key: {key!r}")
    return address, ident


COMMANDS_PER_MINUTE = 20  # per chat: one chat cannot flood the bot (or Redis)


class Admission(StrEnum):
    """The per-chat command budget's verdict."""

    ALLOW = "allow"
    REFUSE = "refuse"  # the first command over the limit: one refusal per window
    SILENT = "silent"  # every later one in the window: no reply at all


def transport_of(key: str) -> str:
    """The transport prefix of a chat key (`tg`), even for keys this version cannot parse."""
    return key.partition(":")[0]
