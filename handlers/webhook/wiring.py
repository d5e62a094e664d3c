"""The webhook parts the App owns, built in one place: store, guarded sender, worker, use case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp.abc import AbstractResolver

from alerts.storage.dead_letters import DeadLetters
from alerts.storage.keys import Keys
from alerts.storage.outbox import consumer_name
from alerts.storage.webhook_queue import WebhookQueue
from alerts.storage.webhooks import Webhooks
from alerts.usecases.webhooks import WebhookService
from handlers.webhook.sender import WebhookSender
from handlers.webhook.worker import WebhookWorker


@dataclass(frozen=True, slots=True)
class WebhookParts:
    webhooks: Webhooks
    worker: WebhookWorker
    service: WebhookService


def build_webhooks(
    redis: Any,
    keys: Keys,
    dead: DeadLetters,
    *,
    resolver: AbstractResolver | None,
    allow_private: bool,
    allow_http: bool,
    exchange: str,
    claim_idle_ms: int,
    clock: Callable[[], float],
) -> WebhookParts:
    """`resolver` is DNS (the network edge): tests pass one, production uses aiohttp's."""
    sender = WebhookSender(resolver, allow_private=allow_private, allow_http=allow_http)
    webhooks = Webhooks(redis, keys)
    queue = WebhookQueue(redis, keys, consumer_name(), dead)
    worker = WebhookWorker(
        queue, webhooks, sender, exchange=exchange, claim_idle_ms=claim_idle_ms, clock=clock
    )
    return WebhookParts(webhooks, worker, WebhookService(webhooks, sender.check_url, clock))
