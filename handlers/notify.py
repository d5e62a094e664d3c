"""Rendering of pushed notifications (fired/expired alerts, signals) into replies.

The engine emits jobs; this turns one or several jobs for one chat into one
`Reply`, so a burst of alerts reaches a phone as one message.
"""

from __future__ import annotations

from alerts.model import Alert
from alerts.outbox import Job
from handlers import fmt
from handlers.alert_cmds import describe
from handlers.reply import Button, Reply

NOT_ADVICE = "Information, not advice: past patterns promise nothing."
MAX_BUTTON_ROWS = 5


def fired_line(alert: Alert, value: float | None, at: float) -> str:
    if alert.kind == "v":
        return f"#{alert.id} {alert.symbol}: 24h volume reached {value or 0:.2f}× its 30-day mean ({fmt.when(at)})"
    change = (
        ""
        if value is None or alert.ref <= 0
        else f"; {(value / alert.ref - 1) * 100:+.2f}% since set"
    )
    verb = "moved" if alert.kind == "m" else "crossed"
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


def render_jobs(jobs: list[Job]) -> Reply:
    """One reply for all jobs of one chat (coalesced)."""
    fired = [j for j in jobs if j.kind == "fire" and j.alert is not None]
    expired = [j for j in jobs if j.kind == "expired" and j.alert is not None]
    signals = [j for j in jobs if j.kind not in ("fire", "expired")]
    lines: list[str] = []
    buttons: list[list[Button]] = []
    for job in fired:
        assert job.alert is not None
        lines.append(("🔔 " if len(jobs) > 1 else "") + fired_line(job.alert, job.value, job.at))
        if len(buttons) < MAX_BUTTON_ROWS:
            buttons.append(_buttons(job.alert))
    for job in expired:
        assert job.alert is not None
        lines.append(
            f"⌛ Alert #{job.alert.id} ({job.alert.symbol} {describe(job.alert)}) expired and was removed."
        )
    for job in signals:
        lines.append(f"📣 {job.payload.get('title', 'Signal')}")
        lines.extend(job.payload.get("body", "").splitlines())
    if len(jobs) == 1 and fired:
        title = f"🔔 {fired[0].alert.symbol} alert"  # type: ignore[union-attr]
    elif len(jobs) == 1 and signals:
        title, lines = f"📣 {signals[0].payload.get('title', 'Signal')}", lines[1:]
    elif len(jobs) == 1:
        title = "⌛ Alert expired"
    else:
        title = f"🔔 {len(jobs)} notifications"
    return Reply(
        title, lines, footer=NOT_ADVICE, buttons=buttons, tone="up" if fired else "neutral"
    )
