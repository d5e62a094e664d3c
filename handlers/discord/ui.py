"""How a core `Reply` looks on Discord: an embed, a file, and buttons.

Split from the transport (handlers/discord_bot.py) so the rendering rules and
Discord's size limits live in one short module. Buttons are a `DynamicItem`:
discord.py routes any press whose custom_id matches the template to it, so
buttons keep working on old messages and after a restart.
"""

from __future__ import annotations

import io
import re
from typing import Any, Protocol

import discord

from handlers.chat.reply import Button, Reply

COLOURS = {
    "up": discord.Colour.green(),
    "down": discord.Colour.red(),
    "warn": discord.Colour.orange(),
    "error": discord.Colour.red(),
    "neutral": discord.Colour.blurple(),
}
MAX_ROWS, MAX_PER_ROW = 5, 5
EMBED_TOTAL, EMBED_DESCRIPTION = 6000, 4096
# custom_id = the core's callback data, or `<channel id>|<data>` when the button acts for
# a channel's chat (`dc:c:<id>`) rather than for the presser's own DM chat.
BUTTON_TEMPLATE = r"(?:(?P<channel>\d{1,20})\|)?(?P<data>[^|\d].{0,99})"


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_embed(reply: Reply) -> discord.Embed:
    """The reply as one embed within Discord's limits (lines that do not fit are counted)."""
    embed = discord.Embed(title=cut(reply.title, 256), colour=COLOURS[reply.tone])
    for name, value in reply.fields[:25]:
        embed.add_field(name=cut(name, 256), value=cut(value, 1024) or "—", inline=True)
    if reply.footer:
        embed.set_footer(text=cut(reply.footer, 2048))
    if reply.image:
        embed.set_image(url=f"attachment://{reply.image_name}")
    room = min(EMBED_DESCRIPTION, EMBED_TOTAL - len(embed)) - 40
    kept: list[str] = []
    used = 0
    for i, line in enumerate(reply.lines):
        if used + len(line) + 1 > room:
            kept.append(f"…and {len(reply.lines) - i} more")
            break
        kept.append(line)
        used += len(line) + 1
    embed.description = "\n".join(kept) or None
    return embed


class ButtonHandler(Protocol):
    """What a pressed button is handed to (the transport)."""

    async def on_button(
        self, interaction: discord.Interaction[Any], data: str, channel: int | None
    ) -> None: ...


class CoreButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=BUTTON_TEMPLATE
):
    """A button carrying the core's callback data; the client's `transport` answers it."""

    def __init__(self, data: str, label: str = "…", channel: int | None = None) -> None:
        custom_id = data if channel is None else f"{channel}|{data}"
        button: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=cut(label, 80), custom_id=custom_id, style=discord.ButtonStyle.secondary
        )
        super().__init__(button)
        self.data = data
        self.channel = channel

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CoreButton:
        channel = int(match["channel"]) if match["channel"] else None
        return cls(match["data"], getattr(item, "label", None) or "…", channel)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler: ButtonHandler | None = getattr(interaction.client, "transport", None)
        if handler is not None:
            await handler.on_button(interaction, self.data, self.channel)


def render_view(buttons: list[list[Button]], channel: int | None = None) -> discord.ui.View | None:
    """Rows of buttons (at most 5×5; more rows are packed 5 a row); duplicates dropped."""
    rows = buttons
    if len(rows) > MAX_ROWS or any(len(r) > MAX_PER_ROW for r in rows):
        flat = [b for row in rows for b in row]
        rows = [flat[i : i + MAX_PER_ROW] for i in range(0, len(flat), MAX_PER_ROW)]
    view = discord.ui.View(timeout=None)
    seen: set[str] = set()
    for n, row in enumerate(rows[:MAX_ROWS]):
        for b in row:
            if b.data not in seen:
                seen.add(b.data)
                item = CoreButton(b.data, b.label, channel)
                item.row = n
                view.add_item(item)
    return view if seen else None


def message_kwargs(reply: Reply, channel: int | None = None) -> dict[str, Any]:
    """Keyword arguments for `send`, `send_message` and `followup.send` (a fresh file each call).

    `channel`: the buttons act for that channel's chat instead of the presser's DM chat."""
    out: dict[str, Any] = {"embed": render_embed(reply)}
    view = render_view(reply.buttons, channel)
    if view is not None:
        out["view"] = view
    if reply.image:
        out["file"] = discord.File(io.BytesIO(reply.image), filename=reply.image_name)
    return out


def alert_text(
    symbol: str, condition: str, value: str, repeat: bool = False, expires: str | None = None
) -> str:
    """The text command for the /alert slash command's options (the core parses it)."""
    value = " ".join(value.split())
    if condition == "condition":
        pass  # the whole condition was typed: the core parses it
    elif condition == "percent":
        value = value.removesuffix("%")
        value = (value if value[:1] in "+-" else f"+{value}") + "%"
    else:
        value = f"{condition} {value}"
    parts = [f"/alert {symbol.strip()}", value]
    if repeat:
        parts.append("repeat")
    if expires:
        parts.append(f"for {expires.strip()}")
    return " ".join(parts)
