"""Issue 16 on Discord: condition alerts as /alert options, with grammar autocomplete."""

from __future__ import annotations

import pytest

from bot.app import App
from fakes.discord import FakeDiscord
from tests.discord.support import GENERAL, GUILD, TRADER, command, embed, option

pytestmark = pytest.mark.timeout(60)


async def suggest(fake: FakeDiscord, typed: str, condition: str = "condition") -> list[str]:
    focused = {**option("value", typed), "focused": True}
    iid = await fake.autocomplete("alert", [option("symbol", "LINK"),
                                            option("condition", condition), focused],
                                  user_id=TRADER, guild_id=GUILD, channel_id=GENERAL)  # fmt: skip
    return [c["value"] for c in (await fake.wait_for_callback(iid)).data["choices"]]


async def test_value_autocomplete_follows_the_grammar(fake: FakeDiscord, replay_app: App) -> None:
    assert "macd 4h crosses above signal" in await suggest(fake, "")
    frames = ("5m", "15m", "1h", "4h", "1d")
    assert await suggest(fake, "rsi14 ") == [f"rsi14 {tf}" for tf in frames]
    assert await suggest(fake, "macd 4h crosses above ") == ["macd 4h crosses above signal"]
    assert await suggest(fake, "above 15 and rs") == ["above 15 and rsi14"]
    assert await suggest(fake, "9.", condition="above") == []  # prices are not suggested


async def test_condition_alert_by_slash_command(fake: FakeDiscord, replay_app: App) -> None:
    rec = await command(fake, "alert", option("symbol", "LINK"), option("condition", "condition"),
                        option("value", "ema9 1h crosses above ema21"),
                        option("trigger", "intrabar"))  # fmt: skip
    title = embed(rec)["title"]
    assert title.startswith("✅ Alert #")
    assert "ema9 1h crosses above ema21 (intrabar, once per bar at most)" in title
    [alert] = await replay_app.alerts.list(f"dc:u:{TRADER}")
    assert alert.cond == "ema9 1h crosses above ema21 intrabar"
    bad = await command(fake, "alert", option("symbol", "LINK"), option("condition", "condition"),
                        option("value", "rsj 1h above 70"))  # fmt: skip
    assert "unknown indicator 'rsj'" in embed(bad)["title"]
