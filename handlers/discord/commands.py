"""Discord's slash commands: names, options and choices, each rebuilt as a text command.

Split from the transport (handlers/discord/transport.py) so the command surface Discord
shows users lives in one short module; the transport answers them through the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from alerts.storage.subscriptions import SIGNALS
from handlers.chat.commands.charts import RANGES
from handlers.discord.ui import alert_text, cut

if TYPE_CHECKING:
    from handlers.discord.transport import DiscordTransport

Choice = app_commands.Choice
CONDITIONS = [
    Choice(name="above a price", value="above"),
    Choice(name="below a price", value="below"),
    Choice(name="percent from now (+40, -20)", value="percent"),
    Choice(name="move within a window (5% 1h)", value="move"),
    Choice(name="24h volume multiple (3x)", value="volume"),
    Choice(name="indicator, cross, market cap or several joined by and", value="condition"),
]
TRIGGER_CHOICES = [
    Choice(name="on bar close (default)", value="on close"),
    Choice(name="intrabar (every tick, at most once per bar)", value="intrabar"),
]
SIGNAL_CHOICES = [Choice(name="all signals", value="all")] + [
    Choice(name=cut(f"{name}: {what}", 100), value=name) for name, what in SIGNALS.items()
]
RANGE_CHOICES = [Choice(name=r, value=r) for r in RANGES]
WEBHOOK_ACTIONS = [Choice(name=a, value=a) for a in ("add", "list", "remove", "test")]


def register_commands(tree: app_commands.CommandTree[Any], t: DiscordTransport) -> None:
    """The slash commands; each builds a text command (names and types: the Discord API)."""

    def summary(name: str, fallback: str) -> str:
        spec = t.core.commands.get(name)
        return cut(spec.summary if spec else fallback, 100)

    @tree.command(name="coin", description=summary("coin", "Price and 24h change"))
    @app_commands.describe(symbol="Coin, e.g. LINK")
    async def coin(interaction: discord.Interaction, symbol: str) -> None:
        await t.run(interaction, f"/coin {symbol}")

    @tree.command(name="regime", description=summary("regime", "The R2K regime"))
    async def regime(interaction: discord.Interaction) -> None:
        await t.run(interaction, "/regime", slow=True)

    @tree.command(name="alert", description=summary("alert", "Set an alert"))
    @app_commands.describe(
        symbol="Coin, e.g. LINK",
        condition="What to watch for",
        value="9.5 · +40 · 5% 1h · 3x · or a condition: rsi14 1h above 70 (suggestions)",
        repeat="Fire again after a cooldown instead of once",
        expires="Remove the alert after this long, e.g. 7d",
        trigger="Indicator conditions: on bar close (default) or intrabar",
    )
    @app_commands.choices(condition=CONDITIONS, trigger=TRIGGER_CHOICES)
    async def alert(
        interaction: discord.Interaction,
        symbol: str,
        condition: Choice[str],
        value: str,
        repeat: bool = False,
        expires: str | None = None,
        trigger: Choice[str] | None = None,
    ) -> None:
        text = alert_text(symbol, condition.value, value, repeat, expires)
        if trigger is not None:
            text += f" {trigger.value}"
        await t.run(interaction, text, personal=True)

    @tree.command(name="alerts", description=summary("alerts", "List your alerts"))
    async def alerts(interaction: discord.Interaction) -> None:
        await t.run(interaction, "/alerts", personal=True)

    @tree.command(name="delete", description=summary("delete", "Delete an alert"))
    @app_commands.describe(id="The alert's number (see /alerts), or all")
    async def delete(interaction: discord.Interaction, id: str) -> None:
        await t.run(interaction, f"/delete {id}", personal=True)

    @tree.command(name="webhook", description=summary("webhook", "Your webhooks"))
    @app_commands.describe(
        action="add, list, remove or test",
        url="https URL to add",
        signals="Send signals too, not only alerts (add)",
        number="Which webhook to remove (see list)",
    )
    @app_commands.choices(action=WEBHOOK_ACTIONS)
    async def webhook(
        interaction: discord.Interaction,
        action: Choice[str],
        url: str | None = None,
        signals: bool = False,
        number: int | None = None,
    ) -> None:
        parts = ["/webhook", action.value, url or "", "signals" if signals else ""]
        parts.append(str(number) if number is not None and action.value == "remove" else "")
        await t.run(interaction, " ".join(p for p in parts if p), personal=True)

    @tree.command(name="chart", description=summary("chart", "A price chart"))
    @app_commands.describe(symbol="Coin (e.g. LINK), R2K or regime", range="Time range")
    @app_commands.choices(range=RANGE_CHOICES)
    async def chart(
        interaction: discord.Interaction, symbol: str, range: Choice[str] | None = None
    ) -> None:
        text = f"/chart {symbol} {range.value if range else ''}".strip()
        await t.run(interaction, text, slow=True)

    @tree.command(name="help", description=summary("help", "Every command"))
    async def help_(interaction: discord.Interaction) -> None:
        await t.run(interaction, "/help")

    @tree.command(name="start", description=summary("start", "What altbot does"))
    @app_commands.describe(channel="Resume a paused channel (needs Manage Server)")
    async def start(
        interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        await t.for_channel_or_dm(interaction, "/start", channel)

    for verb, what in (("subscribe", "Get signals"), ("unsubscribe", "Stop signals")):
        tree.add_command(subscription_command(t, verb, summary(verb, what)))
    for command in (coin, alert, chart):
        command.autocomplete("symbol")(t.complete_symbol)
    delete.autocomplete("id")(t.complete_alert)
    alert.autocomplete("value")(t.complete_condition)


def subscription_command(
    t: DiscordTransport, verb: str, description: str
) -> app_commands.Command[Any, ..., None]:
    """/subscribe or /unsubscribe: a signal choice, and optionally a channel."""

    @app_commands.command(name=verb, description=description)
    @app_commands.describe(
        signal="Which signal (empty: all)",
        channel="Post in this channel (needs Manage Server); empty: by DM to you",
    )
    @app_commands.choices(signal=SIGNAL_CHOICES)
    async def command(
        interaction: discord.Interaction,
        signal: Choice[str] | None = None,
        channel: discord.TextChannel | None = None,
    ) -> None:
        text = f"/{verb} {signal.value if signal else ''}".strip()
        await t.for_channel_or_dm(interaction, text, channel)

    return command
