"""Webhook use cases behind /webhook: add (the URL checked first), list, remove, test.

The URL check is injected: it parses the URL and resolves its host with the same
resolver and address policy the sender applies at every send (handlers/webhook).
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from alerts.domain.errors import UserError
from alerts.storage.webhooks import Webhook, WebhookExists, WebhookFull, Webhooks

UrlCheck = Callable[[str], Awaitable[str]]  # raw URL -> the URL to store, or WebhookRefused


class WebhookService:
    """What a chat can do with its webhooks."""

    def __init__(self, webhooks: Webhooks, check_url: UrlCheck, clock: Callable[[], float]):
        self.webhooks = webhooks
        self.check_url = check_url
        self.clock = clock

    @property
    def limit(self) -> int:
        return self.webhooks.limit

    async def add(self, chat: str, raw_url: str, *, signals: bool) -> Webhook:
        url = await self.check_url(raw_url)
        try:
            return await self.webhooks.add(chat, url, signals=signals, now=self.clock())
        except WebhookFull:
            raise UserError(
                f"This chat already has {self.limit} webhooks, the most it can.",
                "Remove one with /webhook remove N (see /webhook list).",
            ) from None
        except WebhookExists:
            raise UserError("That URL is already one of this chat's webhooks.") from None

    async def of(self, chat: str) -> list[Webhook]:
        return await self.webhooks.of(chat)

    async def remove(self, chat: str, hook_id: int) -> Webhook:
        gone = await self.webhooks.remove(chat, hook_id)
        if gone is None:
            raise UserError("That webhook is already removed.", "See /webhook list.")
        return gone

    async def test(self, chat: str) -> list[Webhook]:
        """Queue one signed `test` event to every active webhook of the chat."""
        hooks = await self.webhooks.queue_test(chat, secrets.token_hex(6), self.clock())
        if not hooks:
            raise UserError("This chat has no active webhook.", "Add one with /webhook add URL.")
        return hooks
