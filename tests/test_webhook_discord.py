"""/webhook as a Discord slash command: rebuilt as the text command, refusals explained."""

from __future__ import annotations

from bot.app import App
from fakes.discord import FakeDiscord
from tests.test_discord_transport import (  # the Discord fixtures live there
    GUILD,
    command,
    embed,
    fake,  # noqa: F401
    option,
    replay_app,  # noqa: F401
)


async def test_webhook_slash_command_refuses_http_and_lists_nothing(
    fake: FakeDiscord,  # noqa: F811
    replay_app: App,  # noqa: F811
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
