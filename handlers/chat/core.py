"""The transport-agnostic command core: parse → act → `Reply` (or `UserError`).

Feature modules declare their commands and button callbacks on a `Router`
(aiogram-style); the core merges the routers, validates input once, applies the
per-chat rate limit and turns every failure into a short, friendly reply: over the
limit a chat gets one refusal per window, then silence; when Redis cannot serve (down,
read-only, full) the user is told so, and the outage is logged once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from alerts.domain.chat import Admission
from alerts.domain.errors import UserError
from alerts.storage.outage import is_storage_outage
from handlers.chat.reply import Reply, Request, error_reply

log = logging.getLogger(__name__)

MAX_COMMAND_CHARS = 512

SLOW_DOWN = UserError(
    "Slow down a little: too many commands this minute.", "I'll answer again within a minute."
)
STORAGE_DOWN = UserError("Storage is unavailable right now; try again in a minute.")


CommandFn = Callable[[Any, Request, list[str]], Awaitable[Reply]]
CallbackFn = Callable[[Any, Request, list[str]], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command as users see it in /help and in the transports' menus."""

    name: str
    summary: str
    usage: str
    example: str
    handler: CommandFn
    operator_only: bool = False
    changes_state: bool = False


@dataclass
class Router:
    """Commands and callbacks of one feature module."""

    commands: dict[str, CommandSpec] = field(default_factory=dict)
    callbacks: dict[str, CallbackFn] = field(default_factory=dict)

    def command(
        self,
        name: str,
        summary: str,
        usage: str,
        example: str,
        *,
        operator_only: bool = False,
        changes_state: bool = False,
    ) -> Callable[[CommandFn], CommandFn]:
        def register(fn: CommandFn) -> CommandFn:
            self.commands[name] = CommandSpec(
                name, summary, usage, example, fn, operator_only, changes_state
            )
            return fn

        return register

    def callback(self, verb: str) -> Callable[[CallbackFn], CallbackFn]:
        def register(fn: CallbackFn) -> CallbackFn:
            self.callbacks[verb] = fn
            return fn

        return register


def split_command(text: str) -> tuple[str, list[str]] | None:
    """`/coin@altbot LINK` → (`coin`, [`LINK`]); None when the text is not a command."""
    text = text.strip()
    if not text.startswith("/"):
        return None
    head, *args = text.split()
    name = head[1:].split("@", 1)[0].lower()
    if not name or not name.isascii() or not name.replace("_", "").isalnum():
        raise UserError("That is not a command I know.", "Send /help for the list.")
    return name, args


class CommandCore:
    """Dispatches requests to the routers' handlers; `services` is what they act on."""

    def __init__(
        self,
        services: Any,
        routers: Sequence[Router],
        *,
        rate_limiter: Callable[[str], Awaitable[Admission]] | None = None,
        on_served: Callable[[Request], None] | None = None,
    ) -> None:
        self.services = services
        self.commands: dict[str, CommandSpec] = {}
        self.callbacks: dict[str, CallbackFn] = {}
        for router in routers:
            self.commands.update(router.commands)
            self.callbacks.update(router.callbacks)
        self._allow = rate_limiter
        self._on_served = on_served
        self.served = 0
        self._storage_down = False

    def menu(self) -> list[CommandSpec]:
        """Commands in declaration order, for menus and /help."""
        return list(self.commands.values())

    async def _guarded(self, req: Request, act: Callable[[], Awaitable[Reply]]) -> Reply | None:
        """Run a command within the chat's budget; None: over it and already told."""
        started = time.perf_counter()
        try:
            admission = Admission.ALLOW if self._allow is None else await self._allow(req.chat)
            if admission is not Admission.ALLOW:
                return error_reply(SLOW_DOWN) if admission is Admission.REFUSE else None
            reply = await act()
            self._storage_back()
        except UserError as err:
            reply = error_reply(err)
        except Exception as exc:
            if is_storage_outage(exc):
                if not self._storage_down:
                    log.error("storage unavailable, commands answer so: %s", exc)
                self._storage_down = True
                return error_reply(STORAGE_DOWN)
            log.exception("command failed: %r", req.text[:80])
            reply = error_reply(UserError("Something went wrong on our side; please try again."))
        self.served += 1
        if self._on_served is not None:
            self._on_served(req)
        log.debug("served %r in %.1f ms", req.text[:40], (time.perf_counter() - started) * 1000)
        return reply

    async def handle(self, req: Request) -> Reply | None:
        """Answer a text message; None when it is not a command (we stay quiet then)."""
        if len(req.text) > MAX_COMMAND_CHARS:
            if not req.text.lstrip().startswith("/"):
                return None
            return error_reply(UserError("That message is too long for a command."))
        try:
            parsed = split_command(req.text)
        except UserError as err:
            return error_reply(err)
        if parsed is None:
            return None
        name, args = parsed
        spec = self.commands.get(name)
        if spec is None:
            return error_reply(UserError(f"Unknown command /{name}.", "Send /help for the list."))
        if spec.operator_only and not self.services.is_operator(req):
            return error_reply(UserError("That command is for the bot's admins."))
        if spec.changes_state and req.is_group and not req.is_admin:
            return error_reply(
                UserError("Only this group's admins can change its alerts and subscriptions.")
            )
        return await self._guarded(req, lambda: spec.handler(self.services, req, args))

    def _storage_back(self) -> None:
        if self._storage_down:
            log.warning("storage answers again")
        self._storage_down = False

    async def handle_callback(self, req: Request, data: str) -> Reply:
        """Answer a button press; stale or forged data gets a polite answer.

        Over the budget every press still gets the refusal: it is a toast only the
        presser sees (Telegram), not a message in the chat.
        """
        verb, *args = data.split(":")
        fn = self.callbacks.get(verb)
        if fn is None or len(data) > 64:
            return error_reply(UserError("That button is no longer valid."))
        reply = await self._guarded(req, lambda: fn(self.services, req, args))
        return reply or error_reply(SLOW_DOWN)
