"""A chat's webhooks (at most three), their failure counts, and the fan-out of its jobs.

Fan-out happens where the delivery worker reads a chat's jobs (`WebhookFanout` is its
`fanout` hook): every fired alert, and every signal when the webhook opted in, becomes
one job per active webhook on `P:outbox:webhook`. One script claims the job's fan-out
mark (SET NX) and writes the webhook jobs together, so a job read again (a crash, a
retry, a reclaim) never fans out twice, and the chat message failing changes nothing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from alerts.domain.jobs import BROADCAST, Job, JobField, JobKind, Notice, notice_fields
from alerts.domain.webhooks import MAX_WEBHOOKS_PER_CHAT
from alerts.storage.keys import WEBHOOK_FANOUT_TTL_SECONDS, Keys
from alerts.storage.scripts import load_lua

SECRET_BYTES = 24  # 32 URL-safe characters


@dataclass(frozen=True, slots=True)
class Webhook:
    """One webhook; `number` is its place in the chat's list (1..3), `id` is forever."""

    id: int
    number: int
    url: str
    secret: str
    signals: bool
    created: float
    failures: int = 0
    disabled: str | None = None


class WebhookFull(Exception):
    """The chat has its maximum of webhooks."""


class WebhookExists(Exception):
    """That URL is already one of the chat's webhooks."""


def event_base(job: Job) -> str:
    """The stable part of a webhook event id: which outbox job it came from."""
    return ("s" if job.kind is JobKind.SIGNAL else "a") + job.job_id


class Webhooks:
    """Adds, lists, removes webhooks and counts their failures."""

    def __init__(self, redis: Any, keys: Keys, *, limit: int = MAX_WEBHOOKS_PER_CHAT) -> None:
        self.redis = redis
        self.keys = keys
        self.limit = limit
        self._add = redis.register_script(load_lua("webhook_add"))
        self._fail = redis.register_script(load_lua("webhook_fail"))

    async def add(self, chat: str, url: str, *, signals: bool, now: float) -> Webhook:
        """Store a new webhook with a fresh secret (raises WebhookFull / WebhookExists)."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        record = json.dumps({"url": url, "secret": secret, "signals": signals, "created": now})
        keys = [self.keys.webhooks(chat), self.keys.webhook_seq]
        got = int(await self._add(keys=keys, args=[self.limit, record, url]))
        if got == -1:
            raise WebhookFull(chat)
        if got == -2:
            raise WebhookExists(url)
        hooks = await self.of(chat)
        return next(h for h in hooks if h.id == got)

    async def of(self, chat: str) -> list[Webhook]:
        """The chat's webhooks, oldest first, numbered 1..n."""
        raw: dict[str, str] = await self.redis.hgetall(self.keys.webhooks(chat))
        ids = sorted(int(name) for name in raw if name.isdigit())
        out = []
        for number, hook_id in enumerate(ids, start=1):
            try:
                rec = json.loads(raw[str(hook_id)])
                out.append(
                    Webhook(
                        hook_id, number, str(rec["url"]), str(rec["secret"]),
                        bool(rec.get("signals")), float(rec.get("created", 0)),
                        int(raw.get(f"{hook_id}:fail", 0)), raw.get(f"{hook_id}:off"),
                    )
                )  # fmt: skip
            except (ValueError, KeyError, TypeError):
                continue  # a damaged record is left for an operator; the others still work
        return out

    async def get(self, chat: str, hook_id: int) -> Webhook | None:
        return next((h for h in await self.of(chat) if h.id == hook_id), None)

    async def remove(self, chat: str, hook_id: int) -> Webhook | None:
        """Remove a webhook of the chat; its queued jobs are dead-lettered unsent."""
        hook = await self.get(chat, hook_id)
        if hook is None:
            return None
        names = [str(hook.id), f"{hook.id}:fail", f"{hook.id}:off"]
        removed = await self.redis.hdel(self.keys.webhooks(chat), *names)
        return hook if removed else None

    async def succeeded(self, chat: str, hook_id: int) -> None:
        """A delivery worked: the failures-in-a-row count starts again."""
        await self.redis.hdel(self.keys.webhooks(chat), f"{hook_id}:fail")

    async def failed(
        self, chat: str, hook_id: int, limit: int, notice: Notice, now: float
    ) -> tuple[int, bool]:
        """Count a failure; returns (failures in a row, disabled by this one). The chat is
        told once, through its personal outbox, when the webhook is disabled."""
        fields = notice_fields(JobKind.SIGNAL, chat, notice, now, now, name="webhook")
        flat = [item for pair in fields.items() for item in pair]
        keys = [self.keys.webhooks(chat), self.keys.outbox]
        why = f"{limit} failed deliveries in a row"
        got = int(await self._fail(keys=keys, args=[hook_id, limit, why, *flat]))
        return abs(got), got < 0

    async def queue_test(self, chat: str, nonce: str, now: float) -> list[Webhook]:
        """One `test` event per active webhook of the chat; returns the webhooks."""
        hooks = [h for h in await self.of(chat) if h.disabled is None]
        pipe = self.redis.pipeline(transaction=False)
        for hook in hooks:
            fields = {
                JobField.KIND.value: JobKind.SIGNAL.value, JobField.CHAT.value: chat,
                JobField.TITLE.value: "test event from /webhook test",
                JobField.AT.value: repr(now), JobField.TICK_TS.value: repr(now),
                JobField.HOOK.value: str(hook.id), JobField.HOOK_TYPE.value: "test",
                JobField.HOOK_URL.value: hook.url,
                JobField.HOOK_EVENT.value: f"t{nonce}-w{hook.id}", JobField.ATTEMPT.value: "1",
            }  # fmt: skip
            pipe.xadd(self.keys.outbox_webhook, fields)
        await pipe.execute()
        return hooks


class WebhookFanout:
    """The delivery worker's hook: fired alerts and signals of chats with webhooks become
    webhook jobs, once per job (see the module docstring)."""

    def __init__(self, redis: Any, keys: Keys) -> None:
        self.keys = keys
        self._script = redis.register_script(load_lua("webhook_fanout"))

    async def __call__(self, jobs: list[Job]) -> int:
        """Returns how many webhook jobs were written."""
        args: list[str | int] = [
            self.keys.webhooks_prefix, self.keys.webhook_fanout_prefix,
            WEBHOOK_FANOUT_TTL_SECONDS, self.keys.outbox_webhook,
        ]  # fmt: skip
        wanted = 0
        for job in jobs:
            signal = job.kind is JobKind.SIGNAL and job.cls is BROADCAST
            if job.kind is not JobKind.FIRE and not signal:
                continue
            fields = {k: v for k, v in job.payload.items() if k not in SKIPPED}
            args += [job.chat, job.mark_id, event_base(job), "1" if signal else "0", len(fields)]
            args += [item for pair in fields.items() for item in pair]
            wanted += 1
        if not wanted:
            return 0
        return int(await self._script(keys=[], args=args))


SKIPPED = frozenset({JobField.CHAT.value, JobField.BUTTONS.value})
