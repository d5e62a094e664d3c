"""Rendering of pushed notifications (fired/expired alerts, signals, digests) into replies.

The engine emits jobs; this turns one or several jobs for one chat into one
`Reply`, so a burst of alerts reaches a phone as one message.
"""

from __future__ import annotations

from collections import Counter

from alerts.domain import fmt
from alerts.domain.alert import Alert, AlertKind
from alerts.domain.jobs import Job, JobKind, Notice
from handlers.chat import condition_view
from handlers.chat.commands.alerts import describe
from handlers.chat.copy import DISCLAIMER
from handlers.chat.reply import CALLBACK_MAX_BYTES, Button, Reply

MAX_BUTTON_ROWS = 5
MAX_DETAILED_FIRED = 25  # more fired alerts in one message are summed up per symbol


def fired_line(alert: Alert, value: float | None, at: float, tick_ts: float = 0.0) -> str:
    if alert.cond:
        return condition_view.fired_line(alert, value, at, tick_ts)
    if alert.kind is AlertKind.VOLUME:
        ratio = f"{value or 0:.2f}× its 30-day mean"
        return f"#{alert.id} {alert.symbol}: 24h volume reached {ratio} ({fmt.when(at)})"
    change = (
        ""
        if value is None or alert.ref <= 0
        else f"; {(value / alert.ref - 1) * 100:+.2f}% since set"
    )
    verb = "moved" if alert.kind is AlertKind.MOVE else "crossed"
    now = "n/a" if value is None else fmt.price(value)
    return (
        f"#{alert.id} {alert.symbol} {verb} {describe(alert)} — now {now} at {fmt.when(at)}{change}"
    )


def _buttons(alert: Alert) -> list[Button]:
    if alert.repeat:
        return [
            Button(f"Delete #{alert.id}", f"del:{alert.id}"),
            Button("Snooze 1h", f"snz:{alert.id}"),
        ]
    return [Button(f"Re-arm #{alert.id}", f"rearm:{alert.id}")]


def _job_title(job: Job) -> str:
    """Digest titles carry their own icon; other signals get 📣."""
    title = job.notice.title
    return title if job.kind is JobKind.DIGEST else f"📣 {title}"


def notice_buttons(notice: Notice) -> list[Button]:
    """A notice's buttons; oversized callback data (an older job's) is dropped."""
    return [
        Button(label, data)
        for label, data in notice.buttons
        if len(data.encode()) <= CALLBACK_MAX_BYTES
    ]


def _more_fired(jobs: list[Job]) -> str:
    per_symbol = Counter(job.alert.symbol for job in jobs if job.alert is not None)
    listed = ", ".join(f"{symbol} ×{n}" for symbol, n in per_symbol.most_common())
    return f"…and {len(jobs)} more alerts fired: {listed}"


def render_jobs(jobs: list[Job]) -> Reply:
    """One reply for all jobs of one chat (coalesced)."""
    fired = [j for j in jobs if j.kind is JobKind.FIRE and j.alert is not None]
    expired = [j for j in jobs if j.kind is JobKind.EXPIRED and j.alert is not None]
    signals = [j for j in jobs if j.kind in (JobKind.SIGNAL, JobKind.DIGEST)]
    lines: list[str] = []
    buttons: list[list[Button]] = []
    for job in fired[:MAX_DETAILED_FIRED]:
        assert job.alert is not None
        lines.append(
            ("🔔 " if len(jobs) > 1 else "") + fired_line(job.alert, job.value, job.at, job.tick_ts)
        )
        if len(buttons) < MAX_BUTTON_ROWS:
            buttons.append(_buttons(job.alert))
    if len(fired) > MAX_DETAILED_FIRED:  # a burst stays one readable message
        lines.append(_more_fired(fired[MAX_DETAILED_FIRED:]))
    for job in expired:
        assert job.alert is not None
        lines.append(
            f"⌛ Alert #{job.alert.id} ({job.alert.symbol} {describe(job.alert)}) expired"
            " and was removed."
        )
    for job in signals:
        notice = job.notice
        lines.append(_job_title(job))
        lines.extend(notice.lines)
        if notice.buttons and len(buttons) < MAX_BUTTON_ROWS:
            buttons.append(notice_buttons(notice))
    if len(jobs) == 1 and fired:
        title = f"🔔 {fired[0].alert.symbol} alert"  # type: ignore[union-attr]
    elif len(jobs) == 1 and signals:
        title, lines = _job_title(signals[0]), lines[1:]
    elif len(jobs) == 1:
        title = "⌛ Alert expired"
    else:
        title = f"🔔 {len(jobs)} notifications"
    return Reply(
        title, lines, footer=DISCLAIMER, buttons=buttons, tone="up" if fired else "neutral"
    )
