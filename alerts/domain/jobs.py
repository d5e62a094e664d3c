"""Delivery jobs: what the outbox streams carry, and the one codec for their fields.

Jobs are written by the engine's Lua scripts (fired and expired alerts: the scripts
get these field names in their generated header), by the signal fan-out and by the
digest scheduler, and read by the delivery workers. The field names, the kinds and
the priority classes live here only, so every writer and the one reader agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from alerts.domain.alert import Alert


class JobKind(StrEnum):
    FIRE = "fire"
    EXPIRED = "expired"
    SIGNAL = "signal"
    DIGEST = "digest"


class JobField(StrEnum):
    """Stream field names (short: a million jobs a day cost bytes in Redis)."""

    KIND = "t"
    ALERT_ID = "id"
    RECORD = "rec"  # the alert's packed record when it fired or expired
    VALUE = "v"  # the value that fired it ("" when expired)
    AT = "at"  # when the job was written (unix seconds)
    TICK_TS = "tick"  # the timestamp of the tick that caused it (delivery latency)
    CHAT = "chat"
    NAME = "name"  # a signal's name (`r2k`, …)
    EVENT = "event"  # a signal's event id
    TITLE = "title"
    BODY = "body"
    BUTTONS = "buttons"  # `Notice.buttons_field`
    DUE = "due"  # a digest's scheduled time
    HOOK = "wh"  # webhook jobs: the webhook's id
    HOOK_URL = "wurl"  # webhook jobs: the URL it goes to (checked again at send)
    HOOK_EVENT = "wev"  # webhook jobs: the event id, the same across retries
    HOOK_TYPE = "wt"  # webhook jobs: alert, signal or test
    ATTEMPT = "n"  # webhook jobs: which attempt this copy of the job is


@dataclass(frozen=True, slots=True)
class OutboxClass:
    """A priority class: its rank (0 goes first) and how many of its jobs a worker holds."""

    name: str
    rank: int
    read_ahead: int


PERSONAL = OutboxClass("personal", 0, 400)
DIGEST = OutboxClass("digest", 1, 100)
# ~1 s of Telegram's budget: enough to keep it busy, never thousands ahead in memory
BROADCAST = OutboxClass("broadcast", 2, 32)
CLASSES = (PERSONAL, DIGEST, BROADCAST)
# Webhook jobs have their own stream and worker (handlers/webhook), never a chat lane:
# `read_ahead` is the most webhook requests one worker holds (its budget).
WEBHOOK = OutboxClass("webhook", 3, 64)


@dataclass(frozen=True, slots=True)
class Notice:
    """A pushed message before any transport formats it."""

    title: str
    lines: list[str] = field(default_factory=list)
    buttons: tuple[tuple[str, str], ...] = ()

    def buttons_field(self) -> str:
        """The buttons as `label\tdata` lines, the way outbox jobs carry them."""
        return "\n".join(f"{label}\t{data}" for label, data in self.buttons)


def parse_buttons(text: str) -> list[tuple[str, str]]:
    """`Notice.buttons_field` read back; malformed lines are dropped."""
    out = []
    for line in text.splitlines():
        label, _, data = line.partition("\t")
        if label and data:
            out.append((label, data))
    return out


@dataclass(frozen=True, slots=True)
class Job:
    """One delivery job as read from a stream; `payload` keeps its raw fields."""

    job_id: str
    kind: JobKind
    chat: str
    alert: Alert | None = None
    value: float | None = None
    at: float = 0.0
    tick_ts: float = 0.0
    payload: dict[str, str] = field(default_factory=dict)
    cls: OutboxClass = PERSONAL
    tries: int = 1  # this read included: XPENDING's delivery count

    @classmethod
    def from_fields(
        cls, job_id: str, fields: dict[str, str], klass: OutboxClass = PERSONAL, tries: int = 1
    ) -> Job:
        """Decode a stream entry (raises on a malformed alert job: dead-lettered upstream)."""
        kind = JobKind(fields.get(JobField.KIND, JobKind.SIGNAL))
        if kind in (JobKind.FIRE, JobKind.EXPIRED):
            alert = Alert.unpack(int(fields[JobField.ALERT_ID]), fields[JobField.RECORD])
            raw = fields.get(JobField.VALUE)
            value = float(raw) if raw else None
            at, tick_ts = float(fields[JobField.AT]), float(fields[JobField.TICK_TS])
            return cls(job_id, kind, alert.chat, alert, value, at, tick_ts, fields, klass, tries)
        at = float(fields.get(JobField.AT, 0))
        chat = fields.get(JobField.CHAT, "")
        return cls(job_id, kind, chat, at=at, payload=fields, cls=klass, tries=tries)

    @property
    def notice(self) -> Notice:
        """A signal's or digest's message as it was queued."""
        lines = self.payload.get(JobField.BODY, "").splitlines()
        buttons = tuple(parse_buttons(self.payload.get(JobField.BUTTONS, "")))
        return Notice(self.payload.get(JobField.TITLE, "Signal"), lines, buttons)

    @property
    def mark_id(self) -> str:
        """Sent-mark name: stream ids repeat across streams, so other classes are qualified."""
        return self.job_id if self.cls is PERSONAL else f"{self.cls.name}:{self.job_id}"


def notice_fields(
    kind: JobKind, chat: str, notice: Notice, at: float, tick_ts: float, **extra: str
) -> dict[str, str]:
    """The stream fields of a signal or digest job (`extra`: name, event, due)."""
    fields = {
        JobField.KIND.value: kind.value,
        JobField.CHAT.value: chat,
        JobField.TITLE.value: notice.title,
        JobField.BODY.value: "\n".join(notice.lines),
        JobField.AT.value: repr(at),
        JobField.TICK_TS.value: repr(tick_ts),
    }
    if notice.buttons:
        fields[JobField.BUTTONS.value] = notice.buttons_field()
    fields.update(extra)
    return fields
