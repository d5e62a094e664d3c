"""/webhook as a Discord slash command: rebuilt as the text command, refusals explained."""

from __future__ import annotations

from bot.app import App
from fakes.discord import FakeDiscord
from tests.discord.support import GUILD, command, embed, option


async def test_webhook_slash_command_refuses_http_and_lists_nothing(
    fake: FakeDiscord, replay_app: App
) -> None:
    spec = fake.command("webhook", GUILD)
    assert spec is not None
    assert [o["name"] for o in spec["options"]] == ["action", "url", "signals", "number"]
    refused = await command(
        fake, "webhook", option("action", "add"), option("url", "http://127.0.0.1/x")
    )
    assert "http:// URLs are refused — use https" in embed(refused)["title"]
    listed = await command(fake, "webhook", option("action", "list"))
    assert "No webhooks yet" in embed(listed)["title"]
