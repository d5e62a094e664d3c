"""What the outbox carries to a chat besides fired alerts: notices (signals, digests).

A `Notice` is a pushed message as data: a title, body lines and buttons as
(label, callback data) pairs. The chat core turns it into a `Reply`; the outbox
stores its buttons as `label<TAB>data` lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
